"""Grading standards: data, versioned, immutable once published."""

from __future__ import annotations

import json
from pathlib import Path

from homestay.clock import utcnow
from homestay.domain.grading import Standard
from homestay.storage import documents
from homestay.storage.database import Database

DEFAULT_CODE = "deqing-homestay"


class StandardConflict(RuntimeError):
    """A published version was given different content: versions never change."""


def _document(raw: dict) -> dict:
    standard = documents.standard(raw)  # validates enums and shape before anything is written
    return {
        "_id": standard.key,
        "code": raw["code"],
        "version": raw["version"],
        "title": raw["title"],
        "source": raw.get("source"),
        "sections": raw["sections"],
        "items": raw["items"],
        "thresholds": raw["thresholds"],
        "maxPoints": standard.max_points,
    }


async def publish(db: Database, raw: dict) -> bool:
    """Store a version once; True when it was new. Re-publishing the same content is a no-op."""
    doc = _document(raw)
    existing = await db.standards.find_one({"_id": doc["_id"]})
    if existing is not None:
        existing.pop("publishedAt", None)
        if existing != doc:
            raise StandardConflict(
                f"{doc['_id']} is already published with other content; publish a new version"
            )
        return False
    await db.standards.update_one(
        {"_id": doc["_id"]}, {"$setOnInsert": {**doc, "publishedAt": utcnow()}}, upsert=True
    )
    return True


async def publish_seed(db: Database, directory: Path) -> list[str]:
    published = []
    for path in sorted((directory / "standards").glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        if await publish(db, raw):
            published.append(f"{raw['code']}@{raw['version']}")
    return published


async def find(
    db: Database, code: str | None = None, version: int | None = None
) -> Standard | None:
    """A version of a standard; the newest one when no version is given."""
    query: dict = {"code": code or DEFAULT_CODE}
    if version is not None:
        query["version"] = version
    found = await db.standards.find_one(query, sort=[("version", -1)])
    return documents.standard(found) if found is not None else None


class StandardService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def find(self, code: str | None = None, version: int | None = None) -> Standard | None:
        return await find(self.db, code, version)

    async def by_key(self, keys: list[str]) -> list[Standard | None]:
        """By `code@version` key, in the order asked (for a DataLoader): one read."""
        found = {
            d["_id"]: documents.standard(d)
            async for d in self.db.standards.find({"_id": {"$in": keys}})
        }
        return [found.get(k) for k in keys]
