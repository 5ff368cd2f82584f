"""Uploaded photos in GridFS: an inspection's evidence and a guest's photo for a concern (a
listing's photos: services/photos.py). Stored once per upload key: a photo sent again after a
lost answer, or twice at once, is the first one."""

from __future__ import annotations

from bson import ObjectId
from bson.errors import InvalidId
from gridfs import AsyncGridFSBucket, AsyncGridOut
from gridfs.errors import FileExists, NoFile
from pymongo.errors import DuplicateKeyError

from homestay.auth import Caller
from homestay.storage.database import Database

BUCKET = "uploads"


def parse_id(value: str) -> ObjectId | None:
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


async def sent_before(db: Database, upload_key: str | None) -> dict | None:
    """The upload already stored under this key, if any (its files document)."""
    if upload_key is None:
        return None
    return await db.db[f"{BUCKET}.files"].find_one({"metadata.uploadKey": upload_key})


async def store_once(
    db: Database, file_id: ObjectId, filename: str, data: bytes, metadata: dict
) -> tuple[dict, bool]:
    """A file stored under its metadata's upload key, once: its files document, and whether
    this call stored it (False: the same upload raced this one to the unique index and
    stands; this one's chunks are removed)."""
    try:
        await AsyncGridFSBucket(db.db, bucket_name=BUCKET).upload_from_stream_with_id(
            file_id, filename, data, metadata=metadata
        )
    except (DuplicateKeyError, FileExists):
        await db.db[f"{BUCKET}.chunks"].delete_many({"files_id": file_id})
        first = await sent_before(db, metadata.get("uploadKey"))
        if first is None:
            raise
        return first, False
    return {"_id": file_id, "length": len(data), "metadata": metadata}, True


class UploadService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _bucket(self) -> AsyncGridFSBucket:
        return AsyncGridFSBucket(self.db.db, bucket_name=BUCKET)

    async def sent_before(self, upload_key: str | None) -> dict | None:
        return await sent_before(self.db, upload_key)

    async def store_photo(
        self,
        caller: Caller,
        data: bytes,
        media_type: str,
        width: int,
        height: int,
        upload_key: str | None,
        digest: str | None = None,
    ) -> tuple[dict, bool]:
        """A re-encoded photo stored: its files document, and whether this call stored it
        (False: the same upload raced this one and stands)."""
        metadata = {
            "contentType": media_type,
            "uploadedBy": caller.account_id,
            # a guest's photo belongs to a county once a concern cites it
            "counties": sorted(caller.counties) if caller.is_staff else [],
            "forConcern": not caller.is_staff,
            "width": width,
            "height": height,
        }
        if upload_key is not None:
            metadata["uploadKey"] = upload_key
            metadata["uploadDigest"] = digest  # what was sent under the key
        return await store_once(self.db, ObjectId(), "photo", data, metadata)

    async def open(self, upload_id: str) -> AsyncGridOut | None:
        file_id = parse_id(upload_id)
        if file_id is None:
            return None
        try:
            return await self._bucket().open_download_stream(file_id)
        except NoFile:
            return None
