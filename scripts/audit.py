"""Audit the locked runtime dependencies with pip-audit.

Accepted findings are listed in ACCEPTED with the reason they do not apply. When the vulnerability
service cannot be reached (an offline build machine), the audit says so loudly and exits 0 unless
AUDIT_REQUIRED=1, so an offline CI is not mistaken for a clean audit.
"""

import os
import subprocess
import sys
import tempfile

# Nothing accepted: the ecdsa timing finding (GHSA-wj6h-64fc-37mp) came with python-jose, which
# only the tests and the benchmark's reference app use now (the service verifies with PyJWT).
ACCEPTED: dict[str, str] = {}


def main() -> int:
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as requirements:
        subprocess.run(
            ["uv", "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "-q"],
            stdout=requirements,
            check=True,
        )
        command = ["pip-audit", "-r", requirements.name, "--no-deps", "--disable-pip"]
        command += ["--progress-spinner", "off"]
        for vuln in ACCEPTED:
            command += ["--ignore-vuln", vuln]
        result = subprocess.run(command, capture_output=True, text=True)
    output = result.stdout + result.stderr
    sys.stdout.write(output)
    unreachable = "could not be audited" in output and "Found" not in output
    if unreachable:
        sys.stdout.write(
            "\nAUDIT NOT PERFORMED: the vulnerability service could not be reached from this "
            "machine.\nRun `make audit` where PyPI's JSON API is reachable.\n"
        )
        return 1 if os.environ.get("AUDIT_REQUIRED") == "1" else 0
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
