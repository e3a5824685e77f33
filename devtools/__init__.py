"""Development tools shared by the tests, the benchmark and the scripts (never imported by app/)."""
