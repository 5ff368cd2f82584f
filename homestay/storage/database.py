"""The MongoDB collections, their indexes and validators, and the connection to them.

Every write that matters is journaled and majority-acknowledged: a write acknowledged to a
client survives a crash and a failover. Searches read from secondaries when there are any.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, OperationFailure
from pymongo.write_concern import WriteConcern

from homestay.settings import ROOT

VALIDATORS_DIR = ROOT / "schema" / "validators"
DURABLE = WriteConcern(w="majority", j=True)

INDEXES: dict[str, list[IndexModel]] = {
    "accounts": [
        IndexModel([("tokenHash", ASCENDING)], unique=True, name="token_unique"),
        IndexModel([("counties", ASCENDING), ("role", ASCENDING)], name="county_role"),
    ],
    "grading_standards": [
        IndexModel(
            [("code", ASCENDING), ("version", DESCENDING)], unique=True, name="code_version_unique"
        ),
    ],
    "homestays": [
        IndexModel(
            [("county", ASCENDING), ("name", ASCENDING), ("_id", ASCENDING)], name="county_name"
        ),
        # the finder's copy in each process catches up by it, in chunks (search/caught_up.py)
        IndexModel([("updatedAt", ASCENDING), ("_id", ASCENDING)], name="updated_id"),
        # a registration re-sent from a phone after a timeout finds the first one
        IndexModel(
            [("clientRequestId", ASCENDING)],
            unique=True,
            name="request_unique",
            partialFilterExpression={"clientRequestId": {"$exists": True}},
        ),
    ],
    "inspections": [
        # idempotent submission: a retried or concurrent duplicate send hits this index
        IndexModel([("clientSubmissionId", ASCENDING)], unique=True, name="submission_unique"),
        IndexModel(
            [("homestayId", ASCENDING), ("submittedAt", DESCENDING), ("_id", DESCENDING)],
            name="homestay_submitted",
        ),
        IndexModel(
            [
                ("county", ASCENDING),
                ("status", ASCENDING),
                ("submittedAt", DESCENDING),
                ("_id", DESCENDING),
            ],
            name="county_status_submitted",
        ),
        IndexModel(
            [("county", ASCENDING), ("submittedAt", DESCENDING), ("_id", DESCENDING)],
            name="county_submitted",
        ),
    ],
    "inspection_requests": [
        # at most one open request per homestay: asking again returns it
        IndexModel(
            [("homestayId", ASCENDING)],
            unique=True,
            name="one_open_per_homestay",
            partialFilterExpression={"status": "OPEN"},
        ),
        # the county's queue, oldest first
        IndexModel(
            [
                ("county", ASCENDING),
                ("status", ASCENDING),
                ("requestedAt", ASCENDING),
                ("_id", ASCENDING),
            ],
            name="county_status_requested",
        ),
        IndexModel(
            [("county", ASCENDING), ("requestedAt", ASCENDING), ("_id", ASCENDING)],
            name="county_requested",
        ),
        IndexModel(
            [("homestayId", ASCENDING), ("requestedAt", ASCENDING)], name="homestay_requested"
        ),
    ],
    "appeals": [
        # one appeal per decision: appealing again returns it
        IndexModel([("decisionKey", ASCENDING)], unique=True, name="decision_unique"),
        # the bureau's queue, oldest first
        IndexModel(
            [
                ("county", ASCENDING),
                ("status", ASCENDING),
                ("appealedAt", ASCENDING),
                ("_id", ASCENDING),
            ],
            name="county_status_appealed",
        ),
        IndexModel(
            [("county", ASCENDING), ("appealedAt", ASCENDING), ("_id", ASCENDING)],
            name="county_appealed",
        ),
        IndexModel(
            [("homestayId", ASCENDING), ("appealedAt", ASCENDING), ("_id", ASCENDING)],
            name="homestay_appealed",
        ),
        IndexModel([("inspectionId", ASCENDING)], sparse=True, name="inspection"),
    ],
    "uploads.files": [
        # a photo sent again with the same Idempotency-Key finds the first one
        IndexModel(
            [("metadata.uploadKey", ASCENDING)],
            unique=True,
            name="upload_key_unique",
            partialFilterExpression={"metadata.uploadKey": {"$exists": True}},
        ),
    ],
    # the least recently used persisted queries are evicted first (services/persisted.py)
    "persisted_queries": [IndexModel([("usedAt", ASCENDING)], name="used")],
    "concerns": [
        # the same words about the same certificate on the same day are one concern
        IndexModel([("sameKey", ASCENDING)], unique=True, name="same_concern_unique"),
        IndexModel([("receipt", ASCENDING)], unique=True, name="receipt_unique"),
        IndexModel(
            [
                ("county", ASCENDING),
                ("status", ASCENDING),
                ("reportedAt", DESCENDING),
                ("_id", DESCENDING),
            ],
            name="county_status_reported",
        ),
        IndexModel(
            [("county", ASCENDING), ("reportedAt", DESCENDING), ("_id", DESCENDING)],
            name="county_reported",
        ),
    ],
    "assignments": [
        # at most one open assignment per homestay: assigning again returns it
        IndexModel(
            [("homestayId", ASCENDING)],
            unique=True,
            name="one_open_per_homestay",
            partialFilterExpression={"status": "OPEN"},
        ),
        # the county's assignments, newest first, by status or by inspector
        IndexModel(
            [("county", ASCENDING), ("createdAt", DESCENDING), ("_id", DESCENDING)],
            name="county_created",
        ),
        IndexModel(
            [
                ("county", ASCENDING),
                ("status", ASCENDING),
                ("createdAt", DESCENDING),
                ("_id", DESCENDING),
            ],
            name="county_status_created",
        ),
        # an inspector's open ones by due day (the route), and who is due tomorrow
        IndexModel(
            [("inspector.id", ASCENDING), ("status", ASCENDING), ("dueDate", ASCENDING)],
            name="inspector_status_due",
        ),
        IndexModel([("status", ASCENDING), ("dueDate", ASCENDING)], name="status_due"),
    ],
    # a draw is unique by county and seed: sent again, the first one is returned
    "spot_checks": [
        IndexModel([("county", ASCENDING), ("seed", ASCENDING)], unique=True, name="county_seed")
    ],
    "certificate_rows": [
        IndexModel([("county", ASCENDING), ("_id", ASCENDING)], name="county_bucket"),
        IndexModel([("updatedAt", DESCENDING)], name="updated"),
    ],
    "certificates": [
        # at most one current certificate per homestay, so never two VALID ones
        IndexModel(
            [("homestayId", ASCENDING)],
            unique=True,
            name="one_current_per_homestay",
            partialFilterExpression={"current": True},
        ),
        IndexModel([("homestayId", ASCENDING), ("issuedAt", DESCENDING)], name="homestay_issued"),
        IndexModel([("county", ASCENDING), ("issuedAt", DESCENDING)], name="county_issued"),
        # exports: a county's certificates in number order
        IndexModel([("county", ASCENDING), ("_id", ASCENDING)], name="county_number"),
        # the stay index's catch-up (search/caught_up.py); the open-data feed's
        # version: the last change; and the VALID ones by expiry
        IndexModel([("updatedAt", ASCENDING), ("_id", ASCENDING)], name="updated_id"),
        IndexModel([("status", ASCENDING), ("expiresAt", ASCENDING)], name="status_expires"),
    ],
}


def stamped(update: dict) -> dict:
    """`update` with `updatedAt` set by the database's clock (`$currentDate`), never by the
    writer's: the in-process copies read changes in the order of these stamps
    (search/caught_up.py), so a writer whose clock is off cannot hide its writes from them."""
    out = dict(update)
    fields = {k: v for k, v in out.pop("$set", {}).items() if k != "updatedAt"}
    if fields:
        out["$set"] = fields
    out["$currentDate"] = {**out.get("$currentDate", {}), "updatedAt": True}
    return out


async def stamp(collection: AsyncCollection, key: Any) -> dict | None:
    """A document just inserted, stamped by the database's clock: the stamped document."""
    return await update_and_read(collection, {"_id": key}, {"$currentDate": {"updatedAt": True}})


async def update_and_read(collection: AsyncCollection, where: dict, update: dict) -> dict | None:
    """The document `where` (an `_id` and perhaps conditions) after `update`, or None if none
    matched: what find_one_and_update(..., AFTER) gives, as two commands. The update is one
    atomic write with its conditions, so a claim (`status: OPEN` -> taken) is still won by
    exactly one caller; the read after it may also show a later writer's change, never an
    earlier state, and every caller here keeps the newest (rows, listings, copies).

    Why not findAndModify: the embedded SecantusDB (0.7.0b3) answers it by scanning the whole
    collection, `_id` or not, and does nothing else meanwhile: measured 1.5 s at 200,000
    certificates, 4 s at 200,000 homestays, where update_one by `_id` takes 2-3 ms. Counters
    ($inc, whose value must be the caller's own) keep findAndModify: that collection is small."""
    result = await collection.update_one(where, update)
    if result.matched_count == 0:
        return None
    return await collection.find_one({"_id": where["_id"]})


class DatabaseClock:
    """Now by the database's clock, which stamps every change (`stamped`): this process's
    clock corrected by the offset read every `every_s`, so that a process whose own clock is
    off still reads the stamps right."""

    def __init__(self, database: Database, every_s: float = 60.0) -> None:
        self.database = database
        self.every_s = every_s
        self.offset = timedelta(0)
        self._read_at = -math.inf

    async def now(self) -> datetime:
        if time.monotonic() - self._read_at > self.every_s:
            server, local = await self.database.server_now()
            self.offset = server - local
            self._read_at = time.monotonic()
        return datetime.now(UTC) + self.offset


@dataclass(frozen=True)
class Database:
    """The handles the application uses; one per process, shared by all requests."""

    client: AsyncMongoClient
    db: AsyncDatabase

    @cached_property
    def clock(self) -> DatabaseClock:
        """The database's clock, as every reader of the stamps shares it."""
        return DatabaseClock(self)

    def collection(self, name: str) -> AsyncCollection:
        return self.db.get_collection(name, write_concern=DURABLE)

    @property
    def accounts(self) -> AsyncCollection:
        return self.collection("accounts")

    @property
    def standards(self) -> AsyncCollection:
        return self.collection("grading_standards")

    @property
    def homestays(self) -> AsyncCollection:
        return self.collection("homestays")

    @property
    def inspections(self) -> AsyncCollection:
        return self.collection("inspections")

    @property
    def certificates(self) -> AsyncCollection:
        return self.collection("certificates")

    @property
    def persisted_queries(self) -> AsyncCollection:
        return self.collection("persisted_queries")

    @property
    def inspection_requests(self) -> AsyncCollection:
        return self.collection("inspection_requests")

    @property
    def appeals(self) -> AsyncCollection:
        return self.collection("appeals")

    @property
    def assignments(self) -> AsyncCollection:
        return self.collection("assignments")

    @property
    def spot_checks(self) -> AsyncCollection:
        return self.collection("spot_checks")

    @property
    def concerns(self) -> AsyncCollection:
        return self.collection("concerns")

    @property
    def certificate_rows(self) -> AsyncCollection:
        return self.collection("certificate_rows")

    @property
    def meta(self) -> AsyncCollection:
        """Markers of the database's own state (which read models are built, ...)."""
        return self.collection("meta")

    async def marked(self, name: str, version: int) -> bool:
        """Whether this database's `name` (a read model, a migration) is at `version`."""
        marker = await self.meta.find_one({"_id": name})
        return marker is not None and marker.get("version") == version

    async def mark(self, name: str, version: int, **facts: Any) -> None:
        await self.meta.update_one(
            {"_id": name}, {"$set": {"version": version, **facts}}, upsert=True
        )

    @property
    def counters(self) -> AsyncCollection:
        return self.collection("counters")

    async def server_now(self) -> tuple[datetime, datetime]:
        """(the database's clock, this process's clock) at one moment, as near as a round
        trip tells: what `stamped` writes is read against the first."""
        before = datetime.now(UTC)
        hello = await self.client.admin.command("hello")
        after = datetime.now(UTC)
        local = before + (after - before) / 2
        server = hello.get("localTime")
        if not isinstance(server, datetime):
            return local, local
        return (server if server.tzinfo else server.replace(tzinfo=UTC)), local

    async def ping(self, timeout_ms: int | None = None) -> None:
        if timeout_ms is None:
            await self.client.admin.command("ping")
            return
        import pymongo

        with pymongo.timeout(timeout_ms / 1000):
            await self.client.admin.command("ping")

    async def close(self) -> None:
        await self.client.close()


def make_client(uri: str, **options: Any) -> AsyncMongoClient:
    """A client for `uri`. `options` and the service's own are defaults: an option the URI
    names is the URI's (PyMongo lets a keyword override the URI, so an operator's
    `connectTimeoutMS` or `appname` in MONGODB_URI would otherwise be silently ignored).
    What the service's guarantees rest on is not an option: aware datetimes, and retryable
    writes (a write cut short by a failover is retried by the driver, exactly once)."""
    defaults = {
        "serverSelectionTimeoutMS": 5000,
        "connectTimeoutMS": 5000,
        "appname": "homestay",
        **options,
    }
    named = uri_options(uri)
    chosen = {key: value for key, value in defaults.items() if key.lower() not in named}
    return AsyncMongoClient(uri, **chosen, **_REQUIRED)


_REQUIRED: dict[str, Any] = {"tz_aware": True, "retryWrites": True}


def uri_options(uri: str) -> set[str]:
    """The options a MongoDB URI names, lower-cased (their names are case-insensitive)."""
    query = urlsplit(uri).query
    return {key.lower() for key, _ in parse_qsl(query.replace(";", "&"), keep_blank_values=True)}


def open_database(uri: str, name: str, **options: Any) -> Database:
    client = make_client(uri, **options)
    return Database(client=client, db=client.get_database(name))


def load_validators(directory: Path = VALIDATORS_DIR) -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }


# indexes an earlier version made that no query reads any more: dropped where they exist (the
# H3 cells of the search before it moved in-process, and its by-name order)
RETIRED_INDEXES = {
    "certificates": [
        *(f"search_cells_h{res}" for res in (4, 5, 6, 7, 8, 9)),
        "search_by_name",
        "updated",  # updated_id serves what it did, and the catch-up's chunks
    ],
    "homestays": ["updated"],
}


async def apply_schema(database: Database) -> None:
    """Create collections, validators and indexes, and drop the retired ones; safe to run on
    every start."""
    db = database.db
    for name, validator in load_validators().items():
        try:
            await db.create_collection(name, validator=validator, validationLevel="strict")
        except (CollectionInvalid, OperationFailure) as exc:
            if isinstance(exc, OperationFailure) and exc.code != 48:  # NamespaceExists
                raise
            await db.command("collMod", name, validator=validator, validationLevel="strict")
    for name, indexes in INDEXES.items():
        await db[name].create_indexes(indexes)
    for name, retired in RETIRED_INDEXES.items():
        present = {index["name"] async for index in await db[name].list_indexes()}
        for index_name in sorted(present & set(retired)):
            await db[name].drop_index(index_name)
