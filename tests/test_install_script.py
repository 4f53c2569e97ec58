"""``scripts/install.sh``: what ``make run`` and ``make test`` do first on a fresh clone.

Installs the ``demo`` extra into a new virtualenv under a temporary directory, through
the same script, constraints and uv cache as the project's own ``.venv``: the venv is
made without ensurepip, uv comes from the machine's pip, and uv brings the pinned pip and
setuptools (MLflow writes their versions into every model's environment files). A second call with
nothing changed installs nothing; a changed dependency list installs again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[1]
INSTALL_TIMEOUT_S = 600
VERSIONS_OF_THE_DEMO_SET = (
    "from importlib.metadata import version\n"
    "for name in ('django', 'mlflow', 'boto3', 'setuptools'): print(name, '=', version(name))"
)


def pinned_version(tool: str) -> str:
    script = (BASE_DIR / "scripts" / "install.sh").read_text()
    return re.search(rf"^{tool}_version=(\S+)$", script, re.MULTILINE).group(1)


def run_install(checkout: Path, venv: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "VENV": str(venv)}
    return subprocess.run(
        ["sh", "scripts/install.sh", "demo"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
    )


@pytest.fixture
def checkout(tmp_path) -> Path:
    """The files the install reads, copied: a change to them must not touch the real ones."""
    root = tmp_path / "checkout"
    root.mkdir()
    for name in ("pyproject.toml", "constraints.txt", "README.md"):
        shutil.copy(BASE_DIR / name, root / name)
    shutil.copytree(BASE_DIR / "scripts", root / "scripts")
    for package in ("catalog", "smartmaint_site", "demo"):
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("")
    return root


@pytest.mark.slow
def test_a_fresh_venv_gets_uv_the_pinned_pip_and_the_extra_once(checkout, tmp_path):
    venv = tmp_path / "venv"

    first = run_install(checkout, venv)

    assert first.returncode == 0, first.stdout + first.stderr
    assert "creating" in first.stdout and "installing the demo dependencies (uv)" in first.stdout
    pip = subprocess.run(
        [venv / "bin" / "pip", "--version"], capture_output=True, text=True, check=True
    )
    assert pip.stdout.split()[1] == pinned_version("pip")
    # Installed, not imported: importing mlflow in a venv without bytecode costs seconds.
    found = subprocess.run(
        [venv / "bin" / "python", "-c", VERSIONS_OF_THE_DEMO_SET],
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0 and found.stdout.count("=") == 4, found.stderr
    # MLflow writes it into every model's environment files: the demo world depends on it.
    assert f"setuptools = {pinned_version('setuptools')}" in found.stdout
    assert (venv / ".installed-demo").read_text().strip()

    again = run_install(checkout, venv)
    assert again.returncode == 0 and again.stdout == ""

    with (checkout / "constraints.txt").open("a") as constraints:
        constraints.write("# a changed dependency list\n")
    changed = run_install(checkout, venv)
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert "installing the demo dependencies (uv)" in changed.stdout
    assert "creating" not in changed.stdout
