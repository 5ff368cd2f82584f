"""Photos: POST /uploads, stored in GridFS. Staff upload evidence that inspections cite by URL;
a guest (no token) uploads a photo that a concern cites, counted per address. Only staff of
the photo's county ever download one.

A photo from the field is hostile until decoded: a JPEG header may front an HTML page, a PNG
may declare 60,000 x 60,000 pixels to exhaust memory, and a phone's EXIF carries where it was
taken. Every upload is therefore decoded by Pillow (after its declared size is checked against
MAX_PIXELS), turned upright, and re-encoded; only the re-encoded image is stored, so neither a
polyglot nor the phone's metadata survives. Served back with nosniff and a CSP that runs
nothing, as a download for staff of its county only.
"""

from __future__ import annotations

import asyncio
import io
import warnings

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from homestay.auth import Caller, Role
from homestay.domain.listings import Homestay
from homestay.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType
from homestay.graphql.common import key_of
from homestay.http.guard import MAX_UPLOAD_BYTES, caller_of
from homestay.services import photos

# 50 megapixels: any phone's full-resolution photo; decoding one takes ~150 MB
MAX_PIXELS = 50_000_000
# Pillow warns past this and refuses past twice it; the warning is an error here
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
pillow_heif.register_heif_opener()  # iPhones shoot HEIC
ACCEPTED = {"JPEG", "PNG", "WEBP", "HEIF"}
JPEG_QUALITY = 88
SERVED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=86400",
}


class NotAPhoto(Exception):
    pass


def reencode(data: bytes) -> tuple[bytes, str, int, int]:
    """The photo decoded and written anew, upright and without metadata: (bytes, media type,
    width, height). CPU-bound: run it off the event loop."""
    too_large = PayloadTooLarge(
        "body", f"a photo may have at most {MAX_PIXELS:,} pixels", code="IMAGE_TOO_LARGE"
    )
    try:
        with warnings.catch_warnings():
            # Pillow checks the declared size before decoding: past MAX_PIXELS, refuse
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED:
                raise NotAPhoto
            image.load()  # the whole image: a header in front of anything else fails here
            image = ImageOps.exif_transpose(image) or image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_large from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise NotAPhoto from None
    out = io.BytesIO()
    transparent = image.mode in ("RGBA", "LA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if transparent:  # a drawing or a screenshot: JPEG would lose it
        image.save(out, "PNG")
        media_type = "image/png"
    else:
        image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY)
        media_type = "image/jpeg"
    return out.getvalue(), media_type, image.width, image.height


async def upload(request: Request) -> Response:
    services = request.app.state.services
    caller = caller_of(request)  # staff for evidence; anyone for a concern's photo
    purpose = request.query_params.get("purpose", "evidence")
    if purpose not in ("evidence", photos.LISTING):
        raise BadRequest("purpose", "evidence (the default) or listing")
    # whose photo it may be is settled before a byte of it is read
    homestay = await _listing_homestay(request, caller) if purpose == photos.LISTING else None
    body = bytearray()
    async for chunk in request.stream():  # the guard has capped it already
        body += chunk
        if len(body) > MAX_UPLOAD_BYTES:
            raise PayloadTooLarge("body", "a photo may be at most 10 MB")
    if not body:
        raise BadRequest("body", "send the photo's bytes as the request body")
    key = _upload_key(request, caller.account_id)
    if (first := await services.uploads.sent_before(key)) is not None:
        return _stored(first, status=200)  # sent again after a lost answer: the first one
    try:
        stored, media_type, width, height = await asyncio.to_thread(reencode, bytes(body))
    except NotAPhoto:
        raise UnsupportedMediaType("body", "send a JPEG, PNG, WebP or HEIC photo") from None
    if homestay is not None:
        drawn = await asyncio.to_thread(photos.draw, stored)
        return _stored(
            await services.photos.store(drawn, homestay, caller.account_id, key), status=201
        )
    doc, created = await services.uploads.store_photo(
        caller, stored, media_type, width, height, key
    )
    return _stored(doc, status=201 if created else 200)


async def _listing_homestay(request: Request, caller: Caller) -> Homestay:
    """The homestay a listing photo is for: its operator's, or its county's staff's."""
    caller.require(Role.OPERATOR, Role.INSPECTOR, Role.BUREAU)
    raw = request.query_params.get("homestay") or ""
    if not raw.strip():
        raise BadRequest("homestay", "name the homestay the photo is for: ?homestay=ID")
    homestay_id = key_of(raw.strip(), "Homestay")
    homestay = await request.app.state.services.homestays.editable(caller, homestay_id)
    if homestay is None:
        raise NotFound(f"no homestay {homestay_id!r}")
    return homestay


def _upload_key(request: Request, account_id: str | None) -> str | None:
    """The app's own id for this upload (a UUID made before the first try), scoped to its
    sender, so that a photo sent again on a flaky network is stored once."""
    raw = (request.headers.get("idempotency-key") or "").strip()
    if not raw:
        return None
    if len(raw) > 100 or not raw.isprintable():
        raise BadRequest("Idempotency-Key", "at most 100 printable characters (a UUID)")
    return f"{account_id or 'guest'}:{raw}"


def _stored(doc: dict, status: int) -> JSONResponse:
    meta = doc.get("metadata") or {}
    url = (
        f"/photos/{doc['_id']}"
        if meta.get("purpose") == photos.LISTING
        else f"/uploads/{doc['_id']}"
    )
    return JSONResponse(
        {
            "id": str(doc["_id"]),
            "url": url,
            "contentType": meta.get("contentType"),
            "size": doc.get("length"),
            "width": meta.get("width"),
            "height": meta.get("height"),
        },
        status_code=status,
    )


async def download(request: Request) -> Response:
    services = request.app.state.services
    caller = caller_of(request)
    caller.require(Role.INSPECTOR, Role.BUREAU)
    stream = await services.uploads.open(request.path_params["upload_id"])
    if stream is None:
        raise NotFound("no such upload")
    file_id = stream._id
    meta = stream.metadata or {}
    if not set(meta.get("counties", [])) & caller.counties:
        raise Forbidden("this photo belongs to another county")
    media_type = meta.get("contentType", "application/octet-stream")
    extension = "png" if media_type == "image/png" else "jpg"

    async def chunks():
        while chunk := await stream.readchunk():
            yield chunk

    return StreamingResponse(
        chunks(),
        media_type=media_type,
        headers={
            **SERVED_HEADERS,
            "Content-Disposition": f'inline; filename="photo-{file_id}.{extension}"',
        },
    )
