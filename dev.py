#!/usr/bin/env python3
"""Run the service or the tests from a fresh clone, with nothing but Python and pip.

    python3 dev.py serve    # the API on http://127.0.0.1:8000, embedded database, demo data
    python3 dev.py test     # the whole test suite
    python3 dev.py bench    # the search benchmark (bench/search.py)
    python3 dev.py bench-export   # the export benchmark (bench/export.py)
    python3 dev.py bench-load     # load, and with --fault the database killed (bench/load.py)
    python3 dev.py bench-instructions  # instructions a request, counted by callgrind
    python3 dev.py bench-profile search-5km  # where a request's CPU goes (cProfile)
    python3 dev.py bench-forked   # what forked workers hold beside their parent, 1,000,000 stays
    python3 dev.py bench-hostile  # small hostile documents, and /healthz meanwhile
    python3 dev.py bench-doorway  # the plaque's verification page, known and unknown numbers
    python3 dev.py bench-changes  # one change to the stay index, then the next searches

The first call makes `.venv/` and installs the project into it, at the versions and hashes of
requirements.lock (the tested set), with uv (seconds) or, where uv cannot be had, pip; later
calls reinstall only when pyproject.toml or the lock has changed. Extra arguments go to the
command (pytest, homestay serve, ...).

`test` without arguments lints the tree and checks its format (ruff), checks the package's
types (mypy), runs the whole suite and, beside it, the tests marked `calendar` (those that
read China dates from the clock) again with the clock pinned by libfaketime at the edges of
the calendar: the last and first minutes of a China day, month and year (15:59 and 16:00
UTC), of a UTC day (23:59 and 00:00 UTC), and around a leap day (their output at the end).
The Debian tools the suite uses (faketime, zbar-tools, chromium, tesseract-ocr) and
graphql-http's audit (npm, into .cache/node) are installed here when missing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".homestay-installed"

if sys.version_info < (3, 11):
    sys.exit(f"homestay needs Python 3.11 or newer; this is {sys.version.split()[0]}")


LOCK = ROOT / "requirements.lock"  # the tested set of versions


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + LOCK.read_bytes()).hexdigest()


UV = ROOT / ".cache" / "uv-tool"  # uv itself, installed beside the project, not into it


def _uv() -> Path | None:
    """uv, installed once by this Python's pip; None where it cannot be had."""
    uv = UV / "bin" / "uv"
    if not uv.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(UV), "uv"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return uv if uv.exists() else None


def ensure_installed() -> None:
    """The project and the lock's packages in .venv, by uv where it can be had (a fresh
    clone installs in seconds), by pip otherwise; every file checked against the lock's
    hashes."""
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    started = time.monotonic()
    python = str(BIN / "python")
    print("installing homestay and its dependencies into .venv ...", file=sys.stderr)
    uv = _uv()
    if not (BIN / "python").exists():
        venv.create(VENV, with_pip=uv is None)
    if uv is not None:
        install = [str(uv), "pip", "install", "--quiet", "--python", python]
    else:  # no uv to be had: pip does the same, slower
        install = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*install, "--require-hashes", "-r", str(LOCK)], check=True)
    subprocess.run([*install, "--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(_fingerprint())
    print(f"installed in {time.monotonic() - started:.0f} s", file=sys.stderr)


# each instant in UTC; in China it is eight hours later
CALENDAR_EDGES = [
    "2026-12-31 15:59:00",  # 23:59 on 31 December in China: the last minute of a China year
    "2026-12-31 16:00:00",  # 00:00 on 1 January 2027 in China, still 31 December in UTC
    "2026-12-31 23:59:00",  # the last minute of the UTC year, 07:59 on 1 January in China
    "2027-01-01 00:00:00",  # UTC's new year
    "2028-02-28 16:00:00",  # the leap day begins in China
    "2028-02-29 23:59:00",  # the leap day ends in UTC, 1 March in China
]


# commands the suite runs, and the Debian packages that bring them: libfaketime for the
# calendar checks, zbar to read the plaque's QR code back, Chromium for the page in a browser,
# Tesseract to read the plaque's Chinese back (with its simplified-Chinese data, a file)
DEBIAN_TOOLS = {
    "faketime": "faketime",
    "zbarimg": "zbar-tools",
    "chromium": "chromium",
    "tesseract": "tesseract-ocr",
}
DEBIAN_FILES = {"/usr/share/tesseract-ocr/5/tessdata/chi_sim.traineddata": "tesseract-ocr-chi-sim"}


def _missing_debian_packages() -> list[str]:
    return [p for c, p in DEBIAN_TOOLS.items() if not shutil.which(c)] + [
        p for f, p in DEBIAN_FILES.items() if not Path(f).exists()
    ]


def ensure_debian_tools() -> None:
    missing = _missing_debian_packages()
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(
            f"installing {', '.join(missing)} (Debian packages) for the tests ...", file=sys.stderr
        )
        quiet = {
            "stdout": subprocess.DEVNULL,
            "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        }
        subprocess.run(["apt-get", "update", "-qq"], check=True, **quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, **quiet)
    still = _missing_debian_packages()
    if still:
        sys.exit(
            f"the test suite needs Debian's {', '.join(still)}: "
            f"apt-get install {' '.join(still)}, then run again"
        )


# what the suite runs with node: graphql-http's own audit of a GraphQL-over-HTTP server
NODE_PACKAGES = ["graphql-http@1.23.1", "graphql@16.15.0"]
NODE_DIR = ROOT / ".cache" / "node"


def ensure_node_packages() -> None:
    stamp = NODE_DIR / ".installed"
    if stamp.exists() and stamp.read_text() == " ".join(NODE_PACKAGES):
        return
    if not shutil.which("npm"):
        sys.exit("the test suite needs node and npm (Debian packages nodejs, npm)")
    print(f"installing {', '.join(NODE_PACKAGES)} (npm) for the tests ...", file=sys.stderr)
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "npm",
            "install",
            "--prefix",
            str(NODE_DIR),
            "--no-audit",
            "--no-fund",
            "--silent",
            *NODE_PACKAGES,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    stamp.write_text(" ".join(NODE_PACKAGES))


def test(args: list[str]) -> int:
    pytest = [str(BIN / "python"), "-m", "pytest"]
    ensure_debian_tools()
    ensure_node_packages()
    if args:  # a part of the suite, as asked
        return subprocess.call([*pytest, *args])
    # the habits of a kept codebase first: lint, import order and format (pyproject's
    # [tool.ruff]), then the package's types
    tree = ["homestay", "tests", "bench", "dev.py"]
    status = subprocess.call([str(BIN / "ruff"), "check", *tree])
    if status:
        print(
            "ruff found the problems above: fix them, or `ruff check --fix` them", file=sys.stderr
        )
        return status
    status = subprocess.call([str(BIN / "ruff"), "format", "--check", *tree])
    if status:
        print("the files above are not formatted: `ruff format` them", file=sys.stderr)
        return status
    status = subprocess.call([str(BIN / "mypy")])  # the package, as [tool.mypy] says
    if status:
        return status
    return in_lanes(pytest, calendar_runs(pytest))


def calendar_runs(pytest: list[str]) -> list[tuple[str, list[str]]]:
    """The tests marked calendar, once per edge of the calendar, with the clock pinned there."""
    return [
        (
            f"the calendar tests with the clock at {instant} UTC",
            ["faketime", "-f", f"@{instant}", *pytest, "-m", "calendar", "-q"]
            + ["-p", "no:cacheprovider"],
        )
        for instant in CALENDAR_EDGES
    ]


# A test run is a test process and its database taking turns on one core (the whole suite
# kept 1.07 of 2 cores busy): the calendar runs go beside it, two at a time once it is done.
# One after the other, the six took 170 s of a 674 s CI run on a slow day.
LANES = 2


def in_lanes(first: list[str], others: list[tuple[str, list[str]]]) -> int:
    """`first` (its output as it comes), and beside it `others`, LANES at a time in all, their
    outputs shown whole at the end, in order. Non-zero if any failed."""
    main = subprocess.Popen(first)
    pending = list(others)
    started: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def busy() -> int:
        return (main.poll() is None) + sum(run.poll() is None for _, run, _ in started)

    while pending or busy():
        while pending and busy() < LANES and main.returncode in (None, 0):
            title, command = pending.pop(0)
            output = tempfile.TemporaryFile()  # noqa: SIM115 - closed once shown
            run = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
            started.append((title, run, output))
        time.sleep(0.2)
    status = main.returncode
    for title, run, output in started:
        print(f"\n== {title} ==", flush=True)
        output.seek(0)
        sys.stdout.buffer.write(output.read())
        sys.stdout.flush()
        output.close()
        if run.returncode:
            print(f"failed: {title}", file=sys.stderr)
            status = status or run.returncode
    return status


COMMANDS = {
    "serve": lambda args: [str(BIN / "homestay"), "serve", "--demo", *args],
    "bench": lambda args: [str(BIN / "python"), str(ROOT / "bench" / "search.py"), *args],
    "bench-export": lambda args: [str(BIN / "python"), str(ROOT / "bench" / "export.py"), *args],
    "bench-load": lambda args: [str(BIN / "python"), str(ROOT / "bench" / "load.py"), *args],
    "bench-hostile": lambda args: [str(BIN / "python"), str(ROOT / "bench" / "hostile.py"), *args],
    "bench-doorway": lambda args: [str(BIN / "python"), str(ROOT / "bench" / "doorway.py"), *args],
    "bench-finder": lambda args: [str(BIN / "python"), str(ROOT / "bench" / "finder.py"), *args],
    "bench-changes": lambda args: [str(BIN / "python"), str(ROOT / "bench" / "changes.py"), *args],
    "bench-instructions": lambda args: [
        str(BIN / "python"),
        str(ROOT / "bench" / "instructions.py"),
        *args,
    ],
    "bench-forked": lambda args: [str(BIN / "python"), str(ROOT / "bench" / "forked.py"), *args],
    "bench-profile": lambda args: [str(BIN / "python"), str(ROOT / "bench" / "profiled.py"), *args],
    "schema": lambda args: [str(BIN / "homestay"), "export-schema", *args],
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in [*COMMANDS, "test"]:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ensure_installed()
    os.chdir(ROOT)
    if sys.argv[1] == "test":
        return test(sys.argv[2:])
    command = COMMANDS[sys.argv[1]](sys.argv[2:])
    # exec, so that Ctrl-C and SIGTERM reach the service itself and it can stop its database
    os.execv(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
