"""What the benchmarks share: the API served from its own process, as in production."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import IO

import httpx

from homestay.storage.embedded import free_port


@asynccontextmanager
async def served_api(mongodb_uri: str, database: str, log: IO[bytes] | None = None,
                     **settings: str) -> AsyncIterator[tuple[str, subprocess.Popen]]:
    """`homestay serve` over the given database, once /readyz says so: (url, process)."""
    port = free_port()
    env = {**os.environ, "MONGODB_URI": mongodb_uri, "HOMESTAY_DB": database,
           "PORT": str(port), "HOMESTAY_ENV": "production", "LOG_LEVEL": "WARNING", **settings}
    process = subprocess.Popen([sys.executable, "-m", "homestay.cli", "serve"], env=env,
                               stdout=subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
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
