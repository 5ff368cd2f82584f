"""GET /photos/{id} and /photos/{id}/{width}: a listing photo and its thumbnails.

Public while the homestay is listed (its current certificate VALID), as the homestay itself
is; its operator and its county's staff see it always (services/photos.PhotoService.served).
What a URL serves never changes, so a public answer is cached for a year (`immutable`); WebP
or JPEG is chosen by the Accept header (hence `Vary: Accept`). An inspection's evidence photo
is never served here.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from homestay.clock import utcnow
from homestay.errors import NotFound
from homestay.http.guard import caller_of
from homestay.http.uploads import SERVED_HEADERS
from homestay.services.photos import WIDTHS

PUBLIC_CACHE = "public, max-age=31536000, immutable"


async def photo(request: Request) -> Response:
    service = request.app.state.services.photos
    width = request.path_params.get("width")
    if width is not None and width not in WIDTHS:
        raise NotFound(f"photos are drawn {', '.join(map(str, WIDTHS))} px wide")
    served = await service.served(
        caller_of(request),
        request.path_params["photo_id"],
        width,
        "image/webp" in request.headers.get("accept", ""),
        utcnow(),
    )
    if served is None:
        raise NotFound("no such photo")
    headers = {
        **SERVED_HEADERS,
        "ETag": f'"{served.file_id}"',
        "Cache-Control": PUBLIC_CACHE if served.public else "private, no-store",
    }
    if served.by_accept:
        headers["Vary"] = "Accept"
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    stream = await service.open(served.file_id)
    if stream is None:
        raise NotFound("no such photo")

    async def chunks():
        while chunk := await stream.readchunk():
            yield chunk

    return StreamingResponse(
        chunks(),
        media_type=served.media_type,
        headers={**headers, "Content-Length": str(stream.length)},
    )
