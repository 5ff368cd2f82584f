"""Helpers for tests that run the service as a separate process, as in production."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from homestay.storage.embedded import free_port

HOMESTAY = [sys.executable, "-m", "homestay.cli"]


def wait_for(
    url: str, process: subprocess.Popen, timeout: float, explain: Callable[[], str] = lambda: ""
) -> None:
    """Until GET `url` answers 200. Fails at once, with `explain()`, if the process exits."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, explain()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer 200 within {timeout:.0f} s"
        time.sleep(0.2)


@contextmanager
def served(
    mongodb_uri: str, data_dir: Path, database: str | None = None, **settings: str
) -> Iterator[str]:
    """`homestay serve` over a database of its own on `mongodb_uri`: its base URL, once ready.
    No proxy is trusted unless `settings` says so, whatever this environment holds."""
    with serving(mongodb_uri, data_dir, database, **settings) as (url, _):
        yield url


@contextmanager
def serving(
    mongodb_uri: str, data_dir: Path, database: str | None = None, **settings: str
) -> Iterator[tuple[str, subprocess.Popen]]:
    """As `served`, with the process too (to read its memory)."""
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if k != "FORWARDED_ALLOW_IPS"}
    env = {
        **inherited,
        "MONGODB_URI": mongodb_uri,
        "PORT": str(port),
        "HOMESTAY_DB": database or f"served_{uuid.uuid4().hex[:8]}",
        "HOMESTAY_DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
        **settings,
    }
    process = subprocess.Popen(
        [*HOMESTAY, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/readyz", process, 60)
        yield url, process
    finally:
        process.terminate()
        process.wait(30)


def account(mongodb_uri: str, database: str, role: str, county: str = "330521") -> str:
    """A token made by the command line, as an administrator makes one."""
    env = {**os.environ, "MONGODB_URI": mongodb_uri, "HOMESTAY_DB": database}
    made = subprocess.run(
        [
            *HOMESTAY,
            "account",
            "create",
            "--role",
            role,
            "--county",
            county,
            "--name",
            f"{role} {county}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]
