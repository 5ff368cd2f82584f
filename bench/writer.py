"""Writes beside the searches, from a process of its own: renames and listing edits of
certified stays, written as the service writes them (the certificate stamped by the
database's clock, then its grade-list row), at a steady rate; or every certificate touched
at once (a migration's backlog). Prints one JSON line.

    python bench/writer.py URI DATABASE --rate 20 --seconds 30
    python bench/writer.py URI DATABASE --backlog
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from homestay.exports import read_model  # noqa: E402
from homestay.storage.database import (  # noqa: E402
    Database,
    open_database,
    stamped,
    update_and_read,
)


async def storm(database: Database, rate: float, seconds: float) -> dict:
    certificates = database.certificates
    # which stays to write, read before the storm (a read of every certificate would stall
    # the embedded database, one process, for seconds: the searches would measure that)
    numbers = [
        d["_id"] async for d in certificates.find({"status": "VALID"}, {"_id": 1}).limit(20_000)
    ]
    print("ready", flush=True)
    rng = random.Random(9)
    done = failed = 0
    began = time.perf_counter()
    while (elapsed := time.perf_counter() - began) < seconds:
        number = rng.choice(numbers)
        change = (
            {"listing.name": f"改名民宿{rng.randrange(100):02d}·{done}"}  # a rename
            if done % 2 == 0
            else {"listing.priceMin": rng.randrange(200, 900)}  # a listing edit
        )
        try:  # as the service writes: the certificate, stamped by the database, then its row
            cert = await update_and_read(certificates, {"_id": number}, stamped({"$set": change}))
            await read_model.sync(database, [cert] if cert else [])
            done += 1
        except Exception:  # noqa: BLE001 - counted: a bench with errors prints no figure
            failed += 1
        ahead = (done + failed) / rate - elapsed
        if ahead > 0:
            await asyncio.sleep(ahead)
    return {"writes": done, "failed": failed, "per_s": round(done / seconds, 1)}


async def backlog(database: Database) -> dict:
    began = time.perf_counter()
    result = await database.certificates.update_many({}, stamped({}))
    return {"touched": result.modified_count, "seconds": round(time.perf_counter() - began, 1)}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("database")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--backlog", action="store_true")
    args = parser.parse_args()
    database = open_database(args.uri, args.database)
    figures = (
        await backlog(database) if args.backlog else await storm(database, args.rate, args.seconds)
    )
    await database.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
