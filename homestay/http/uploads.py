"""Evidence photos: POST /uploads (staff), stored in GridFS, cited by inspections by URL."""

from __future__ import annotations

from bson import ObjectId
from bson.errors import InvalidId
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from homestay.auth import Role
from homestay.errors import ApiError
from homestay.http.guard import authenticate_request

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
BUCKET = "uploads"


def sniff_image(head: bytes) -> str | None:
    """The image type by its content, whatever the client claims."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"hevx", b"mif1",
                                                 b"msf1", b"heim", b"heis"):
        return "image/heic"
    return None


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def upload(request: Request) -> Response:
    services = request.app.state.services
    try:
        caller = await authenticate_request(request)
        caller.require(Role.INSPECTOR, Role.BUREAU)
    except ApiError as exc:
        return _error(401 if exc.code == "UNAUTHENTICATED" else 403, exc.code, exc.message)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        return _error(413, "TOO_LARGE", "a photo may be at most 10 MB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_UPLOAD_BYTES:
            return _error(413, "TOO_LARGE", "a photo may be at most 10 MB")
    if not body:
        return _error(400, "EMPTY", "send the photo's bytes as the request body")
    content_type = sniff_image(bytes(body[:32]))
    if content_type is None:
        return _error(415, "UNSUPPORTED_TYPE", "send a JPEG, PNG, WebP or HEIC image")
    bucket = AsyncGridFSBucket(services.db.db, bucket_name=BUCKET)
    file_id = await bucket.upload_from_stream(
        request.query_params.get("filename", "photo")[:100], bytes(body),
        metadata={"contentType": content_type, "uploadedBy": caller.account_id,
                  "counties": sorted(caller.counties)})
    return JSONResponse({"id": str(file_id), "url": f"/uploads/{file_id}",
                         "contentType": content_type, "size": len(body)}, status_code=201)


async def download(request: Request) -> Response:
    services = request.app.state.services
    try:
        caller = await authenticate_request(request)
        caller.require(Role.INSPECTOR, Role.BUREAU)
    except ApiError as exc:
        return _error(401 if exc.code == "UNAUTHENTICATED" else 403, exc.code, exc.message)
    try:
        file_id = ObjectId(request.path_params["upload_id"])
    except InvalidId:
        return _error(404, "NOT_FOUND", "no such upload")
    bucket = AsyncGridFSBucket(services.db.db, bucket_name=BUCKET)
    try:
        stream = await bucket.open_download_stream(file_id)
    except NoFile:
        return _error(404, "NOT_FOUND", "no such upload")
    meta = stream.metadata or {}
    if not set(meta.get("counties", [])) & caller.counties:
        return _error(403, "FORBIDDEN", "this photo belongs to another county")

    async def chunks():
        while chunk := await stream.readchunk():
            yield chunk

    return StreamingResponse(chunks(), media_type=meta.get("contentType", "application/octet-stream"),
                             headers={"Cache-Control": "private, max-age=86400"})
