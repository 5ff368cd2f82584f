"""GET /photos/{id} and /photos/{id}/{width}: a listing photo and its thumbnails.

Public while the homestay is listed (its current certificate VALID), as the homestay itself
is; its operator and its county's staff see it always. What a URL serves never changes, so a
public answer is cached for a year (`immutable`); WebP or JPEG is chosen by the Accept header
(hence `Vary: Accept`). An inspection's evidence photo is never served here.
"""

from __future__ import annotations

from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from homestay.clock import utcnow
from homestay.domain.disclosure import sees_private_data
from homestay.errors import NotFound
from homestay.http.guard import caller_of
from homestay.http.uploads import SERVED_HEADERS
from homestay.services import photos

PUBLIC_CACHE = "public, max-age=31536000, immutable"


async def photo(request: Request) -> Response:
    services = request.app.state.services
    caller = caller_of(request)
    doc = await photos.find_listing_photo(services.db, request.path_params["photo_id"])
    if doc is None:
        raise NotFound("no such photo")
    meta = doc["metadata"]
    homestay = await services.db.homestays.find_one({"_id": meta["homestayId"]},
                                                    {"listedUntil": 1, "county": 1})
    listed = bool(homestay and homestay.get("listedUntil")
                  and homestay["listedUntil"] > utcnow())
    if not listed and not (homestay and sees_private_data(caller, homestay["county"],
                                                          homestay["_id"])):
        raise NotFound("no such photo")  # a private home's photos are not shown
    file_id, media_type, vary = doc["_id"], meta["contentType"], False
    width = request.path_params.get("width")
    if width is not None:
        if width not in photos.WIDTHS:
            raise NotFound(f"photos are drawn {', '.join(map(str, photos.WIDTHS))} px wide")
        kind = "webp" if "image/webp" in request.headers.get("accept", "") else "jpeg"
        file_id = photos.parse_id(meta["renditions"][str(width)][kind])
        media_type, vary = photos.FORMATS[kind][1], True
    headers = {**SERVED_HEADERS, "Cache-Control": PUBLIC_CACHE if listed else "private, no-store",
               "ETag": f'"{file_id}"'}
    if vary:
        headers["Vary"] = "Accept"
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    try:
        stream = await AsyncGridFSBucket(services.db.db, bucket_name=photos.BUCKET
                                         ).open_download_stream(file_id)
    except NoFile:
        raise NotFound("no such photo") from None

    async def chunks():
        while chunk := await stream.readchunk():
            yield chunk

    return StreamingResponse(chunks(), media_type=media_type,
                             headers={**headers, "Content-Length": str(stream.length)})
