"""Automatic persisted queries, as Apollo's clients speak them: a client sends the SHA-256 of
a document instead of the document; the first time the server does not know it
(PERSISTED_QUERY_NOT_FOUND) the client sends both, and from then on the hash alone works, by
POST and by GET (so a CDN can cache a public query by its URL).

The store is the database's, so every API process knows what any of them learnt. It is
bounded: a document is at most MAX_QUERY_CHARS (as any), a hash must be the document's own,
registrations are rate-limited per address by the guard's limiter, and past MAX_STORED
documents nothing more is learnt (the queries still run, sent whole).
"""

from __future__ import annotations

import hashlib

from pymongo.errors import DuplicateKeyError

from homestay.clock import utcnow
from homestay.storage.database import Database

MAX_STORED = 50_000


def digest(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


async def find(db: Database, sha256: str) -> str | None:
    doc = await db.persisted_queries.find_one({"_id": sha256}, {"query": 1})
    return doc["query"] if doc else None


async def learn(db: Database, sha256: str, query: str) -> bool:
    """Keeps `query` under its hash; False when the store is full (or knew it already)."""
    if await db.persisted_queries.estimated_document_count() >= MAX_STORED:
        return False
    try:
        await db.persisted_queries.insert_one({"_id": sha256, "query": query, "learntAt": utcnow()})
    except DuplicateKeyError:
        return False
    return True


class PersistedQueries:
    """The store of automatic persisted queries, for the GraphQL view."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def find(self, sha256: str) -> str | None:
        return await find(self.db, sha256)

    async def learn(self, sha256: str, query: str) -> bool:
        return await learn(self.db, sha256, query)
