"""Photos: POST /uploads, stored in GridFS. Staff upload evidence that inspections cite by URL;
a guest (no token) uploads a photo that a concern cites, counted per address. Only staff of
the photo's county ever download one.

A photo from the field is hostile until decoded: a JPEG header may front an HTML page, a PNG
may declare 60,000 x 60,000 pixels to exhaust memory, a comment segment may carry a script,
and a phone's EXIF carries where it was taken. Every upload therefore goes through
homestay/images.prepare (a memory budget checked before decoding; upright, sRGB, no metadata)
and is re-encoded; only the re-encoded image is stored. At most `photo_decodes` uploads are
decoded at once (DecodeGate); the rest wait their turn, or get 503 with Retry-After when the
queue is full or the wait too long. Served back with nosniff and a CSP that runs nothing, as a
download for staff of its county only.

An `Idempotency-Key` is the app's own id for one upload, scoped to its sender (the account;
a guest's network address): a photo sent again on a flaky network is stored once, another
sender's key is another key, and a key sent again with another photo is refused
(IDEMPOTENCY_KEY_REUSED) instead of answered with the first one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from homestay import heap, images
from homestay.auth import Caller, Role
from homestay.domain.listings import Homestay
from homestay.errors import (
    BadRequest,
    FieldError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
)
from homestay.graphql.common import key_of
from homestay.http.guard import MAX_UPLOAD_BYTES, caller_of, request_address
from homestay.services import photos

SERVED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=86400",
}
T = TypeVar("T")


class IdempotencyKeyReused(FieldError):
    code = "IDEMPOTENCY_KEY_REUSED"
    status = 422


class Busy(ServiceUnavailable):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retryAfter=retry_after)
        self.retry_after = retry_after


class DecodeGate:
    """At most `at_once` photos decoded at a time, at most `waiting` more in line, none of
    them waiting longer than `wait_s`: the memory photos take is bounded by the budget
    times `at_once`, whatever arrives."""

    def __init__(self, at_once: int, waiting: int, wait_s: float, budget: images.Budget) -> None:
        self.budget = budget
        self.waiting_max = waiting
        self.wait_s = wait_s
        self._slots = asyncio.Semaphore(at_once)
        self._waiting = 0

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` in a worker thread once a slot is free; Busy (503) when the line is
        full or the wait too long."""
        if self._slots.locked() and self._waiting >= self.waiting_max:
            raise Busy("too many photos are being processed; send it again shortly", 5)
        self._waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait_s)
        except TimeoutError:
            raise Busy("photos are queued too long; send it again shortly", 10) from None
        finally:
            self._waiting -= 1
        try:
            return await asyncio.to_thread(work, *args)
        finally:
            self._slots.release()
            await asyncio.to_thread(heap.give_back)


def _evidence(data: bytes, budget: images.Budget) -> tuple[bytes, str, int, int]:
    picture = images.prepare(data, budget)
    encoded, media_type = images.encode(picture)
    return encoded, media_type, picture.width, picture.height


def _listing(data: bytes, budget: images.Budget) -> photos.Drawn:
    return photos.draw(images.prepare(data, budget))


async def upload(request: Request) -> Response:
    services = request.app.state.services
    gate: DecodeGate = request.app.state.decode_gate
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
    key = _upload_key(request, caller)
    digest = _digest(purpose, homestay, body)
    if (first := await services.uploads.sent_before(key)) is not None:
        return _stored(_same_upload(first, digest), status=200)  # the first, after a lost answer
    data = bytes(body)
    del body
    if homestay is not None:
        drawn = await gate.run(_listing, data, gate.budget)
        doc = await services.photos.store(drawn, homestay, caller.account_id, key, digest)
        return _stored(_same_upload(doc, digest), status=201)
    stored, media_type, width, height = await gate.run(_evidence, data, gate.budget)
    doc, created = await services.uploads.store_photo(
        caller, stored, media_type, width, height, key, digest
    )
    return _stored(_same_upload(doc, digest), status=201 if created else 200)


def _digest(purpose: str, homestay: Homestay | None, body: bytearray) -> str:
    """What an upload is: its purpose, its homestay and its bytes."""
    sha = hashlib.sha256(f"{purpose}\0{homestay.id if homestay else ''}\0".encode())
    sha.update(body)
    return sha.hexdigest()


def _same_upload(doc: dict, digest: str) -> dict:
    """`doc`, the upload stored under this key, when it is the upload sent now."""
    kept = (doc.get("metadata") or {}).get("uploadDigest")
    if kept is not None and kept != digest:
        raise IdempotencyKeyReused(
            "Idempotency-Key",
            "this key was used for another upload: make a new key for each photo",
        )
    return doc


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


def _upload_key(request: Request, caller: Caller) -> str | None:
    """The app's own id for this upload (a UUID made before the first try), scoped to its
    sender: the account, or a guest's address (an IPv6 one by its /64)."""
    raw = (request.headers.get("idempotency-key") or "").strip()
    if not raw:
        return None
    if len(raw) > 100 or not raw.isprintable():
        raise BadRequest("Idempotency-Key", "at most 100 printable characters (a UUID)")
    if caller.account_id is not None:
        return f"account:{caller.account_id}:{raw}"
    return f"guest:{request_address(request)}:{raw}"


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
