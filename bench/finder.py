"""Finder benchmark: an inspector's `homestays(county, text, certified)` over 50,000
registered homestays in one county, through HTTP as served, on a fresh embedded server.
The first request builds the process's finder copy (its time is printed apart).

Prints p50 / p99 per case (single client, a page of 20 with totalCount where it says so) and
exits non-zero if any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import error_kind, fail_on_errors, served_api  # noqa: E402

from homestay.clock import utcnow  # noqa: E402
from homestay.domain import geo  # noqa: E402
from homestay.services.accounts import create_account  # noqa: E402
from homestay.services.homestays import findable  # noqa: E402
from homestay.storage.database import apply_schema, open_database  # noqa: E402
from homestay.storage.embedded import EmbeddedServer  # noqa: E402

COUNTY = "330521"
FIRST = "竹溪云山松竹石桥清风明月桃花柳岸茶香翠谷"
SECOND = "居舍院苑庐栈园阁轩堂"
TOWNS = [
    "莫干山镇",
    "武康街道",
    "乾元镇",
    "新市镇",
    "洛舍镇",
    "钟管镇",
    "禹越镇",
    "阜溪街道",
    "舞阳街道",
    "下渚湖街道",
    "雷甸镇",
    "新安镇",
    "康乾街道",
]
VILLAGES = "劳岭 仙潭 后坞 燎原 高峰 紫岭 筏头 南路 四合 何村 庾村 兰树坑".split()
FIND = """query($text: String, $certified: Boolean) { homestays(county: "330521",
  text: $text, certified: $certified, first: 20) { %s edges { node { id name address } } } }"""


def homestay_docs(count: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    now = utcnow()
    docs = []
    for n in range(count):
        name = rng.choice(FIRST) + rng.choice(FIRST) + rng.choice(SECOND) + f"{n}号"
        address = f"德清县{rng.choice(TOWNS)}{rng.choice(VILLAGES)}村{rng.randint(1, 300)}号"
        point = geo.LatLng(30.45 + rng.random() * 0.2, 119.8 + rng.random() * 0.2)
        # registered over the years, as a county's are (not all in the last minute, which
        # every process would read again as "changed")
        written = now - timedelta(days=rng.uniform(1, 1500))
        doc = {
            "_id": secrets.token_hex(12),
            "name": name,
            "nameEn": f"Stay No. {n}",
            "address": address,
            "county": COUNTY,
            "town": None,
            "location": geo.geojson(point),
            "geocoded": False,
            "rooms": rng.randint(2, 20),
            "facilities": [],
            "createdAt": written,
            "updatedAt": written,
            "listedUntil": now.replace(year=now.year + 2) if rng.random() < 0.3 else None,
        }
        doc.update(findable(doc))
        docs.append(doc)
    return docs


async def drive(url: str, token: str, document: str, variables: dict, seconds: float) -> dict:
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    found = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(
        base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        while time.perf_counter() < deadline or not latencies and not errors:
            started = time.perf_counter()
            response = await client.post(
                "/graphql", json={"query": document, "variables": variables}
            )
            kind = error_kind(response)
            if kind:
                errors[kind] += 1
                if errors[kind] == 1:
                    print(f"error: {response.text[:300]}", file=sys.stderr)
            else:
                latencies.append((time.perf_counter() - started) * 1000)
                data = response.json()["data"]["homestays"]
                found = data.get("totalCount", len(data["edges"]))
    if not latencies:
        return {"p50_ms": 0, "p99_ms": 0, "requests": 0, "found": 0, "errors": dict(errors)}
    latencies.sort()
    return {
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
        "requests": len(latencies),
        "found": found,
        "errors": dict(errors),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homestays", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with EmbeddedServer(":memory:") as server:
        database = open_database(server.uri, "bench")
        await apply_schema(database)
        started = time.perf_counter()
        docs = homestay_docs(args.homestays)
        for i in range(0, len(docs), 1000):
            await database.homestays.insert_many(docs[i : i + 1000], ordered=False)
        print(
            f"loaded {args.homestays} homestays in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        token = (
            await create_account(database, role="INSPECTOR", name="bench", counties=[COUNTY])
        ).token
        rare = docs[len(docs) // 2]["name"][:3] + docs[len(docs) // 2]["name"][3:6]
        cases = {
            "one homestay by its name": ({"text": rare}, False),
            "a village (1 in 150)": ({"text": "仙潭村1"}, True),
            "a town (1 in 13)": ({"text": "莫干山镇"}, True),
            "the county name (all)": ({"text": "德清县"}, False),
            "English, any case": ({"text": "stay no. 4242"}, True),
            "no text, certified": ({"certified": True}, False),
            "no text": ({}, True),
        }
        results = {}
        async with served_api(server.uri, "bench") as (url, _):
            first = await drive(url, token, FIND % "", {"text": "德清"}, 0)
            fail_on_errors("the first request", first["errors"])
            print(
                f"first request (builds the finder copy) {first['p50_ms']:.0f} ms", file=sys.stderr
            )
            for name, (variables, count) in cases.items():
                document = FIND % ("totalCount" if count else "")
                figures = await drive(url, token, document, variables, args.seconds)
                fail_on_errors(name, figures["errors"])
                results[name] = figures
                print(
                    f"{name:<28} p50 {figures['p50_ms']:>7.1f} ms  p99 "
                    f"{figures['p99_ms']:>7.1f} ms  {'total' if count else 'page'} "
                    f"{figures['found']}",
                    file=sys.stderr,
                )
        await database.close()
    print(
        json.dumps({"homestays": args.homestays, "cases": results, "errors": 0}, ensure_ascii=False)
    )


if __name__ == "__main__":
    asyncio.run(main())
