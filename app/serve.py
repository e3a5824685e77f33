"""`python -m app.serve APP [uvicorn options]`: refuse a bad configuration, then run uvicorn.

With `--workers N` uvicorn's supervisor imports the application only in its workers and exits 0
when one of them fails to start, so `app.main`'s own refusal (exit code 3) would be lost. The
settings are checked here first, before any worker exists: one line on stderr and exit code 3
under any worker count. Every argument goes to uvicorn's own command line unchanged.
"""

import sys

from app.config import ConfigError, load_settings


def main(argv: list[str]) -> int:
    try:
        load_settings()
    except ConfigError as exc:
        sys.stderr.write(f"refusing to start: {exc}\n")
        return 3
    from uvicorn.main import main as uvicorn_cli

    uvicorn_cli.main(args=argv, prog_name="uvicorn")  # exits with uvicorn's own code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
