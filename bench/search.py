"""Search benchmark: the HTTP API against a plain $geoNear, on a fresh embedded server.

    python3 dev.py bench                 # 20 s per case and concurrency
    python3 dev.py bench --seconds 5     # a quicker look
    python3 dev.py bench --stays 200000  # province scale
    python3 dev.py bench --writes 20     # searches alone, then beside 20 writes a second
    python3 dev.py bench --backlog       # searches alone, then after a migration's backlog

Also measured in the same run: the floor (`{ __typename }` through the same server, and the
two database commands a search sends, alone), map clusters over the whole of Zhejiang, the
served process's resident memory and its time from start to ready.

Loads 20,000 certified stays across northern Zhejiang (certificate documents built by the
same domain functions the service uses, inserted in bulk: this measures search, not loading),
serves the API from a separate uvicorn process, then for each case runs searches with 1 and
with 8 concurrent clients, and the same 5 km search as a `$geoNear` aggregation. Prints a
table and, last, one JSON line of figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from pymongo import monitoring
from pymongo.errors import BulkWriteError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    BenchmarkFailed,
    LightClient,
    answer_error,
    children,
    cpu_seconds,
    error_kind,
    fail_on_errors,
    memory,
    served_api,
    shared_memory,
)

from homestay.clock import utcnow  # noqa: E402
from homestay.domain import geo  # noqa: E402
from homestay.domain.grades import ALL_GRADES  # noqa: E402
from homestay.exports import read_model  # noqa: E402
from homestay.http.app import create_app  # noqa: E402
from homestay.services import homestays  # noqa: E402
from homestay.services.homestays import findable  # noqa: E402
from homestay.services.registry import Services  # noqa: E402
from homestay.settings import Settings  # noqa: E402
from homestay.storage.database import Database, apply_schema, open_database  # noqa: E402
from homestay.storage.embedded import EmbeddedServer  # noqa: E402

STAYS = 20_000
MIB = 1024 * 1024
MOGANSHAN = (30.60, 119.87)
# where homestays cluster in northern Zhejiang (centre, spread in metres): Moganshan, West
# Lake hills, Anji, Tonglu, Nanxun, Wuzhen, Qiandao Lake, Changxing. Four stays in ten are
# in one of them, the rest anywhere: about 150 within 5 km of Moganshan, a few hundred
# within 10 km, which is the real order of magnitude there.
HOTSPOTS = [
    (30.60, 119.87, 10000),
    (30.23, 120.10, 12000),
    (30.63, 119.68, 12000),
    (29.80, 119.68, 15000),
    (30.88, 120.43, 10000),
    (30.74, 120.49, 8000),
    (29.60, 119.05, 15000),
    (31.01, 119.90, 12000),
]
CLUSTERED = 0.4
COUNTIES = ["330521", "330523", "330522", "330502", "330503", "330110", "330113", "330483"]

SEARCH = """query($near: GeoPointInput, $radius: Int!, $bbox: BBoxInput, $minGrade: Grade,
                  $text: String, $sort: StaySort, $county: String) {
  searchStays(near: $near, radiusMeters: $radius, bbox: $bbox, minGrade: $minGrade,
              text: $text, sort: $sort, county: $county, first: 20) {
    totalCount edges { node { id name grade distanceMeters location { lat lng }
                              county { code name } certificate { number status } } } } }"""
CLUSTERS = """query($bbox: BBoxInput!, $zoom: Int!) { stayClusters(bbox: $bbox, zoom: $zoom) {
  id count point { lat lng } counts { grade count } } }"""
TYPENAME = "{ __typename }"
ZHEJIANG = {"south": 27.0, "west": 118.0, "north": 31.2, "east": 123.0}

CASES: dict[str, dict[str, Any]] = {
    "r1km": {"near": {"lat": MOGANSHAN[0], "lng": MOGANSHAN[1]}, "radius": 1000},
    "r1km+grade": {
        "near": {"lat": MOGANSHAN[0], "lng": MOGANSHAN[1]},
        "radius": 1000,
        "minGrade": "PREMIUM",
    },
    "r5km": {"near": {"lat": MOGANSHAN[0], "lng": MOGANSHAN[1]}, "radius": 5000},
    "r5km+grade": {
        "near": {"lat": MOGANSHAN[0], "lng": MOGANSHAN[1]},
        "radius": 5000,
        "minGrade": "PREMIUM",
    },
    "r20km": {"near": {"lat": MOGANSHAN[0], "lng": MOGANSHAN[1]}, "radius": 20000},
    "r20km+grade": {
        "near": {"lat": MOGANSHAN[0], "lng": MOGANSHAN[1]},
        "radius": 20000,
        "minGrade": "PREMIUM",
    },
    "r50km": {"near": {"lat": MOGANSHAN[0], "lng": MOGANSHAN[1]}, "radius": 50000},
    "r100km": {"near": {"lat": MOGANSHAN[0], "lng": MOGANSHAN[1]}, "radius": 100000},
    "r100km+grade": {
        "near": {"lat": MOGANSHAN[0], "lng": MOGANSHAN[1]},
        "radius": 100000,
        "minGrade": "BOUTIQUE",
    },
    "r50km+text": {
        "near": {"lat": MOGANSHAN[0], "lng": MOGANSHAN[1]},
        "radius": 50000,
        "text": "民宿01",
    },
    "r50km+word": {  # a word every name holds, as tourists type it
        "near": {"lat": MOGANSHAN[0], "lng": MOGANSHAN[1]},
        "radius": 50000,
        "text": "民宿",
    },
    "r50km+byname": {
        "near": {"lat": MOGANSHAN[0], "lng": MOGANSHAN[1]},
        "radius": 50000,
        "sort": "NAME",
    },
    "r50km+bygrade": {
        "near": {"lat": MOGANSHAN[0], "lng": MOGANSHAN[1]},
        "radius": 50000,
        "sort": "GRADE",
    },
    "bbox": {
        "bbox": {"south": 30.55, "west": 119.80, "north": 30.65, "east": 119.95},
        "radius": 5000,
    },
    "bbox0.5deg": {
        "bbox": {"south": 30.35, "west": 119.62, "north": 30.85, "east": 120.12},
        "radius": 5000,
    },
    "anywhere": {"radius": 5000},  # no place: the province by name, as an app without location
    "r50km+county": {
        "near": {"lat": MOGANSHAN[0], "lng": MOGANSHAN[1]},
        "radius": 50000,
        "county": COUNTIES[0],
    },
}


class Moving:
    """Variables with a new origin for every request, drawn where the stays are (the same
    distribution as theirs): pages that differ from one request to the next, so a process
    cannot answer from the certificates it kept for the last one."""

    def __init__(self, radius: int, seed: int = 7) -> None:
        self.radius, self.seed = radius, seed
        self.rng = random.Random(seed)

    def __call__(self) -> dict[str, Any]:
        lat, lng = _point(self.rng)
        return {"near": {"lat": lat, "lng": lng}, "radius": self.radius}


CASES["r5km, moving"] = Moving(5000)
# other documents timed like the searches: (document, variables)
EXTRA: dict[str, tuple[str, dict[str, Any]]] = {
    "clusters-zhejiang-z7": (CLUSTERS, {"bbox": ZHEJIANG, "zoom": 7}),
    "clusters-zhejiang-z9": (CLUSTERS, {"bbox": ZHEJIANG, "zoom": 9}),
    "typename (floor)": (TYPENAME, {}),
}


def _point(rng: random.Random) -> tuple[float, float]:
    if rng.random() < CLUSTERED:
        lat, lng, spread = rng.choice(HOTSPOTS)
        d = spread * math.sqrt(-2 * math.log(1 - rng.random()))  # a 2-D normal's radius
        bearing = rng.uniform(0, 360)
        from geopy.distance import geodesic
        from geopy.point import Point

        p = geodesic(meters=d).destination(Point(lat, lng), bearing)
        return p.latitude, p.longitude
    return rng.uniform(29.5, 31.1), rng.uniform(119.0, 121.0)


def certificate_docs(count: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    now = utcnow()
    docs = []
    sequence = dict.fromkeys(COUNTIES, 0)  # numbers run per county and year, as issued
    for n in range(count):
        lat, lng = _point(rng)
        point = geo.LatLng(lat, lng)
        grade = rng.choices(ALL_GRADES, weights=[5, 3, 2])[0]
        county = rng.choice(COUNTIES)
        sequence[county] += 1
        # issued at some moment of one of the last 900 days, as a bureau issues them: never
        # hundreds in the same microsecond (which every search's read of the last 30 s of
        # changes would read again)
        issued = now - timedelta(days=rng.randint(0, 900), seconds=rng.randint(60, 86_399))
        docs.append(
            {
                "_id": f"{county}-2026-{sequence[county]:05d}",
                "homestayId": f"bench{n:06d}",
                "county": county,
                "grade": grade.value,
                "gradeRank": grade.rank,
                "status": "VALID",
                "current": True,
                "issuedAt": issued,
                "expiresAt": issued + timedelta(days=1095),
                "inspectionId": f"bench-inspection-{n}",
                "standard": {"code": "deqing-homestay", "version": 1},
                "totalPoints": 300,
                "listing": {
                    "name": f"民宿{n:05d}",
                    "nameEn": f"Homestay {n:05d}",
                    "address": "浙江省",
                    "town": None,
                    "location": geo.geojson(point),
                    "rooms": 6,
                    "facilities": ["WIFI"],  # a code, as registration stores it
                },
                "history": [
                    {
                        "at": issued,
                        "by": {"id": "bench", "name": "bench", "role": "BUREAU"},
                        "action": "ISSUE",
                        "from": None,
                        "to": "VALID",
                        "reason": None,
                    }
                ],
                "updatedAt": issued,
            }
        )
    return docs


def homestay_doc(certificate: dict) -> dict:
    """The homestay a bench certificate was issued to, as registration stores it."""
    listing = certificate["listing"]
    doc = {
        "_id": certificate["homestayId"],
        "name": listing["name"],
        "nameEn": listing["nameEn"],
        "address": listing["address"],
        "county": certificate["county"],
        "town": listing["town"],
        "location": listing["location"],
        "geocoded": False,
        "rooms": listing["rooms"],
        "facilities": listing["facilities"],
        "createdAt": certificate["issuedAt"],
        "updatedAt": certificate["issuedAt"],
        "createdBy": {"id": "bench", "name": "bench"},
        "listedUntil": certificate["expiresAt"],
    }
    doc.update(findable(doc))
    return doc


async def _insert_all(collection: Any, docs: list[dict]) -> None:
    for i in range(0, len(docs), 2000):
        try:
            await collection.insert_many(docs[i : i + 2000], ordered=False)
        except BulkWriteError as exc:  # a retried batch: what the first try stored is there
            if any(e["code"] != 11000 for e in exc.details["writeErrors"]):
                raise


def asked(variables: Any) -> dict[str, Any]:
    """A case's variables for one request (a Moving case draws new ones each time)."""
    return variables() if callable(variables) else variables


async def load(database: Database, count: int) -> float:
    started = time.perf_counter()
    await apply_schema(database)
    docs = certificate_docs(count)
    await _insert_all(database.certificates, docs)
    # and every certified stay's homestay, as registered: the finder's copy in the served
    # process holds them (its memory is part of what an API process holds at this scale)
    await _insert_all(database.homestays, [homestay_doc(d) for d in docs])
    await _finish_load(database)
    return time.perf_counter() - started


async def _finish_load(database: Database) -> None:
    """What a load does once every document is in: as a deployment has it, the grade lists'
    read model, which the search index starts from, and the homestays' one-time migrations
    done (a fresh database's first start runs them in the background: they would overlap
    the first cases)."""
    await read_model.ensure_built(database)
    await homestays.ensure_findable(database)
    await homestays.ensure_facility_codes(database)
    await homestays.retire_cells(database)


async def held_or_loaded(database: Database, stays: int, storage_path: str) -> None:
    """`stays` certified stays in `database`: those it holds (kept with --storage-path), the
    rest of a load cut short once every document was in, or a load; a database holding
    another number is refused."""
    held = await database.certificates.estimated_document_count()
    if held == stays and await read_model.is_built(database):
        print(f"reusing the {held} stays held in {storage_path}", file=sys.stderr)
        await homestays.retire_cells(database)  # kept from before this step was in load
    elif held == stays == await database.homestays.estimated_document_count():
        # a load cut short once every document was in (at 1,000,000 stays, its inserts
        # take most of an hour): what it had left is done now
        print(f"finishing the load of the {held} stays held", file=sys.stderr)
        started = time.perf_counter()
        await _finish_load(database)
        print(f"finished in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    elif held:
        sys.exit(f"{storage_path} holds {held} stays, not {stays}: start afresh")
    else:
        loaded_s = await load(database, stays)
        print(f"loaded {stays} certified stays in {loaded_s:.1f} s", file=sys.stderr)


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def _timed(
    url: str, variables: Any, clients: int, seconds: float, document: str
) -> tuple[list[float], Counter[str], float, float]:
    """`clients` clients asking for `seconds`: the good answers' latencies (ms), the errors by
    kind, the wall and CPU seconds this process spent."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    deadline = time.perf_counter() + seconds

    async def one_client() -> None:
        client = LightClient(url)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status, body = await client.post(
                    "/graphql", {"query": document, "variables": asked(variables)}
                )
                kind = answer_error(status, body)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                kind = type(exc).__name__
                await client.close()
            if kind:
                errors[kind] += 1
            else:
                latencies.append((time.perf_counter() - started) * 1000)
        await client.close()

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*[one_client() for _ in range(clients)])
    return latencies, errors, time.perf_counter() - wall, time.process_time() - cpu


def _timed_apart(part: int, args: tuple, out: Connection) -> None:
    """_timed in a client process of its own (a Moving case draws its own origins)."""
    url, variables, clients, seconds, document = args
    if isinstance(variables, Moving):
        variables = Moving(variables.radius, seed=variables.seed + part)
    out.send(asyncio.run(_timed(url, variables, clients, seconds, document)))
    out.close()


async def _timed_in(processes: int, *args: Any) -> tuple[list[float], Counter[str], float, float]:
    """_timed split over `processes` client processes (clients shared out among them), so
    that on a machine of many cores the load generator is not what is measured."""
    url, variables, clients, seconds, document = args
    if processes <= 1:
        return await _timed(*args)
    context = multiprocessing.get_context("fork")
    pipes, workers = [], []
    for part in range(processes):
        share = clients // processes + (part < clients % processes)
        receive, send = context.Pipe(duplex=False)
        worker = context.Process(
            target=_timed_apart, args=(part, (url, variables, share, seconds, document), send)
        )
        worker.start()
        send.close()
        pipes.append(receive)
        workers.append(worker)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    wall = cpu = 0.0
    for receive in pipes:
        got = await asyncio.to_thread(receive.recv)
        latencies += got[0]
        errors.update(got[1])
        wall, cpu = max(wall, got[2]), cpu + got[3]
    for worker in workers:
        worker.join()
    return latencies, errors, wall, cpu


async def drive(
    url: str,
    variables: Any,
    clients: int,
    seconds: float,
    document: str = SEARCH,
    processes: dict[str, int | None] | None = None,
    client_processes: int = 1,
) -> dict:
    """Searches for `seconds` from `clients` clients (common.LightClient), from
    `client_processes` processes; only good answers are timed. The CPU a request costs is
    reported for the clients, which share the machine, and for each of `processes` (name ->
    pid: the API, its database)."""
    processes = processes or {}
    used = {name: cpu_seconds(pid) for name, pid in processes.items()}
    latencies, errors, wall, cpu = await _timed_in(
        client_processes, url, variables, clients, seconds, document
    )
    per_request = 1000 / max(1, len(latencies))
    return {
        "client_cpu_ms": round(cpu * per_request, 2),
        **{
            f"{name}_cpu_ms": round((cpu_seconds(pid) - used[name]) * per_request, 2)
            for name, pid in processes.items()
        },
        "p50_ms": round(_pct(latencies, 50), 2),
        "p99_ms": round(_pct(latencies, 99), 2),
        "max_ms": round(max(latencies, default=float("nan")), 2),
        "rps": round(len(latencies) / wall, 1),
        "requests": len(latencies),
        "errors": dict(errors),
    }


async def commands_per_request(settings: Settings, uri: str, database_name: str) -> dict:
    """The same searches in-process, with the driver counting what they send."""

    class Counter(monitoring.CommandListener):
        count = 0

        def started(self, event: monitoring.CommandStartedEvent) -> None:
            Counter.count += 1

        def succeeded(self, event: Any) -> None: ...

        def failed(self, event: Any) -> None: ...

    database = open_database(uri, database_name, event_listeners=[Counter()])
    services = Services.build(settings, database)
    # built first, as the served process does before it says it is ready (a search that
    # arrives during the build waits for it, and at 200,000 stays outlives its own budget)
    await services.search.index.refresh()
    app = create_app(settings, services)
    per_case = {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench"
    ) as client:
        for name, variables in CASES.items():
            counts = []
            for _ in range(5):
                Counter.count = 0
                kind = error_kind(
                    await client.post(
                        "/graphql", json={"query": SEARCH, "variables": asked(variables)}
                    )
                )
                fail_on_errors(f"counting the commands of {name}", {kind: 1} if kind else {})
                counts.append(Counter.count)
            per_case[name] = max(counts)
    await database.close()
    return per_case


async def floor_commands(database: Database, seconds: float) -> dict:
    """The two commands a search sends, alone: what changed (nothing, here), then a page of
    20 certificates by number. Below this no design of the API can go."""
    numbers = [d["_id"] async for d in database.certificates.find({}, {"_id": 1}).limit(20)]
    since = utcnow() - timedelta(seconds=30)
    latencies = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(latencies) < 3:
        started = time.perf_counter()
        await database.certificates.find({"updatedAt": {"$gte": since}}).to_list()
        page = await database.certificates.find({"_id": {"$in": numbers}}).to_list()
        latencies.append((time.perf_counter() - started) * 1000)
        assert len(page) == 20
    return {"p50_ms": round(_pct(latencies, 50), 2), "requests": len(latencies)}


def held_by(parent: int, workers: list[int], one: dict | None) -> dict:
    """What N API processes hold, in MB: each worker's resident, proportional (its shared
    pages divided among their sharers) and private memory; the total, parent included
    (with N > 1 gunicorn's parent holds the copies its workers were forked from); and what
    each worker costs beside the first process (`one`: the figures with one process)."""
    processes = [*({parent} - set(workers)), *workers]
    figures = {pid: shared_memory(pid) for pid in processes}
    total = sum(f["pss"] for f in figures.values()) / MIB
    held: dict[str, Any] = {
        "workers_rss_mb": [round(figures[pid]["rss"] / MIB) for pid in workers],
        "workers_pss_mb": [round(figures[pid]["pss"] / MIB) for pid in workers],
        "workers_private_mb": [round(figures[pid]["private"] / MIB) for pid in workers],
        "total_mb": round(total),
    }
    if parent not in workers:
        held["parent_pss_mb"] = round(figures[parent]["pss"] / MIB)
    if one is not None and len(workers) > 1:
        held["added_per_worker_mb"] = round((total - one["total_mb"]) / (len(workers) - 1))
    return held


async def scaling(server: EmbeddedServer, database_name: str, args: Any) -> None:
    """Throughput and latency of one port served by N API processes, for each N asked."""
    counts = [int(n) for n in args.workers.split(",")]
    jobs = [
        ("r5km", SEARCH, CASES["r5km"]),
        ("r5km, moving", SEARCH, CASES["r5km, moving"]),
        ("typename (floor)", TYPENAME, {}),
    ]
    results: dict[str, dict] = {}
    resident: dict[int, dict] = {}
    for n in counts:
        async with served_api(server.uri, database_name, HOMESTAY_WORKERS=str(n)) as (url, proc):
            workers = children(proc.pid) if n > 1 else [proc.pid]
            # every worker built its own index: wait until each has answered as ready
            await asyncio.sleep(1.0 + 0.5 * n)
            await drive(url, CASES["r5km"], args.clients, 1.0)  # warm every connection
            for name, document, variables in jobs:
                figures = await drive(
                    url,
                    variables,
                    args.clients,
                    args.seconds,
                    document,
                    {"api": proc.pid, "database": server.pid},
                    args.client_processes,
                )
                fail_on_errors(f"{name} with {n} workers", figures["errors"])
                results[f"{name}/w{n}"] = figures
                base = results.get(f"{name}/w{counts[0]}", figures)
                print(
                    f"{name:<18} workers {n}  {figures['rps']:>7.1f} req/s "
                    f"({figures['rps'] / base['rps']:.2f}x)  p50 {figures['p50_ms']:>7.2f} ms  "
                    f"p99 {figures['p99_ms']:>7.2f} ms  (CPU a request: API "
                    f"{figures['api_cpu_ms']:.2f}, database {figures['database_cpu_ms']:.2f}, "
                    f"this client {figures['client_cpu_ms']:.2f} ms)",
                    file=sys.stderr,
                )
            resident[n] = held_by(proc.pid, workers, resident.get(counts[0]))
            resident[n]["ready_s"] = round(proc.ready_s, 1)  # type: ignore[attr-defined]
            if n > 1:
                resident[n]["replaced_ready_s"] = await replaced(url, proc.pid)
            print(f"workers {n}: memory {resident[n]}", file=sys.stderr)
    print(
        json.dumps(
            {
                "stays": args.stays,
                "clients": args.clients,
                "seconds_per_case": args.seconds,
                "cores": os.cpu_count(),
                "cases": results,
                "memory": resident,
                "errors": 0,
            }
        )
    )


async def replaced(url: str, parent: int, within_s: float = 120.0) -> float:
    """A worker killed (SIGKILL): seconds until its replacement answers /readyz, with the
    copies it inherited from the parent."""
    before = set(children(parent))
    os.kill(min(before), signal.SIGKILL)
    killed = time.perf_counter()
    async with httpx.AsyncClient(timeout=2) as client:
        while time.perf_counter() - killed < within_s:
            await asyncio.sleep(0.05)
            new = set(children(parent)) - before
            if not new:
                continue
            try:  # a connection of its own each time, which the kernel may give the new worker
                answer = await client.get(f"{url}/readyz", headers={"Connection": "close"})
            except httpx.HTTPError:
                continue
            ready = answer.json() if answer.status_code == 200 else {}
            if ready.get("process") in new:
                if ready.get("copies") != "inherited":
                    raise BenchmarkFailed("a replaced worker's copies", {str(ready["copies"]): 1})
                return round(time.perf_counter() - killed, 2)
    raise BenchmarkFailed(f"a worker replaced within {within_s:.0f} s", {"NOT_REPLACED": 1})


async def geo_near_baseline(database: Database, seconds: float) -> dict:
    collection = database.db["certificates"]
    try:
        await collection.create_index([("listing.location", "2dsphere")], name="bench_2dsphere")
    except Exception:  # noqa: BLE001 - a server that needs no index for $geoNear
        pass
    pipeline = [
        {
            "$geoNear": {
                "near": {"type": "Point", "coordinates": [MOGANSHAN[1], MOGANSHAN[0]]},
                "distanceField": "distance",
                "maxDistance": 5000,
                "spherical": True,
                "key": "listing.location",
                "query": {"status": "VALID", "expiresAt": {"$gt": utcnow()}},
            }
        },
        {"$limit": 20},
    ]
    latencies = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(latencies) < 3:
        started = time.perf_counter()
        rows = await (await collection.aggregate(pipeline)).to_list()
        latencies.append((time.perf_counter() - started) * 1000)
        assert rows, "the baseline found nothing"
    return {"p50_ms": round(_pct(latencies, 50), 2), "requests": len(latencies)}


WRITE_CASES = ("r5km", "r50km+text", "r50km+byname")
BACKLOG_CASES = ("r5km",)


async def _writer(uri: str, database_name: str, *options: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve().parent / "writer.py"),
        uri,
        database_name,
        *options,
        stdout=asyncio.subprocess.PIPE,
    )


async def beside_writes(server: EmbeddedServer, database_name: str, args: Any) -> None:
    """Searches with writes beside them, through another process: p50/p99 of 8 clients
    without, then with (--writes a second, or --backlog: every certificate at once)."""
    figures: dict[str, Any] = {"stays": args.stays}
    async with served_api(server.uri, database_name) as (url, process):
        pids = {"api": process.pid, "database": server.pid}
        for name in BACKLOG_CASES if args.backlog else WRITE_CASES:
            # a second of the case first: what its first search builds (the name order, say)
            # is no part of either figure
            await drive(url, CASES[name], 1, 1.0, SEARCH, pids)
            alone = await drive(url, CASES[name], 8, args.seconds, SEARCH, pids)
            fail_on_errors(f"{name} alone", alone["errors"])
            if args.backlog:
                # every certificate touched (the embedded database does nothing else while it
                # runs), then the searches that find the backlog waiting to be applied
                writer = await _writer(server.uri, database_name, "--backlog")
                out, _ = await writer.communicate()
                beside = await drive(url, CASES[name], 8, args.seconds, SEARCH, pids)
            else:
                writer = await _writer(
                    server.uri,
                    database_name,
                    "--rate",
                    str(args.writes),
                    "--seconds",
                    str(args.seconds),
                )
                assert writer.stdout is not None
                await writer.stdout.readline()  # "ready": its stays chosen, the storm begins
                beside = await drive(url, CASES[name], 8, args.seconds, SEARCH, pids)
                out, _ = await writer.communicate()
            wrote = json.loads(out.decode().strip().splitlines()[-1])
            fail_on_errors(f"{name} beside writes", beside["errors"])
            if wrote.get("failed"):
                sys.exit(f"the writer saw {wrote['failed']} failed writes: no figure")
            ratio = beside["p99_ms"] / alone["p99_ms"] if alone["p99_ms"] else float("nan")
            figures[name] = {"alone": alone, "beside": beside, "writer": wrote}
            print(
                f"{name:<14} alone p50 {alone['p50_ms']:7.2f} p99 {alone['p99_ms']:7.2f} ms "
                f"{alone['rps']:6.1f}/s | with writes p50 {beside['p50_ms']:7.2f} p99 "
                f"{beside['p99_ms']:7.2f} ms {beside['rps']:6.1f}/s | p99 x{ratio:.2f} | "
                f"writer {wrote}",
                file=sys.stderr,
            )
    print(json.dumps(figures))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--stays", type=int, default=STAYS)
    parser.add_argument(
        "--storage-path",
        default=":memory:",
        help="keep the embedded database here; a later run with the same --stays reuses what "
        "it holds instead of loading again (200,000 stays take ~8 minutes to load)",
    )
    parser.add_argument(
        "--workers",
        help="API process counts to compare, e.g. 1,2,4,8: the 5 km search, a moving origin "
        "and { __typename } at each, from --clients clients (nothing else is measured)",
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--client-processes",
        type=int,
        default=1,
        help="with --workers: the clients shared out over this many processes (on a machine "
        "of many cores, so that one client process is not the bottleneck)",
    )
    parser.add_argument(
        "--writes",
        type=float,
        help="a write storm: this many renames and listing edits a second (bench/writer.py, "
        "its own process) beside 8 clients' searches, compared with the same searches alone",
    )
    parser.add_argument(
        "--backlog",
        action="store_true",
        help="every certificate touched at once (a migration) while 8 clients search",
    )
    parser.add_argument(
        "--ready",
        action="store_true",
        help="only start the served process: how long until ready, until the finder is "
        "built, and its resident memory then (one search made first)",
    )
    args = parser.parse_args()

    with EmbeddedServer(args.storage_path) as server:
        database_name = "bench"
        database = open_database(server.uri, database_name)
        await held_or_loaded(database, args.stays, args.storage_path)

        settings = replace(
            Settings.from_env({}),
            mongodb_uri=server.uri,
            database=database_name,
            environment="production",
        )
        if args.workers:
            await scaling(server, database_name, args)
            await database.close()
            return
        if args.writes or args.backlog:
            await beside_writes(server, database_name, args)
            await database.close()
            return
        commands = await commands_per_request(settings, server.uri, database_name)

        results: dict[str, dict] = {}
        started = time.perf_counter()
        async with served_api(server.uri, database_name) as (url, process):
            ready_s = process.ready_s  # type: ignore[attr-defined]
            finder_s = time.perf_counter() - started
            print(
                f"served process ready in {ready_s:.1f} s (the finder's copy built after "
                f"{finder_s:.1f} s)",
                file=sys.stderr,
            )
            if args.ready:
                figures = await drive(url, CASES["r5km"], 1, 1.0, SEARCH, {"api": process.pid})
                fail_on_errors("a search once ready", figures["errors"])
                rss = memory(process.pid)["VmRSS"] / MIB
                print(f"served process resident memory {rss:.0f} MB", file=sys.stderr)
                print(
                    json.dumps(
                        {
                            "stays": args.stays,
                            "ready_s": round(ready_s, 1),
                            "finder_s": round(finder_s, 1),
                            "rss_mb": round(rss),
                        }
                    )
                )
                await database.close()
                return
            jobs = [(name, SEARCH, variables) for name, variables in CASES.items()] + [
                (name, document, variables) for name, (document, variables) in EXTRA.items()
            ]
            for name, document, variables in jobs:
                for clients in (1, 8):
                    figures = await drive(
                        url,
                        variables,
                        clients,
                        args.seconds,
                        document,
                        {"api": process.pid, "database": server.pid},
                    )
                    fail_on_errors(f"{name} with {clients} clients", figures["errors"])
                    results[f"{name}/c{clients}"] = figures
                    print(
                        f"{name:<22} c{clients}  p50 {figures['p50_ms']:>8.2f} ms  "
                        f"p99 {figures['p99_ms']:>8.2f} ms  {figures['rps']:>7.1f} req/s  "
                        f"db cmds/req at most {commands.get(name, '-')}  "
                        f"(CPU a request: API {figures['api_cpu_ms']:.2f}, database "
                        f"{figures['database_cpu_ms']:.2f}, this client "
                        f"{figures['client_cpu_ms']:.2f} ms)",
                        file=sys.stderr,
                    )
            rss = memory(process.pid)["VmRSS"] / MIB
        print(f"served process resident memory {rss:.0f} MB", file=sys.stderr)
        floor = await floor_commands(database, min(args.seconds, 10.0))
        print(f"floor: the two commands alone p50 {floor['p50_ms']:.2f} ms", file=sys.stderr)
        baseline = await geo_near_baseline(
            database, 0 if args.stays > 50_000 else min(args.seconds, 20.0)
        )
        await database.close()

    r5 = results["r5km/c1"]["p50_ms"]
    speedup = baseline["p50_ms"] / r5 if r5 else float("nan")
    print(
        f"\n$geoNear 5 km baseline p50 {baseline['p50_ms']:.1f} ms; "
        f"API 5 km p50 {r5:.2f} ms end to end: {speedup:.0f}x faster",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "stays": args.stays,
                "seconds_per_case": args.seconds,
                "cases": results,
                "db_commands_per_request": commands,
                "resident_mb": round(rss),
                "ready_s": round(ready_s, 1),
                "finder_built_s": round(finder_s, 1),
                "floor_two_commands_p50_ms": floor["p50_ms"],
                "geoNear_baseline_p50_ms": baseline["p50_ms"],
                "speedup_r5km_c1": round(speedup, 1),
                "errors": 0,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
