"""Load (and fault) benchmark: the HTTP API on loopback, 16 clients, 60 s.

    python3 dev.py bench-load                   # 60 s, 16 clients
    python3 dev.py bench-load --fault           # the database killed for 10 s in the middle
    python3 dev.py bench-load --seconds 20      # a quicker look

Starts the embedded database on disk and the API (`homestay serve`) as separate processes,
loads the demo (300 homestays, their certificates, staff accounts), then each client sends
45% searches near a
demo place, 45% certificate verifications and 10% inspection submissions. A submission is
sent again with the same clientSubmissionId after a timeout, an error or, one time in four,
right after its answer (as a phone does when the answer was lost); each is re-sent until it
is acknowledged.

With --fault the database process is killed (SIGKILL) at a third of the run and restarted on
the same files 10 s later. A monitor polls /readyz throughout.

At the end it counts the load's inspections in the database: acknowledged submissions must
equal stored inspections (none lost, none doubled). Prints a summary and, last, one JSON line;
exits non-zero when a request failed (with --fault: failed otherwise than SERVICE_UNAVAILABLE),
or a write was lost or doubled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import error_kind, fail_on_errors, served_api  # noqa: E402

from homestay.demo import load_demo  # noqa: E402
from homestay.domain.grading import ItemKind  # noqa: E402
from homestay.services import standards  # noqa: E402
from homestay.services.registry import Services  # noqa: E402
from homestay.settings import Settings  # noqa: E402
from homestay.storage.database import apply_schema, open_database  # noqa: E402
from homestay.storage.embedded import EmbeddedServer, free_port  # noqa: E402

SEARCH = """query($near: GeoPointInput!) { searchStays(near: $near, radiusMeters: 5000,
  first: 20) { totalCount edges { node { name grade distanceMeters } } } }"""
VERIFY = """query($n: String!) { verifyCertificate(number: $n) { found status grade } }"""
SUBMIT = """mutation($input: SubmitInspectionInput!) { submitInspection(input: $input) {
  inspection { id clientSubmissionId } errors { code message } } }"""
HOMESTAYS = """query($after: String) { inspections(county: "330521", first: 100, after: $after) {
  pageInfo { hasNextPage endCursor } edges { node { homestay { id } } } } }"""
CENTRES = [(30.60, 119.87), (30.55, 119.95), (30.63, 119.68), (30.52, 119.98)]
CSID_PREFIX = "load-"


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    requests: int = 0
    acknowledged: set[str] = field(default_factory=set)
    sends: int = 0
    resends: int = 0
    slowest_during_outage_ms: float = 0.0


@dataclass
class Outage:
    started: float | None = None
    ended: float | None = None

    def during(self, at: float) -> bool:
        return (
            self.started is not None
            and at >= self.started
            and (self.ended is None or at <= self.ended + 1)
        )


async def client_loop(
    index: int,
    url: str,
    deadline: float,
    tally: Tally,
    outage: Outage,
    token: str,
    homestays: list[str],
    numbers: list[str],
    template: list[dict],
) -> None:
    rng = random.Random(index)
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:

        async def call(query: str, variables: dict, auth: bool = False) -> dict | None:
            started = time.perf_counter()
            extra = {"Authorization": f"Bearer {token}"} if auth else {}
            body = None
            try:
                response = await http.post(
                    "/graphql", json={"query": query, "variables": variables}, headers=extra
                )
                kind = error_kind(response)
                if kind is None:
                    body = response.json()
            except httpx.TimeoutException:
                kind = "client_timeout"
            except httpx.HTTPError:
                kind = "connection_error"
            elapsed = (time.perf_counter() - started) * 1000
            tally.requests += 1
            tally.latencies.append(elapsed)
            if outage.during(time.perf_counter()):
                tally.slowest_during_outage_ms = max(tally.slowest_during_outage_ms, elapsed)
            if kind:
                tally.errors[kind] += 1
            return body

        async def submit() -> None:
            csid = f"{CSID_PREFIX}{uuid.uuid4()}"
            variables = {
                "input": {
                    "clientSubmissionId": csid,
                    "homestayId": rng.choice(homestays),
                    "results": template,
                }
            }
            tally.sends += 1
            while True:
                body = await call(SUBMIT, variables, auth=True)
                payload = (body or {}).get("data", {}).get("submitInspection") if body else None
                if payload and payload["inspection"] and not payload["errors"]:
                    assert payload["inspection"]["clientSubmissionId"] == csid
                    tally.acknowledged.add(csid)
                    if rng.random() < 0.25:  # the answer was lost on the way: sent again
                        tally.resends += 1
                        again = await call(SUBMIT, variables, auth=True)
                        same = ((again or {}).get("data") or {}).get("submitInspection") or {}
                        if (
                            same.get("inspection")
                            and same["inspection"]["id"] != payload["inspection"]["id"]
                        ):
                            tally.errors["doubled"] += 1
                    return
                tally.resends += 1
                await asyncio.sleep(0.5)  # a phone waits a little, then tries again

        while time.perf_counter() < deadline:
            roll = rng.random()
            if roll < 0.45:
                lat, lng = rng.choice(CENTRES)
                await call(
                    SEARCH,
                    {
                        "near": {
                            "lat": lat + rng.uniform(-0.02, 0.02),
                            "lng": lng + rng.uniform(-0.02, 0.02),
                        }
                    },
                )
            elif roll < 0.90:
                number = (
                    rng.choice(numbers)
                    if rng.random() < 0.8
                    else f"330521-2026-{rng.randint(90000, 99999)}"
                )
                await call(VERIFY, {"n": number})
            else:
                await submit()


async def monitor(url: str, deadline: float, timeline: list[tuple[float, int]]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        while time.perf_counter() < deadline:
            try:
                status = (await http.get("/readyz")).status_code
            except httpx.HTTPError:
                status = 0
            timeline.append((time.perf_counter(), status))
            await asyncio.sleep(0.25)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]
        if ordered
        else float("nan")
    )


async def prepare(uri: str, data_dir: Path) -> tuple[str, list[str], list[str], list[dict]]:
    database = open_database(uri, "load")
    await apply_schema(database)
    settings = Settings.from_env({})
    await standards.publish_seed(database, settings.seed_dir)
    accounts_file = data_dir / "accounts.json"
    await load_demo(Services.build(settings, database), accounts_file)
    token = next(
        a["token"]
        for a in json.loads(accounts_file.read_text())
        if a["role"] == "INSPECTOR" and a["county"] == "330521"
    )
    homestays = [d["_id"] async for d in database.homestays.find({"county": "330521"}, {"_id": 1})]
    numbers = [d["_id"] async for d in database.certificates.find({}, {"_id": 1})]
    standard = await standards.find(database)
    template = []
    assert standard is not None, "the seed standard is published at start"
    for item in standard.items:
        if item.kind is ItemKind.MANDATORY:
            template.append({"itemCode": item.code, "passed": True})
        else:
            template.append({"itemCode": item.code, "points": (item.max_points or 0) // 2})
    await database.close()
    return token, homestays, numbers, template


async def stored_submissions(uri: str) -> tuple[set[str], int]:
    """The load's clientSubmissionIds found in the database, and how many are there twice."""
    database = open_database(uri, "load")
    rows = await (
        await database.inspections.aggregate(
            [
                {"$match": {"clientSubmissionId": {"$regex": f"^{CSID_PREFIX}"}}},
                {"$group": {"_id": "$clientSubmissionId", "n": {"$sum": 1}}},
            ]
        )
    ).to_list()
    await database.close()
    return {r["_id"] for r in rows}, sum(r["n"] - 1 for r in rows)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--fault", action="store_true", help="kill the database for 10 s")
    parser.add_argument("--outage", type=float, default=10.0)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="homestay-load-"))
    db_port = free_port()
    server = EmbeddedServer(data_dir / "db", port=db_port, log_path=data_dir / "db.log")
    server.start()
    token, homestays, numbers, template = await prepare(server.uri, data_dir)
    print(
        f"demo loaded: {len(homestays)} Deqing homestays, {len(numbers)} certificates",
        file=sys.stderr,
    )

    tally, outage, timeline = Tally(), Outage(), []
    async with served_api(
        server.uri, "load", log=open(data_dir / "api.log", "wb"), HOMESTAY_DATA_DIR=str(data_dir)
    ) as (url, _):
        start = time.perf_counter()
        deadline = start + args.seconds

        async def fault() -> None:
            await asyncio.sleep(args.seconds / 3)
            outage.started = time.perf_counter()
            os.kill(server.pid, signal.SIGKILL)  # no checkpoint, no goodbye
            server._process.wait()  # noqa: SLF001 - reap it
            server._process = None  # noqa: SLF001
            print(f"t={outage.started - start:.1f}s database killed", file=sys.stderr)
            await asyncio.sleep(args.outage)
            await asyncio.to_thread(server.start)
            outage.ended = time.perf_counter()
            print(f"t={outage.ended - start:.1f}s database restarted", file=sys.stderr)

        tasks = [
            client_loop(i, url, deadline, tally, outage, token, homestays, numbers, template)
            for i in range(args.clients)
        ]
        tasks.append(monitor(url, deadline + 2, timeline))
        if args.fault:
            tasks.append(fault())
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - start
    stored, doubled = await stored_submissions(server.uri)
    server.stop()

    figures = {
        "seconds": round(wall, 1),
        "clients": args.clients,
        "requests": tally.requests,
        "rps": round(tally.requests / wall, 1),
        "p50_ms": round(_pct(tally.latencies, 50), 1),
        "p99_ms": round(_pct(tally.latencies, 99), 1),
        "errors": dict(tally.errors),
        "server_errors_5xx": sum(n for k, n in tally.errors.items() if k.startswith("http_5")),
        "submissions": tally.sends,
        "resends": tally.resends,
        "acknowledged_submissions": len(tally.acknowledged),
        "stored_inspections": len(stored),
        "lost": len(tally.acknowledged - stored),
        "doubled": doubled + tally.errors.get("doubled", 0),
    }
    if args.fault:
        down = [
            t
            for t, s in timeline
            if outage.started
            and outage.started <= t
            and (outage.ended is None or t <= outage.ended)
        ]
        statuses = {s for t, s in timeline if t in down}
        back = next(
            (t for t, s in timeline if outage.ended and t >= outage.ended and s == 200), None
        )
        figures["fault"] = {
            "outage_s": round((outage.ended or 0) - (outage.started or 0), 1),
            "readyz_during_outage": sorted(statuses),
            "slowest_request_during_outage_ms": round(tally.slowest_during_outage_ms),
            "ready_again_after_restart_s": round(back - outage.ended, 1) if back else None,
        }
    print(json.dumps(figures, indent=2), file=sys.stderr)
    # a fault run expects the outage to be said as SERVICE_UNAVAILABLE, and nothing else
    expected = {"SERVICE_UNAVAILABLE"} if args.fault else set()
    fail_on_errors("requests failed", {k: n for k, n in tally.errors.items() if k not in expected})
    fail_on_errors(
        "writes",
        {"acknowledged but not stored": figures["lost"], "stored twice": figures["doubled"]},
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
