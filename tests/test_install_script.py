"""`./scripts/run` installs only when the checkout's pyproject.toml differs from what was
installed, so that every later start is quick and works offline.

The scripts run for real on a copy of the checkout whose .venv holds a stand-in for pip: it
records each call, and no network is needed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
BASH = shutil.which("bash") or "/bin/bash"

FAKE_PYTHON = """#!/usr/bin/env bash
# pip is recorded (and installs a stand-in command); anything else is the real Python.
if [ "${{1:-}}" = "-m" ] && [ "${{2:-}}" = "pip" ]; then
    echo "$*" >>"{calls}"
    [ -f "{venv}/pip-fails" ] && exit 1
    printf '#!/bin/sh\\necho bot started\\n' >"{venv}/bin/seedance-bot"
    chmod +x "{venv}/bin/seedance-bot"
    exit 0
fi
exec "{python}" "$@"
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the scripts and pyproject.toml, with a .venv whose pip is a stand-in."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    for name in ("install", "run"):
        shutil.copy2(ROOT / "scripts" / name, root / "scripts" / name)
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    venv = root / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text(f'PATH="{venv}/bin:$PATH"; export PATH\n')
    python = venv / "bin" / "python"
    python.write_text(
        FAKE_PYTHON.format(calls=tmp_path / "pip-calls", venv=venv, python=sys.executable)
    )
    python.chmod(0o755)
    return root


def run(checkout: Path, script: str = "run", *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own scripts
        [BASH, str(checkout / "scripts" / script), *args],
        env={"PATH": "/usr/bin:/bin", "HOME": str(checkout)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def pip_calls(checkout: Path) -> list[str]:
    calls = checkout.parent / "pip-calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_the_second_start_does_not_call_pip(checkout: Path) -> None:
    first = run(checkout)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "bot started\n"
    assert pip_calls(checkout) == ["-m pip install --quiet -e ."]
    assert "Installing seedance-bot" in first.stderr

    second = run(checkout)
    assert second.returncode == 0, second.stderr
    assert second.stdout == "bot started\n"
    assert second.stderr == ""
    assert len(pip_calls(checkout)) == 1


def test_a_changed_pyproject_installs_again(checkout: Path) -> None:
    run(checkout)
    with (checkout / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n# a new dependency would be here\n")
    assert run(checkout).returncode == 0
    assert len(pip_calls(checkout)) == 2
    run(checkout)
    assert len(pip_calls(checkout)) == 2


def test_a_failed_install_is_tried_again_next_time(checkout: Path) -> None:
    (checkout / ".venv" / "pip-fails").touch()
    failed = run(checkout)
    assert failed.returncode != 0
    assert "bot started" not in failed.stdout
    (checkout / ".venv" / "pip-fails").unlink()
    assert run(checkout).returncode == 0
    assert len(pip_calls(checkout)) == 2


def test_the_test_extras_serve_a_plain_run_but_not_the_reverse(checkout: Path) -> None:
    assert run(checkout, "install", "test").returncode == 0
    assert run(checkout).returncode == 0
    assert pip_calls(checkout) == ["-m pip install --quiet -e .[test]"]
    (checkout / ".venv" / ".seedance-bot-installed").unlink()
    run(checkout)
    run(checkout, "install", "test")
    assert pip_calls(checkout)[1:] == [
        "-m pip install --quiet -e .",
        "-m pip install --quiet -e .[test]",
    ]
