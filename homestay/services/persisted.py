"""Automatic persisted queries, as Apollo's clients speak them: a client sends the SHA-256 of
a document instead of the document; the first time the server does not know it
(PERSISTED_QUERY_NOT_FOUND) the client sends both, and from then on the hash alone works, by
POST and by GET (so a CDN can cache a public query by its URL).

The store is the database's, so every API process knows what any of them learnt. What it
keeps is bounded, whoever sends it:

- only a document that parses and validates against the schema is learnt (the view checks,
  `storable`); anything else still runs, sent whole, and is answered with its errors;
- registrations are rate-limited per address (an IPv6 one by its /64) by the guard's limiter;
- the store holds at most MAX_STORED documents and MAX_STORED_BYTES of them; past either,
  the least recently used are evicted (`usedAt`, refreshed at most once per USE_RESOLUTION
  so that a hit is a read, not a write).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from graphql import GraphQLError, GraphQLSchema, parse, validate
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from homestay.clock import utcnow
from homestay.graphql.executor.expansion import expand, refusal
from homestay.storage.database import Database

MAX_STORED = 5_000
MAX_STORED_BYTES = 16 * 1024 * 1024  # the apps' documents are 0.3-1.5 KB
MAX_TOKENS = 2_000  # as the schema's token limit
USE_RESOLUTION = timedelta(hours=1)


def digest(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


def storable(schema: GraphQLSchema, query: str) -> bool:
    """Whether `query` is a document of this schema: it parses, stays within the expansion
    bound and validates. CPU-bound for a large document: run it off the event loop."""
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return False
    if refusal(expand(document)) is not None:
        return False
    return not validate(schema, document, hide_suggestions=True)


async def find(db: Database, sha256: str) -> str | None:
    doc = await db.persisted_queries.find_one({"_id": sha256}, {"query": 1, "usedAt": 1})
    if doc is None:
        return None
    now = utcnow()
    if doc.get("usedAt") is None or now - doc["usedAt"] > USE_RESOLUTION:
        await db.persisted_queries.update_one({"_id": sha256}, {"$set": {"usedAt": now}})
    return doc["query"]


async def learn(db: Database, sha256: str, query: str) -> bool:
    """Keeps `query` under its hash, evicting the least recently used past the bounds; False
    when it was known already."""
    now = utcnow()
    size = len(query.encode("utf-8"))
    try:
        await db.persisted_queries.insert_one(
            {"_id": sha256, "query": query, "bytes": size, "learntAt": now, "usedAt": now}
        )
    except DuplicateKeyError:
        return False
    await evict(db)
    return True


async def evict(db: Database) -> int:
    """The least recently used documents removed until the store is within both bounds: how
    many."""
    totals = await (
        await db.persisted_queries.aggregate(
            [{"$group": {"_id": None, "n": {"$sum": 1}, "bytes": {"$sum": "$bytes"}}}]
        )
    ).to_list()
    if not totals:
        return 0
    count, size = totals[0]["n"], totals[0]["bytes"]
    if count <= MAX_STORED and size <= MAX_STORED_BYTES:
        return 0
    doomed: list[str] = []
    async for doc in db.persisted_queries.find({}, {"bytes": 1}).sort("usedAt", ASCENDING):
        if count <= MAX_STORED and size <= MAX_STORED_BYTES:
            break
        doomed.append(doc["_id"])
        count -= 1
        size -= doc.get("bytes", 0)
    await db.persisted_queries.delete_many({"_id": {"$in": doomed}})
    return len(doomed)


class PersistedQueries:
    """The store of automatic persisted queries, for the GraphQL view."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def find(self, sha256: str) -> str | None:
        return await find(self.db, sha256)

    async def learn(self, sha256: str, query: str) -> bool:
        return await learn(self.db, sha256, query)
