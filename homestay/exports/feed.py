"""Reading the grade list for the bureau's exports and the public open-data feed: where to
read (the read model once built, the certificates until then), in batches with a database
cursor, and when the feed last changed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from homestay.domain.certificates import CertificateStatus
from homestay.domain.disclosure import PUBLIC_CERTIFICATE_FIELDS, PUBLIC_LISTING_FIELDS
from homestay.exports import read_model
from homestay.exports.grade_list import ExportQuery, row_of
from homestay.storage.database import Database

BATCH = 1000


async def certificate_rows(
    db: Database, query: ExportQuery, now: datetime, lang: str = "zh"
) -> AsyncIterator[list[dict[str, Any]]]:
    """Batches of rows, in certificate-number order (county, year, sequence).

    From the read model (buckets of 100 rows: homestay/exports/read_model.py) once it is built,
    filtered here; until then from the certificates themselves, filtered by the database
    (the (county, _id) index serves a county list's filter and order)."""
    source: AsyncIterator[dict[str, Any]]
    if await read_model.is_built(db):
        source = (
            cert
            async for cert in read_model.rows_in_order(db, query.counties)
            if query.matches(cert, now)
        )
    else:
        source = aiter(
            db.certificates.find(
                query.filter(now), read_model.ROW_PROJECTION, batch_size=BATCH, allow_disk_use=True
            ).sort("_id", 1)
        )
    batch: list[dict[str, Any]] = []
    async for cert in source:
        batch.append(row_of(cert, now, lang))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def count_rows(db: Database, query: ExportQuery, now: datetime) -> int:
    return await db.certificates.count_documents(query.filter(now))


# -- the open-data feed ------------------------------------------------------------------------

OPEN_DATA_QUERY = ExportQuery(counties=None, status=CertificateStatus.VALID)
FEED_FORMAT = "1"


async def open_data_changed_at(db: Database, now: datetime) -> datetime:
    """When the set of VALID certificates, or anything shown of them, last changed.

    Every write to a certificate sets its updatedAt; the only change without a write is a
    VALID certificate reaching its expiry, so the later of the last write and the last
    expiry passed is the feed's modification time. Index-backed single-document reads.
    """
    # the feed is read from the read model once it is built: its newest bucket says when
    # its rows last changed (a row healed late moves it then, not before)
    written = db.certificate_rows if await read_model.is_built(db) else db.certificates
    last_write = await written.find_one({}, {"updatedAt": 1}, sort=[("updatedAt", -1)])
    last_lapse = await db.certificates.find_one(
        {"status": "VALID", "expiresAt": {"$lte": now}}, {"expiresAt": 1}, sort=[("expiresAt", -1)]
    )
    moments = [datetime(2000, 1, 1, tzinfo=UTC)]
    if last_write is not None and last_write.get("updatedAt"):
        moments.append(last_write["updatedAt"])
    if last_lapse is not None:
        moments.append(last_lapse["expiresAt"])
    return max(moments)


# the feed lists VALID certificates only: a listed stay's public fields, and nothing else
_OPEN_FIELDS = (
    "number",
    "homestayName",
    "county",
    "countyName",
    "town",
    "address",
    "grade",
    "gradeLabel",
    "issuedAt",
    "expiresAt",
    "lat",
    "lng",
    "standard",
)
assert set(_OPEN_FIELDS) <= PUBLIC_CERTIFICATE_FIELDS | PUBLIC_LISTING_FIELDS


async def open_data_rows(db: Database, now: datetime) -> AsyncIterator[list[dict]]:
    """VALID certificates only, and only what a listing shows: no people, no scores."""
    async for batch in certificate_rows(db, OPEN_DATA_QUERY, now):
        yield [{k: row[k] for k in _OPEN_FIELDS} for row in batch]


class ExportService:
    """The reads above, for the HTTP views."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def database_now(self) -> datetime:
        """Now by the database's clock, which stamps the changes the feed dates."""
        return await self.db.clock.now()

    def rows(
        self, query: ExportQuery, now: datetime, lang: str = "zh"
    ) -> AsyncIterator[list[dict[str, Any]]]:
        return certificate_rows(self.db, query, now, lang)

    async def count(self, query: ExportQuery, now: datetime) -> int:
        return await count_rows(self.db, query, now)

    async def open_data_changed_at(self, now: datetime) -> datetime:
        return await open_data_changed_at(self.db, now)

    def open_data(self, now: datetime) -> AsyncIterator[list[dict]]:
        return open_data_rows(self.db, now)
