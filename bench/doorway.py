"""The plaque's page: GET /v/{number} as guests' phones ask it, known and unknown numbers.

    python3 dev.py bench-doorway

Loads 20,000 certificates (bench/search.py's), serves the API from its own process and asks
the verification page of random known numbers and of unknown ones, one client, for a few
seconds each. Prints p50/p99 of both (the unknown answer must not be told from the known by
its time) and exits non-zero on any answer other than 200 / 404.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fail_on_errors, served_api  # noqa: E402
from search import load  # noqa: E402

from homestay.storage.database import open_database  # noqa: E402
from homestay.storage.embedded import EmbeddedServer  # noqa: E402


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def drive(url: str, numbers: list[str], expected: int, seconds: float) -> dict:
    rng = random.Random(7)
    latencies, errors = [], {}
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await client.get(f"/v/{rng.choice(numbers)}")
            if response.status_code != expected:
                errors[f"http_{response.status_code}"] = (
                    errors.get(f"http_{response.status_code}", 0) + 1
                )
            latencies.append((time.perf_counter() - started) * 1000)
    fail_on_errors(f"pages expected {expected}", errors)
    return {
        "requests": len(latencies),
        "p50_ms": round(_pct(latencies, 50), 2),
        "p99_ms": round(_pct(latencies, 99), 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--certificates", type=int, default=20_000)
    args = parser.parse_args()
    with EmbeddedServer(":memory:") as server:
        database = open_database(server.uri, "doorway")
        await load(database, args.certificates)
        numbers = [d["_id"] async for d in database.certificates.find({}, {"_id": 1})]
        await database.close()
        unknown = [f"330521-2026-{n:05d}" for n in range(90000, 91000)]
        async with served_api(server.uri, "doorway") as (url, _):
            known = await drive(url, numbers, 200, args.seconds)
            missing = await drive(url, unknown, 404, args.seconds)
    for name, figures in (("known", known), ("unknown", missing)):
        print(
            f"/v/{{number}} {name:<8} {figures['requests']:>6} requests  "
            f"p50 {figures['p50_ms']:6.2f} ms  p99 {figures['p99_ms']:6.2f} ms",
            file=sys.stderr,
        )
    print(json.dumps({"certificates": args.certificates, "known": known, "unknown": missing}))


if __name__ == "__main__":
    asyncio.run(main())
