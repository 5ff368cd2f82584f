"""What the benchmarks share: the API served from its own process, as in production, with the
limits a benchmark is not measuring raised, and a loud failure when any request failed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

from homestay.storage.embedded import free_port

# The load generators are a handful of addresses sending thousands of requests a minute: under
# the production limits the figures would measure 429 refusals. A benchmark of the limiter
# itself would set these back.
UNLIMITED = {
    "HOMESTAY_RATE_PUBLIC": "100000000/minute",
    "HOMESTAY_RATE_ACCOUNT": "100000000/minute",
    "HOMESTAY_RATE_UPLOADS": "100000000/minute",
    "HOMESTAY_PUBLIC_IN_FLIGHT": "100000",
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
    return answer_error(response.status_code, response.content)


def answer_error(status: int, body: bytes) -> str | None:
    """The same, from an answer's status and body."""
    try:
        answer = json.loads(body)
        errors = answer.get("errors") or []
    except (ValueError, AttributeError):
        return f"http_{status} no JSON error" if status != 200 else "http_200 not JSON"
    if status != 200:
        try:
            code = errors[0]["extensions"]["code"]
        except (AttributeError, LookupError, TypeError):
            code = "no JSON error"
        return f"http_{status} {code}"
    if errors:
        return str(errors[0].get("extensions", {}).get("code", "unknown"))
    return None


READY_WITHIN_S = 300


def children(pid: int) -> list[int]:
    """The processes `pid` started (the embedded database under its keeper, API workers)."""
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def memory(pid: int) -> dict[str, int]:
    """A process's resident memory now (VmRSS) and at its most (VmHWM), in bytes."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {k: int(fields[k].split()[0]) * 1024 for k in ("VmRSS", "VmHWM")}


def shared_memory(pid: int) -> dict[str, int]:
    """A process's resident memory with its shared pages told apart (smaps_rollup), in bytes:
    Rss (every page it maps), Pss (each shared page divided among the processes that share
    it: these add up across processes to what they hold together) and private (its pages no
    other process maps: what it costs beside the others)."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) * 1024
    return {
        "rss": fields["Rss"],
        "pss": fields["Pss"],
        "private": fields["Private_Clean"] + fields["Private_Dirty"],
    }


def cpu_seconds(pid: int | None) -> float:
    """The CPU time (user and system) a process and its descendants have used so far, read
    from /proc (the embedded database runs as its keeper's child); NaN when unknown."""
    if pid is None:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        started = children(pid)
    except OSError:
        return float("nan")
    # after the name: state is field 3, utime and stime fields 14 and 15 (man 5 proc)
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(child) for child in started)


class LightClient:
    """One client of a load: a keep-alive HTTP/1.1 connection that posts JSON and reads each
    answer whole (Content-Length or chunked), as an app's HTTP stack does.

    Why not httpx here: a load generator shares this 2-core machine with the API and its
    database, and httpx cost 1.2-2.5 ms of CPU a request (measured with getrusage): with it
    `{ __typename }` read 2.2 ms p50 end to end, with this client 0.6 ms, which costs 0.1-0.3
    ms a request. The server and every byte it sends are the same."""

    def __init__(self, url: str, source: str | None = None) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.source = source  # the address it sends from (another of 127.0.0.0/8: a sender)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: Any) -> tuple[int, bytes]:
        """(status, body) of one POST of `payload` as JSON."""
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, local_addr=(self.source, 0) if self.source else None
            )
        body = json.dumps(payload).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        reader = self._reader
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip().lower()
        if headers.get("transfer-encoding") == "chunked":
            chunks = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            await reader.readuntil(b"\r\n")  # the end of the trailers
            answer = b"".join(chunks)
        else:
            answer = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection") == "close":
            await self.close()
        return status, answer

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


@asynccontextmanager
async def served_api(
    mongodb_uri: str,
    database: str,
    log: IO[bytes] | None = None,
    demo: bool = False,
    **settings: str,
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
        [sys.executable, "-m", "homestay.cli", "serve", *(["--demo"] if demo else [])],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log or subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    try:
        # a province of 1,000,000 stays is read in a minute or two, its finder after
        while time.perf_counter() - started < READY_WITHIN_S:
            if process.poll() is not None:
                raise RuntimeError(f"the API exited ({process.returncode}) before it was ready")
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
            raise RuntimeError(f"the API was not ready within {READY_WITHIN_S} s")
        yield url, process
    finally:
        process.terminate()
        process.wait(30)
