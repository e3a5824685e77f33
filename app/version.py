"""The service's version: the one in pyproject.toml, which the CHANGELOG and the git tag name."""

import tomllib
from functools import cache
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@cache
def service_version() -> str:
    """Read once, on first use (never at import time); the image copies pyproject.toml too."""
    with PYPROJECT.open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])
