"""What the benchmarks share: the API served from its own process, as in production, with the
limits a benchmark is not measuring raised, and a loud failure when any request failed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import IO

import httpx

from homestay.storage.embedded import free_port

# The load generators are a handful of addresses sending thousands of requests a minute: under
# the production limits the figures would measure 429 refusals. A benchmark of the limiter
# itself would set these back.
UNLIMITED = {
    "HOMESTAY_RATE_PUBLIC": "100000000/minute",
    "HOMESTAY_RATE_ACCOUNT": "100000000/minute",
    "HOMESTAY_RATE_UPLOADS": "100000000/minute",
}


class BenchmarkFailed(SystemExit):
    """A benchmark saw errors: its figures are not figures. Exits non-zero with the counts."""

    def __init__(self, what: str, errors: dict[str, int]) -> None:
        counts = ", ".join(f"{code} x{n}" for code, n in sorted(errors.items()))
        super().__init__(f"BENCHMARK FAILED: {what}: {counts}. No figure of this run stands.")


def fail_on_errors(what: str, errors: dict[str, int]) -> None:
    if any(errors.values()):
        raise BenchmarkFailed(what, {k: n for k, n in errors.items() if n})


def error_kind(response: httpx.Response) -> str | None:
    """None for a good GraphQL answer; else what went wrong (a status, or the error code)."""
    if response.status_code != 200:
        try:
            errors = response.json().get("errors") or []
            code = errors[0]["extensions"]["code"]
        except (ValueError, AttributeError, LookupError, TypeError):
            code = "no JSON error"
        return f"http_{response.status_code} {code}"
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return "http_200 not JSON"
    if errors:
        return str(errors[0].get("extensions", {}).get("code", "unknown"))
    return None


@asynccontextmanager
async def served_api(
    mongodb_uri: str, database: str, log: IO[bytes] | None = None, **settings: str
) -> AsyncIterator[tuple[str, subprocess.Popen]]:
    """`homestay serve` over the given database, once /readyz says so, its finder's copy
    built too (so that no case shares the CPU with the build): (url, process)."""
    port = free_port()
    env = {
        **os.environ,
        "MONGODB_URI": mongodb_uri,
        "HOMESTAY_DB": database,
        "PORT": str(port),
        "HOMESTAY_ENV": "production",
        "LOG_LEVEL": "WARNING",
        **UNLIMITED,
        **settings,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "homestay.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log or subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    try:
        for _ in range(300):
            try:
                ready = httpx.get(f"{url}/readyz", timeout=1)
                if ready.status_code == 200 and not hasattr(process, "ready_s"):
                    # when tourists are served (the stay index built)
                    process.ready_s = time.perf_counter() - started  # type: ignore[attr-defined]
                if ready.status_code == 200 and ready.json().get("finder") == "ready":
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
        else:
            raise RuntimeError("the API did not become ready within a minute")
        yield url, process
    finally:
        process.terminate()
        process.wait(30)
