"""Hostile small requests: what one anonymous request can make the server do.

    python3 dev.py bench-hostile

Serves the API from its own process over a fresh embedded database and sends, one at a
time, documents that are small on the wire but large once expanded or validated: fragments
that each spread the next one twice (10 to 40 levels), and the largest flat documents the
token limit admits (a thousand fields of one name), and one nested too deeply. Meanwhile a
second client asks /healthz every 10 ms: the event loop must stay free.
Prints each case's answer time and code, and /healthz's p50/max while it ran; exits non-zero
when a hostile document was not refused, or when the target (each answer and every /healthz
under 50 ms) is missed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import served_api  # noqa: E402

from homestay.storage.embedded import EmbeddedServer  # noqa: E402

TARGET_MS = 50.0


def doubling(levels: int) -> str:
    parts = ["query { ...F0 }"]
    parts += [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    parts.append(f"fragment F{levels} on Query {{ __typename }}")
    return "\n".join(parts)


# name: (document, the code it must get, whether the 50 ms target applies)
CASES = {
    f"doubling fragments x{n}": (doubling(n), "QUERY_TOO_COMPLEX", True) for n in (10, 22, 30, 40)
}
# the largest documents the character limit admits: parsing one costs ~12 ms on the loop,
# so these are measured and their codes checked, without the 50 ms target
CASES["999 x __typename"] = (
    "{ " + " ".join(["__typename"] * 999) + " }",
    "QUERY_TOO_COMPLEX",
    False,
)
CASES["999 distinct aliases"] = (
    "{ " + " ".join(f"a{i}: __typename" for i in range(999)) + " }",
    "GRAPHQL_PARSE_FAILED",
    False,
)  # over the token limit
CASES["1,500 fields of one name"] = (
    "{ " + " ".join(["__typename"] * 1500) + " }",
    "QUERY_TOO_COMPLEX",
    False,
)
CASES["nested 300 deep"] = (
    "{ "
    + "searchStays { edges { node { certificate { homestay { " * 60
    + "name"
    + " } } } } }" * 60
    + " }",
    "GRAPHQL_PARSE_FAILED",
    False,
)


async def health_probe(
    url: str, stop: asyncio.Event, latencies: dict[bool, list[float]], phase: list[bool]
) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        while not stop.is_set():
            started = time.perf_counter()
            response = await client.get("/healthz")
            assert response.status_code == 200
            latencies[phase[0]].append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)


async def main() -> int:
    failures = []
    figures = {}
    with EmbeddedServer(":memory:") as server:
        async with served_api(server.uri, "hostile") as (url, _):
            # /healthz latencies while the timed cases run (True), and the others (False)
            stop, health, phase = asyncio.Event(), {True: [], False: []}, [True]
            probe = asyncio.create_task(health_probe(url, stop, health, phase))
            await asyncio.sleep(0.3)
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                for name, (query, expected, timed) in CASES.items():
                    phase[0] = timed
                    times = []
                    for _ in range(20):
                        started = time.perf_counter()
                        response = await client.post("/graphql", json={"query": query})
                        times.append((time.perf_counter() - started) * 1000)
                    body = response.json()
                    code = (body.get("errors") or [{}])[0].get("extensions", {}).get("code")
                    times.sort()
                    slowest, median = times[-1], times[len(times) // 2]
                    figures[name] = {
                        "chars": len(query),
                        "status": response.status_code,
                        "code": code,
                        "p50_ms": round(median, 1),
                        "max_ms": round(slowest, 1),
                    }
                    print(
                        f"{name:<28} {len(query):>6} chars  {response.status_code} "
                        f"{code or 'answered':<26} p50 {median:6.1f} ms  max {slowest:6.1f} ms",
                        file=sys.stderr,
                    )
                    if code != expected:
                        failures.append(f"{name}: {code}, expected {expected}")
                    if timed and slowest > TARGET_MS:
                        failures.append(f"{name}: {slowest:.0f} ms > {TARGET_MS:.0f} ms")
            stop.set()
            await probe
    summary = {}
    for timed, label in ((True, "during the doubling fragments"), (False, "during the others")):
        ordered = sorted(health[timed])
        p50, worst = ordered[len(ordered) // 2], ordered[-1]
        summary[label] = {"p50_ms": round(p50, 1), "max_ms": round(worst, 1)}
        print(
            f"/healthz {label}: {len(ordered)} answers, p50 {p50:.1f} ms, max {worst:.1f} ms",
            file=sys.stderr,
        )
        if timed and worst > TARGET_MS:
            failures.append(f"/healthz waited {worst:.0f} ms")
    print(json.dumps({"cases": figures, "healthz": summary, "failures": failures}))
    if failures:
        print("BENCHMARK FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
