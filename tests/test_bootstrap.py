"""The first run on a stock OS: `make` with only Python and make on PATH, no uv, no usable pip.

A copy of the tracked files runs `make install` with a PATH that holds python3, make and
stand-ins for `pip`/`pip3` that record any call and fail. The Makefile must install uv into its
private `.bootstrap/` venv (with that venv's pip, never the machine's), sync the locked
dependencies, and then `make -s token` must work. It downloads uv from PyPI, hence `slow`.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.service_process import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.process]


def tracked_copy(dest: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def system_python() -> str:
    """The OS's own python3 when it has one (externally managed on Debian), else this one."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if Path(candidate).exists():
            return candidate
    return sys.executable


def system_packages() -> list[str]:
    """What the OS's Python has installed: the bootstrap must leave it as it was."""
    listed = subprocess.run(
        [
            system_python(),
            "-c",
            "import sysconfig, os; p = sysconfig.get_paths()['purelib'];"
            " print(sorted(os.listdir(p)) if os.path.isdir(p) else [])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


def restricted_bin(tmp: Path) -> Path:
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(system_python())
    make = shutil.which("make")
    assert make is not None
    (bin_dir / "make").symlink_to(make)
    for name in ("pip", "pip3"):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\necho "$0 $*" >> {tmp / "machine-pip-called"}\nexit 1\n')
        shim.chmod(0o755)
    return bin_dir


def test_make_install_bootstraps_uv_without_the_machines_pip(tmp_path: Path) -> None:
    project = tmp_path / "project"
    tracked_copy(project)
    bin_dir = restricted_bin(tmp_path)
    env = {
        "PATH": str(bin_dir),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        # The machine's uv cache, so the locked wheels are not downloaded again.
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv")),
        "LANG": "C.UTF-8",
    }
    # The machine's own TLS trust where it sets one (e.g. a proxy's CA), so uv can fetch what its
    # cache lacks (this Python needs `async-timeout` for redis, which a newer one does not).
    env.update({k: os.environ[k] for k in ("SSL_CERT_FILE", "SSL_CERT_DIR") if k in os.environ})
    assert shutil.which("uv", path=env["PATH"]) is None
    before = system_packages()

    installed = subprocess.run(
        ["make", "install"], cwd=project, env=env, capture_output=True, text=True, timeout=600
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "uv not found on PATH: installing it into .bootstrap/" in installed.stdout
    assert (project / ".bootstrap" / "bin" / "uv").exists()
    assert (project / ".venv").is_dir()
    assert not (tmp_path / "machine-pip-called").exists()
    assert system_packages() == before

    token = subprocess.run(
        ["make", "-s", "token"], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )
    assert token.returncode == 0, token.stderr
    assert token.stdout.strip().count(".") == 2

    # The second run finds the bootstrapped uv and says nothing about installing it.
    again = subprocess.run(
        ["make", "install"], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    assert "installing" not in again.stdout
