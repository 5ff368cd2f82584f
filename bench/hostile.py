"""Hostile requests: what one anonymous request, or a few, can make the server do.

    python3 dev.py bench-hostile

Serves the API from its own process over a fresh embedded database and sends, one at a
time, documents that are small on the wire but large once expanded or validated: fragments
that each spread the next one twice (10 to 40 levels), and the largest flat documents the
token limit admits (a thousand fields of one name), and one nested too deeply. Meanwhile a
second client asks /healthz every 10 ms: the event loop must stay free.
Prints each case's answer time and code, and /healthz's p50/max while it ran; exits non-zero
when a hostile document was not refused, or when the target (each answer and every /healthz
under 50 ms) is missed.

Then, over the demo data, two crowds:
- photos: 16 uploads at once of the largest picture the decode budget admits (5,700 x 5,700
  RGBA, 127 KB on the wire): the API process's peak and final resident memory, read from
  /proc (target: peak under 1 GB, final within 300 MB of where it started);
- the costliest anonymous query the limits allow (aliased 100 km searches of 100 stays in
  BD-09, just under the public budget), sent without pause by four clients of four addresses,
  while four other clients of other addresses ask `{ __typename }` and a tourist's search
  page: the others' p50/p99 (target: p99 under 300 ms, not one error among them).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import LightClient, answer_error, memory, served_api  # noqa: E402

from homestay.graphql.executor.core import core_schema  # noqa: E402
from homestay.graphql.executor.cost import query_cost  # noqa: E402
from homestay.graphql.schema import schema  # noqa: E402
from homestay.settings import Settings  # noqa: E402
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


MIB = 1024 * 1024
PHOTO_PEAK_MB, PHOTO_KEPT_MB, OTHERS_P99_MS = 1024, 300, 300.0
CROWD_S = 10.0


def _token(uri: str, database: str) -> str:
    env = {**os.environ, "MONGODB_URI": uri, "HOMESTAY_DB": database}
    made = subprocess.run(
        [sys.executable, "-m", "homestay.cli", "account", "create", "--role", "inspector"]
        + ["--county", "330521", "--name", "bench inspector"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return next(w for w in made.stdout.split() if w.startswith("hs_"))


def photo_crowd(url: str, pid: int, token: str) -> dict:
    """16 worst-case uploads at once: the process's memory before, at its peak, after."""
    out = io.BytesIO()
    Image.new("RGBA", (5700, 5700)).save(out, "PNG", compress_level=1)
    data = out.getvalue()
    before = memory(pid)["VmRSS"]
    statuses: list[int] = []

    def send() -> None:
        sent = httpx.post(
            f"{url}/uploads",
            content=data,
            headers={"Authorization": f"Bearer {token}"},
            timeout=300,
        )
        statuses.append(sent.status_code)

    started = time.perf_counter()
    crowd = [threading.Thread(target=send) for _ in range(16)]
    for thread in crowd:
        thread.start()
    for thread in crowd:
        thread.join()
    took = time.perf_counter() - started
    after = memory(pid)
    return {
        "uploads": len(statuses),
        "stored": statuses.count(201),
        "statuses": sorted(set(statuses)),
        "seconds": round(took, 1),
        "rss_before_mb": round(before / MIB),
        "peak_mb": round(after["VmHWM"] / MIB),
        "rss_after_mb": round(after["VmRSS"] / MIB),
    }


def costliest_query(budget: int) -> tuple[str, int]:
    """As many aliased 100 km searches of 100 stays, twenty-odd fields each, as the anonymous
    budget admits: (document, its price)."""

    def document(aliases: int) -> str:
        return (
            "{ "
            + " ".join(
                f"""a{i}: searchStays(near: {{lat: 30.55, lng: 119.95}}, radiusMeters: 100000,
            first: 100, coordSystem: BD09) {{ totalCount pageInfo {{ hasNextPage endCursor }}
            edges {{ cursor node {{ id name nameZh nameEn address town rooms facilities phone
            distanceMeters description location {{ lat lng }} county {{ code name }} grade
            priceRange {{ min max }} }} }} }}"""
                for i in range(aliases)
            )
            + " }"
        )

    from graphql import parse

    core = core_schema(schema)
    aliases = 1
    while query_cost(core, parse(document(aliases + 1)), None, None) <= budget:
        aliases += 1
    text = document(aliases)
    return text, query_cost(core, parse(text), None, None)


TOURIST_PAGE = """query Nearby { searchStays(near: {lat: 30.56, lng: 119.93}, first: 20) {
  totalCount edges { node { id name grade distanceMeters location { lat lng } } } } }"""


async def costly_neighbours(url: str) -> dict:
    """Four hostile clients (their own addresses) send the costliest allowed query without
    pause; four others ask what apps ask. The others' latencies and errors."""
    query, price = costliest_query(Settings.from_env({}).cost_public)
    stop = asyncio.Event()
    hostile: dict[str, int] = {}
    others: list[float] = []
    errors: dict[str, int] = {}

    async def attacker(n: int) -> None:
        client = LightClient(url, source=f"127.0.0.{2 + n}")
        while not stop.is_set():
            status, body = await client.post("/graphql", {"query": query})
            kind = answer_error(status, body) or "answered"
            hostile[kind] = hostile.get(kind, 0) + 1
        await client.close()

    async def neighbour(n: int) -> None:
        client = LightClient(url, source=f"127.0.0.{20 + n}")
        asks = [{"query": "{ __typename }"}, {"query": TOURIST_PAGE}]
        i = 0
        while not stop.is_set():
            started = time.perf_counter()
            status, body = await client.post("/graphql", asks[i % 2])
            others.append((time.perf_counter() - started) * 1000)
            if (kind := answer_error(status, body)) is not None:
                errors[kind] = errors.get(kind, 0) + 1
            i += 1
            await asyncio.sleep(0.02)
        await client.close()

    tasks = [asyncio.create_task(attacker(n)) for n in range(4)]
    await asyncio.sleep(1.0)  # the attack under way first
    tasks += [asyncio.create_task(neighbour(n)) for n in range(4)]
    await asyncio.sleep(CROWD_S)
    stop.set()
    await asyncio.gather(*tasks)
    ordered = sorted(others)
    return {
        "hostile_query_chars": len(query),
        "hostile_query_cost": price,
        "hostile_answers": hostile,
        "others_requests": len(ordered),
        "others_p50_ms": round(ordered[len(ordered) // 2], 1),
        "others_p99_ms": round(ordered[int(len(ordered) * 0.99)], 1),
        "others_max_ms": round(ordered[-1], 1),
        "others_errors": errors,
    }


async def crowds(failures: list[str]) -> dict:
    with EmbeddedServer(":memory:") as server:
        async with served_api(server.uri, "crowds", demo=True) as (url, process):
            token = await asyncio.to_thread(_token, server.uri, "crowds")
            photos = await asyncio.to_thread(photo_crowd, url, process.pid, token)
            print(f"photos: {json.dumps(photos)}", file=sys.stderr)
            if photos["stored"] != photos["uploads"]:
                failures.append(f"photos: statuses {photos['statuses']}")
            if photos["peak_mb"] >= PHOTO_PEAK_MB:
                failures.append(f"photos: peak {photos['peak_mb']} MB")
            if photos["rss_after_mb"] - photos["rss_before_mb"] >= PHOTO_KEPT_MB:
                failures.append(f"photos: kept {photos['rss_after_mb']} MB")
            costly = await costly_neighbours(url)
            print(f"costly: {json.dumps(costly)}", file=sys.stderr)
            if costly["others_errors"]:
                failures.append(f"others saw errors: {costly['others_errors']}")
            if costly["others_p99_ms"] >= OTHERS_P99_MS:
                failures.append(f"others' p99 {costly['others_p99_ms']} ms")
            if "answered" not in costly["hostile_answers"]:
                failures.append("the costliest allowed query was never answered")
    return {"photos": photos, "costly": costly}


async def main() -> int:
    failures: list[str] = []
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
    crowd = await crowds(failures)
    print(json.dumps({"cases": figures, "healthz": summary, **crowd, "failures": failures}))
    if failures:
        print("BENCHMARK FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
