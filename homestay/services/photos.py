"""Listing photos: what a tourist sees of a stay, public while the stay is listed.

An operator (or the county's staff) uploads a photo for one homestay (POST
/uploads?purpose=listing&homestay=ID); it is decoded and cleaned like every upload
(homestay/images.prepare: upright, sRGB, no metadata, at most MAX_SIDE on its long side),
and drawn once at each of WIDTHS in WebP and JPEG, all stored in GridFS beside it. A phone
asks for the width it shows (`thumbnailUrl(width)` names the nearest drawn one) and gets WebP
when it says it can read it, JPEG otherwise; the URLs never change what they serve, so they
are cached forever.

Inspection evidence lives in the same bucket but is never served here: only a file whose
metadata says `purpose: listing` is.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bson import ObjectId
from gridfs import AsyncGridFSBucket, AsyncGridOut
from gridfs.errors import NoFile
from PIL import Image

from homestay.auth import Caller
from homestay.domain.disclosure import sees_private_data
from homestay.domain.listings import Homestay
from homestay.errors import UserError
from homestay.services.uploads import BUCKET, parse_id, store_once
from homestay.storage.database import Database

LISTING = "listing"
WIDTHS = (320, 640, 960, 1280)  # what phones ask for: 1x to 4x of a 320-point column
MAX_SIDE = 2560  # the photo itself: sharp on a tablet, not a 50-megapixel original
MAX_PHOTOS = 20
FORMATS = {
    "webp": ("WEBP", "image/webp", {"quality": 80, "method": 4}),
    "jpeg": ("JPEG", "image/jpeg", {"quality": 82, "progressive": True, "optimize": True}),
}


@dataclass(frozen=True)
class Drawn:
    """A listing photo and its thumbnails, as encoded bytes."""

    photo: bytes
    media_type: str
    width: int
    height: int
    # (width asked, format) -> bytes; a photo narrower than a width asked is drawn once, at
    # its own width, and that drawing serves every wider width too
    thumbnails: dict[tuple[int, str], bytes]


def _flat(image: Image.Image) -> Image.Image:
    """RGB on white: a transparent drawing as a photo format can hold it."""
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return image.convert("RGB")


def draw(picture: Image.Image) -> Drawn:
    """The photo and its thumbnails, from a picture images.prepare made (upright, cleaned).
    CPU-bound: run it off the event loop."""
    image = _flat(picture)
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    image.info = {}  # nothing but the pixels reaches an encoder
    out = io.BytesIO()
    image.save(out, "JPEG", quality=86, progressive=True, optimize=True)
    thumbnails: dict[tuple[int, str], bytes] = {}
    for width in WIDTHS:
        if width > image.width and any(w >= image.width for w, _ in thumbnails):
            continue  # drawn already, at the photo's own width
        scaled = image
        if image.width > width:
            height = max(1, round(image.height * width / image.width))
            scaled = image.resize((width, height), Image.Resampling.LANCZOS)
        for name, (kind, _, options) in FORMATS.items():
            buffer = io.BytesIO()
            scaled.save(buffer, kind, **options)
            thumbnails[width, name] = buffer.getvalue()
    return Drawn(out.getvalue(), "image/jpeg", image.width, image.height, thumbnails)


def thumbnail_width(asked: int) -> int:
    """The drawn width that serves a request for `asked` pixels: the smallest at least as
    wide, or the widest."""
    return next((w for w in WIDTHS if w >= asked), WIDTHS[-1])


async def store(
    db: Database,
    drawn: Drawn,
    homestay: Homestay,
    uploaded_by: str | None,
    upload_key: str | None,
    digest: str | None = None,
) -> dict:
    """The thumbnails, then the photo naming them (so a photo found has all its thumbnails):
    the photo's files document."""
    bucket = AsyncGridFSBucket(db.db, bucket_name=BUCKET)
    photo_id = ObjectId()
    renditions: dict[str, dict[str, str]] = {}
    for (width, name), data in drawn.thumbnails.items():
        rendition_id = ObjectId()
        await bucket.upload_from_stream_with_id(
            rendition_id,
            f"photo-{photo_id}-{width}.{name}",
            data,
            metadata={
                "purpose": "thumbnail",
                "photoId": str(photo_id),
                "contentType": FORMATS[name][1],
                "width": width,
            },
        )
        renditions.setdefault(str(width), {})[name] = str(rendition_id)
    for width in WIDTHS:  # the wider widths of a narrow photo: its own-width drawing
        if str(width) not in renditions:
            renditions[str(width)] = renditions[str(max(w for w, _ in drawn.thumbnails))]
    metadata = {
        "purpose": LISTING,
        "contentType": drawn.media_type,
        "homestayId": homestay.id,
        "counties": [homestay.county],
        "uploadedBy": uploaded_by,
        "width": drawn.width,
        "height": drawn.height,
        "renditions": renditions,
    }
    if upload_key is not None:
        metadata["uploadKey"] = upload_key
        metadata["uploadDigest"] = digest
    doc, created = await store_once(db, photo_id, f"photo-{photo_id}.jpg", drawn.photo, metadata)
    if not created:  # the first of the same upload stands, with its own thumbnails
        for drawn_id in {i for sizes in renditions.values() for i in sizes.values()}:
            await bucket.delete(ObjectId(drawn_id))
    return doc


async def check_photo_ids(
    db: Database, errors: list[UserError], homestay_id: str, values: Sequence[str]
) -> list[dict]:
    """The listing's photos, in the order given (the first is the cover): each a listing
    photo uploaded for this homestay; what each is ({id, width, height})."""
    if len(values) > MAX_PHOTOS:
        errors.append(UserError(["input", "photoIds"], "TOO_MANY", f"at most {MAX_PHOTOS} photos"))
        return []
    ids = [parse_id(v) for v in values]
    found = {
        f["_id"]: f
        async for f in db.db[f"{BUCKET}.files"].find(
            {"_id": {"$in": [i for i in ids if i is not None]}, "metadata.purpose": LISTING},
            {"metadata.homestayId": 1, "metadata.width": 1, "metadata.height": 1},
        )
    }
    photos: list[dict] = []
    for index, (value, photo_id) in enumerate(zip(values, ids, strict=True)):
        field = ["input", "photoIds", str(index)]
        doc = found.get(photo_id) if photo_id is not None else None
        if doc is None:
            errors.append(
                UserError(
                    field,
                    "NOT_FOUND",
                    f"no listing photo {value[:40]!r}; upload it with "
                    f"POST /uploads?purpose=listing&homestay=...",
                )
            )
        elif doc["metadata"]["homestayId"] != homestay_id:
            errors.append(
                UserError(
                    field, "OTHER_HOMESTAY", f"photo {value} was uploaded for another homestay"
                )
            )
        elif all(p["id"] != value for p in photos):
            photos.append(
                {
                    "id": str(photo_id),
                    "width": doc["metadata"]["width"],
                    "height": doc["metadata"]["height"],
                }
            )
    return photos


async def find_listing_photo(db: Database, photo_id: str) -> dict | None:
    """A listing photo's files document (never an evidence photo's)."""
    parsed = parse_id(photo_id)
    if parsed is None:
        return None
    return await db.db[f"{BUCKET}.files"].find_one({"_id": parsed, "metadata.purpose": LISTING})


@dataclass(frozen=True)
class Served:
    """Which stored file answers a request for a listing photo, and how."""

    file_id: ObjectId
    media_type: str
    public: bool  # the stay is listed: anyone, and caches, may keep it
    by_accept: bool  # chosen by the Accept header (a thumbnail)


class PhotoService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store(
        self,
        drawn: Drawn,
        homestay: Homestay,
        uploaded_by: str | None,
        upload_key: str | None,
        digest: str | None = None,
    ) -> dict:
        return await store(self.db, drawn, homestay, uploaded_by, upload_key, digest)

    async def served(
        self, caller: Caller, photo_id: str, width: int | None, webp: bool, now: datetime
    ) -> Served | None:
        """The file for `photo_id` (at `width`, WebP or JPEG), if the caller may see it: anyone
        while the stay is listed, its operator and county's staff always. None otherwise, as
        for no such photo."""
        doc = await find_listing_photo(self.db, photo_id)
        if doc is None:
            return None
        meta = doc["metadata"]
        homestay = await self.db.homestays.find_one(
            {"_id": meta["homestayId"]}, {"listedUntil": 1, "county": 1}
        )
        if homestay is None:
            return None
        listed = bool(homestay.get("listedUntil")) and homestay["listedUntil"] > now
        if not listed and not sees_private_data(caller, homestay["county"], homestay["_id"]):
            return None  # a private home's photos are not shown
        if width is None:
            return Served(doc["_id"], meta["contentType"], listed, False)
        kind = "webp" if webp else "jpeg"
        drawn_id = parse_id(meta["renditions"][str(width)][kind])
        assert drawn_id is not None  # written by store()
        return Served(drawn_id, FORMATS[kind][1], listed, True)

    async def open(self, file_id: ObjectId) -> AsyncGridOut | None:
        try:
            return await AsyncGridFSBucket(self.db.db, bucket_name=BUCKET).open_download_stream(
                file_id
            )
        except NoFile:
            return None
