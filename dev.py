#!/usr/bin/env python3
"""Run the service or the tests from a fresh clone, with nothing but Python and pip.

    python3 dev.py serve    # the API on http://127.0.0.1:8000, embedded database, demo data
    python3 dev.py test     # the whole test suite
    python3 dev.py bench    # the search benchmark (bench/search.py)
    python3 dev.py bench-export   # the export benchmark (bench/export.py)
    python3 dev.py bench-load     # load, and with --fault the database killed (bench/load.py)

The first call makes `.venv/` and installs the project into it; later calls reinstall only when
pyproject.toml has changed. Extra arguments go to the command (pytest, homestay serve, ...).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".homestay-installed"

if sys.version_info < (3, 11):
    sys.exit(f"homestay needs Python 3.11 or newer; this is {sys.version.split()[0]}")


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_installed() -> None:
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    if not (BIN / "python").exists():
        print("creating .venv ...", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    print("installing homestay and its dependencies into .venv ...", file=sys.stderr)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(_fingerprint())


COMMANDS = {
    "serve": lambda args: [str(BIN / "homestay"), "serve", "--demo", *args],
    "test": lambda args: [str(BIN / "python"), "-m", "pytest", *args],
    "bench": lambda args: [str(BIN / "python"), str(ROOT / "bench" / "search.py"), *args],
    "bench-export": lambda args: [str(BIN / "python"), str(ROOT / "bench" / "export.py"), *args],
    "bench-load": lambda args: [str(BIN / "python"), str(ROOT / "bench" / "load.py"), *args],
    "schema": lambda args: [str(BIN / "homestay"), "export-schema", *args],
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ensure_installed()
    command = COMMANDS[sys.argv[1]](sys.argv[2:])
    os.chdir(ROOT)
    # exec, so that Ctrl-C and SIGTERM reach the service itself and it can stop its database
    os.execv(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
