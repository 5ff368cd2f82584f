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


class UploadService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _bucket(self) -> AsyncGridFSBucket:
        return AsyncGridFSBucket(self.db.db, bucket_name=BUCKET)

    async def sent_before(self, upload_key: str | None) -> dict | None:
        """The upload already stored under this key, if any (its files document)."""
        if upload_key is None:
            return None
        return await self.db.db[f"{BUCKET}.files"].find_one({"metadata.uploadKey": upload_key})

    async def store_photo(
        self,
        caller: Caller,
        data: bytes,
        media_type: str,
        width: int,
        height: int,
        upload_key: str | None,
    ) -> tuple[dict, bool]:
        """A re-encoded photo stored: its files document, and whether this call stored it
        (False: the same upload raced this one and stands)."""
        file_id = ObjectId()
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
        try:
            await self._bucket().upload_from_stream_with_id(
                file_id, "photo", data, metadata=metadata
            )
        except (DuplicateKeyError, FileExists):  # the same upload raced this one to the index
            await self.db.db[f"{BUCKET}.chunks"].delete_many({"files_id": file_id})
            first = await self.sent_before(upload_key)
            if first is None:
                raise
            return first, False
        return {"_id": file_id, "length": len(data), "metadata": metadata}, True

    async def open(self, upload_id: str) -> AsyncGridOut | None:
        try:
            return await self._bucket().open_download_stream(ObjectId(upload_id))
        except (InvalidId, TypeError, NoFile):
            return None
