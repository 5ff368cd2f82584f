"""The grade list's read model: certificate rows kept in buckets of 100, for bulk reading.

A grade list reads every certificate of a county. Read one document per certificate and the
database's per-document cost sets the pace (the embedded server gives about 7,000 a second
for a filtered, ordered find); read buckets of 100 rows and it gives about 80,000 rows a
second. So each certificate's row (the fields a list shows, nothing more) is also kept in the
bucket of its number, `certificate_rows`, `_id` "<county>-<year>-<sequence // 100>". A bucket
is rewritten whole on each write: 100 rows keep a live write cheap (docs/architecture.md).

The certificates stay the source of truth. Every service that writes a certificate syncs its
row right after (a retried request syncs again); a row is only ever replaced by one at least
as new (`updatedAt`), so racing writers cannot set it back; and a reconciler, once a minute
in one process of all, compares the rows of the certificates written since the last pass
began with the certificates, and heals a row left behind by a process that stopped between
the two writes. Each change is compared about once (a pass reads only what the one before did
not: reading a bucket costs the embedded database ~2 ms, and five minutes re-read every minute
by every process cost it seconds a minute, which every search waited behind). A bucket's
`updatedAt` is its newest row's, so the open-data feed's version moves only once its rows
have. On a database that has certificates but no read model yet (an older data directory, a
bulk load), `ensure_built` builds it whole.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from homestay.clock import utcnow
from homestay.storage.database import Database

log = logging.getLogger("homestay.rows")

BUCKET_SIZE = 100
MODEL_VERSION = 2  # 2: rows keep the English name too (the search index is built from them)
RECONCILE_EVERY_S = 60
RECONCILE_WINDOW = timedelta(minutes=5)  # what the first pass of a database looks back over
# a write stamped before a pass began but committed after its read (the server's own time
# applying it: milliseconds), read again by the next pass
RECONCILE_OVERLAP = timedelta(seconds=1)
RECONCILE_CHUNK = 100  # certificates compared at a time (a command that holds the
# embedded database ~0.2 s at most: searches run between)
_RECONCILER = "certificate_rows_reconciled"  # meta: `began` (claimed), `checked` (done to)
_DUPLICATE_KEY = 11000
# what a row keeps of its certificate: what a list shows, and what its filters test
ROW_PROJECTION = {
    "county": 1,
    "grade": 1,
    "status": 1,
    "issuedAt": 1,
    "expiresAt": 1,
    "standard": 1,
    "totalPoints": 1,
    "updatedAt": 1,
    "listing.name": 1,
    "listing.nameEn": 1,
    "listing.town": 1,
    "listing.address": 1,
    "listing.location": 1,
}


def bucket_of(number: str) -> str:
    county, year, sequence = number.split("-")
    return f"{county}-{year}-{int(sequence) // BUCKET_SIZE:03d}"


def row_of_certificate(cert: dict) -> dict:
    listing = cert.get("listing") or {}
    return {
        "county": cert["county"],
        "grade": cert["grade"],
        "status": cert["status"],
        "issuedAt": cert["issuedAt"],
        "expiresAt": cert["expiresAt"],
        "standard": cert.get("standard"),
        "totalPoints": cert.get("totalPoints"),
        "updatedAt": cert.get("updatedAt") or cert["issuedAt"],
        "listing": {k: listing.get(k) for k in ("name", "nameEn", "town", "address", "location")},
    }


async def sync(db: Database, certificates: Iterable[dict]) -> None:
    """Put these certificates' rows in their buckets, unless a newer row is there already:
    what every writer calls after a write (a few rows)."""
    ops = []
    for cert in certificates:
        number, row = cert["_id"], row_of_certificate(cert)
        ops.append(
            UpdateOne(
                # `$not: {$gt}` also matches a row not there yet; a bucket not there is upserted
                {
                    "_id": bucket_of(number),
                    f"rows.{number}.updatedAt": {"$not": {"$gt": row["updatedAt"]}},
                },
                {
                    "$set": {"county": cert["county"], f"rows.{number}": row},
                    "$max": {"updatedAt": row["updatedAt"]},
                },
                upsert=True,
            )
        )
    if not ops:
        return
    try:
        await db.certificate_rows.bulk_write(ops, ordered=False)
    except BulkWriteError as exc:
        # a duplicate key is the upsert of a bucket whose row is newer than ours: nothing to do
        others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != _DUPLICATE_KEY]
        if others:
            raise


async def _sync_buckets(db: Database, certificates: list[dict]) -> None:
    """Many rows at once: one write per bucket (a bucket is rewritten whole on every write,
    so row by row would cost a bucket's size each). Unconditional: a row a live writer
    changed meanwhile may be set back, and the reconciler's next pass restores it."""
    by_bucket: dict[str, dict] = {}
    newest: dict[str, datetime] = {}
    for cert in certificates:
        key, row = bucket_of(cert["_id"]), row_of_certificate(cert)
        by_bucket.setdefault(key, {"county": cert["county"]})[f"rows.{cert['_id']}"] = row
        newest[key] = max(newest.get(key, row["updatedAt"]), row["updatedAt"])
    if by_bucket:
        await db.certificate_rows.bulk_write(
            [
                UpdateOne(
                    {"_id": key}, {"$set": change, "$max": {"updatedAt": newest[key]}}, upsert=True
                )
                for key, change in by_bucket.items()
            ],
            ordered=False,
        )


async def sync_matching(db: Database, where: dict) -> None:
    """Sync the rows of the certificates matching `where` (after an update_many)."""
    await sync(db, await db.certificates.find(where, ROW_PROJECTION).to_list())


async def reconcile(db: Database, since: datetime) -> int:
    """Compare the rows of every certificate written since `since` with the certificates,
    and rewrite those that differ (a process stopped between the two writes, or a racing
    writer set a row back), RECONCILE_CHUNK certificates at a time. A healed bucket's
    `updatedAt` becomes now, so that the open-data feed's version moves with it. Returns how
    many rows were healed."""
    healed = 0
    chunk: list[dict] = []
    async for cert in db.certificates.find(
        {"updatedAt": {"$gte": since}}, ROW_PROJECTION, batch_size=RECONCILE_CHUNK
    ):
        chunk.append(cert)
        if len(chunk) == RECONCILE_CHUNK:
            healed += await _heal(db, chunk)
            chunk = []
    return healed + await _heal(db, chunk)


async def _heal(db: Database, certificates: list[dict]) -> int:
    if not certificates:
        return 0
    keys = list({bucket_of(c["_id"]) for c in certificates})
    # only the rows compared, not the buckets' other rows
    wanted = {f"rows.{c['_id']}": 1 for c in certificates}
    stored = {
        b["_id"]: b.get("rows") or {}
        async for b in db.certificate_rows.find({"_id": {"$in": keys}}, wanted)
    }
    now = await db.clock.now()  # the open data's Last-Modified reads it by that clock too
    ops = []
    for cert in certificates:
        key, row = bucket_of(cert["_id"]), row_of_certificate(cert)
        if stored.get(key, {}).get(cert["_id"]) != row:
            ops.append(
                UpdateOne(
                    {"_id": key},
                    {
                        "$set": {"county": cert["county"], f"rows.{cert['_id']}": row},
                        "$max": {"updatedAt": now},
                    },
                    upsert=True,
                )
            )
    if ops:
        await db.certificate_rows.bulk_write(ops, ordered=False)
    return len(ops)


async def _sync_cursor(db: Database, cursor, chunk_rows: int = 2000) -> int:
    count = 0
    chunk: list[dict] = []
    async for cert in cursor:
        # flush between buckets only, so that an ordered cursor writes each bucket once
        if len(chunk) >= chunk_rows and bucket_of(cert["_id"]) != bucket_of(chunk[-1]["_id"]):
            await _sync_buckets(db, chunk)
            count += len(chunk)
            chunk = []
        chunk.append(cert)
    await _sync_buckets(db, chunk)
    return count + len(chunk)


async def is_built(db: Database) -> bool:
    return await db.marked("certificate_rows", MODEL_VERSION)


async def ensure_built(db: Database) -> bool:
    """Build the read model whole if this database has never had it. True if it did."""
    if await is_built(db):
        return False
    started = utcnow()
    # in number order, so that each bucket is written once, whole
    built = await _sync_cursor(
        db, db.certificates.find({}, ROW_PROJECTION, batch_size=1000).sort("_id", 1)
    )
    await db.mark("certificate_rows", MODEL_VERSION, builtAt=started)
    log.info("certificate rows built: %d", built)
    return True


async def reconcile_recent(db: Database) -> int:
    """reconcile() over the certificates written in the last RECONCILE_WINDOW by the
    database's clock, which stamps them: a process whose own clock runs ahead would otherwise
    look at a window no write falls in."""
    return await reconcile(db, await db.clock.now() - RECONCILE_WINDOW)


async def reconcile_due(db: Database, every_s: float = RECONCILE_EVERY_S) -> int | None:
    """One pass, unless any process began one in the last `every_s` (then None): over the
    certificates written since the last finished pass began (less RECONCILE_OVERLAP), or over
    the last RECONCILE_WINDOW on a database's first pass, by the database's clock. A pass
    that dies leaves its start unrecorded as done, so the next covers its window again; two
    passes at once (one outlived `every_s`) are harmless, each row compared is written only
    if it differs. Returns how many rows were healed."""
    now = await db.clock.now()
    try:
        before = await db.meta.find_one_and_update(
            {"_id": _RECONCILER, "began": {"$lte": now - timedelta(seconds=every_s)}},
            {"$set": {"began": now}},
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
    except DuplicateKeyError:  # the marker is there, and a pass began less than every_s ago
        return None
    checked = (before or {}).get("checked")
    if checked is None:
        since = now - RECONCILE_WINDOW
    else:
        since = checked - RECONCILE_OVERLAP
    healed = await reconcile(db, since)
    await db.meta.update_one({"_id": _RECONCILER}, {"$max": {"checked": now}})
    return healed


async def reconcile_forever(db: Database, every_s: float = RECONCILE_EVERY_S) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            healed = await reconcile_due(db, every_s)
            if healed:
                log.warning("certificate rows healed: %d", healed)
        except PyMongoError as exc:
            log.warning("certificate rows not reconciled (%s)", type(exc).__name__)


async def all_rows(db: Database, size: int = 1_000) -> AsyncIterator[list[dict]]:
    """Every row, `size` or so at a time and in no order, each the stored row itself with
    `_id` set to its number: what the stay index is built from, with no certificate-shaped
    copy a row (as rows_in_order makes)."""
    chunk: list[dict] = []
    async for bucket in db.certificate_rows.find({}, batch_size=10):
        for number, row in (bucket.get("rows") or {}).items():
            row["_id"] = number
            chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def rows_in_order(db: Database, counties: Iterable[str] | None) -> AsyncIterator[dict]:
    """Every row of these counties (all with None) in certificate-number order, each shaped
    like a certificate document (`_id` is its number)."""
    match: dict[str, Any] = {} if counties is None else {"county": {"$in": list(counties)}}
    async for bucket in db.certificate_rows.find(match, batch_size=10).sort("_id", 1):
        rows = bucket.get("rows") or {}
        for number in sorted(rows):
            yield {"_id": number, **rows[number]}
