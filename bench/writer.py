"""Writes beside the searches, from a process of its own: renames and listing edits of
certified stays, written as the service writes them (the certificate stamped by the
database's clock, then its grade-list row), at a steady rate; or every certificate touched
at once (a migration's backlog). Prints one JSON line.

    python bench/writer.py URI DATABASE --rate 20 --seconds 30
    python bench/writer.py URI DATABASE --backlog
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from pymongo import MongoClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from homestay.exports.read_model import ROW_PROJECTION, bucket_of, row_of_certificate  # noqa: E402


def storm(database, rate: float, seconds: float) -> dict:
    certificates = database.certificates
    # which stays to write, read before the storm (a read of every certificate would stall
    # the embedded database, one process, for seconds: the searches would measure that)
    numbers = [d["_id"] for d in certificates.find({"status": "VALID"}, {"_id": 1}).limit(20_000)]
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
        try:
            # as the service writes: the certificate, stamped by the database, then its row
            # (update then read, as storage.database.update_and_read: the embedded server's
            # findAndModify scans the collection)
            certificates.update_one(
                {"_id": number}, {"$set": change, "$currentDate": {"updatedAt": True}}
            )
            cert = certificates.find_one({"_id": number}, ROW_PROJECTION)
            row = row_of_certificate(cert)
            database.certificate_rows.update_one(
                {"_id": bucket_of(number)},
                {"$set": {f"rows.{number}": row}, "$max": {"updatedAt": row["updatedAt"]}},
            )
            done += 1
        except Exception:  # noqa: BLE001 - counted: a bench with errors prints no figure
            failed += 1
        ahead = (done + failed) / rate - elapsed
        if ahead > 0:
            time.sleep(ahead)
    return {"writes": done, "failed": failed, "per_s": round(done / seconds, 1)}


def backlog(certificates) -> dict:
    began = time.perf_counter()
    result = certificates.update_many({}, {"$currentDate": {"updatedAt": True}})
    return {"touched": result.modified_count, "seconds": round(time.perf_counter() - began, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("database")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--backlog", action="store_true")
    args = parser.parse_args()
    database = MongoClient(args.uri, tz_aware=True)[args.database]
    figures = (
        backlog(database.certificates) if args.backlog else storm(database, args.rate, args.seconds)
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
