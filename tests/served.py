"""Helpers for tests that run the service as a separate process, as in production."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import httpx


def wait_for(url: str, process: subprocess.Popen, timeout: float,
             explain: Callable[[], str] = lambda: "") -> None:
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
