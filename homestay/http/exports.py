"""Downloads: the bureau's grade lists and the public open-data feed."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from homestay.auth import Role
from homestay.clock import china_date, utcnow
from homestay.errors import BadUserInput, RateLimited
from homestay.exports import feed, grade_list
from homestay.exports.writers import ExportFormat, chunks_of, file_name, json_chunks
from homestay.graphql.context import language
from homestay.http.guard import caller_of

OPEN_DATA_MAX_AGE_S = 300
# exports and full open-data downloads read every certificate of their counties: a few at a
# time per process, so that a button pressed ten times (or a crawler that ignores ETags)
# does not take the database from the tourists
MAX_CONCURRENT_EXPORTS = 4
EXPORT_RETRY_AFTER_S = 10


async def _primed(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Makes the first chunk before the response starts, so that a failure there is a 503,
    not a 200 cut short. An XLSX file is whole before its first chunk; CSV and JSON start
    with their header, so a database lost after the caller was checked cuts the download."""
    first = await anext(chunks, None)

    async def rest() -> AsyncIterator[bytes]:
        if first is not None:
            yield first
        async for chunk in chunks:
            yield chunk

    return rest()


def _export_slots(request: Request) -> asyncio.Semaphore:
    state = request.app.state
    if getattr(state, "export_slots", None) is None:
        state.export_slots = asyncio.Semaphore(MAX_CONCURRENT_EXPORTS)
    return state.export_slots


def _take_slot(request: Request) -> asyncio.Semaphore:
    slots = _export_slots(request)
    if slots.locked():
        raise RateLimited(
            f"{MAX_CONCURRENT_EXPORTS} full lists are being sent; retry in "
            f"{EXPORT_RETRY_AFTER_S} s",
            EXPORT_RETRY_AFTER_S,
        )
    return slots


async def _releasing(
    slots: asyncio.Semaphore, chunks: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    """The chunks, holding an export slot until the last is sent or the client goes."""
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        slots.release()


async def export_certificates(request: Request) -> Response:
    services = request.app.state.services
    try:
        fmt = ExportFormat(request.path_params["format"])
    except ValueError:
        raise BadUserInput("format", "export as .csv, .xlsx or .json") from None
    params = dict(request.query_params)
    caller = caller_of(request)
    caller.require(Role.BUREAU)
    counties = caller.counties_filter(params.get("county") or None)
    query = _query(params, counties)
    lang = params.get("lang") or language(request.headers.get("accept-language"))
    slots = _take_slot(request)
    await slots.acquire()
    now = utcnow()
    # a failure of the first chunk is a 503 (the exception handlers), its slot given back
    # by _releasing
    chunks = await _primed(
        _releasing(slots, chunks_of(fmt, services.exports.rows(query, now, lang), lang))
    )
    name = file_name(fmt, counties, china_date(now))
    return StreamingResponse(
        chunks,
        media_type=fmt.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"; '
            f"filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )


FILTERS = ("county", "grade", "status", "issuedFrom", "issuedTo", "expiringBefore")


def _query(params: dict[str, str], counties: list[str]) -> grade_list.ExportQuery:
    """The request's filters; an unknown parameter is refused by its name (a typo must not
    export everything)."""
    unknown = sorted(set(params) - {*FILTERS, "lang"})
    if unknown:
        raise BadUserInput(unknown[0], f"unknown parameter; filters are {', '.join(FILTERS)}")
    return grade_list.query_of(
        counties,
        grade=params.get("grade"),
        status=params.get("status"),
        issued_from=params.get("issuedFrom"),
        issued_to=params.get("issuedTo"),
        expiring_before=params.get("expiringBefore"),
    )


def _etag(changed_at_ms: int) -> str:
    digest = hashlib.sha256(f"{feed.FEED_FORMAT}:{changed_at_ms}".encode()).hexdigest()
    # weak: the same list may travel gzipped or not, byte-for-byte different
    return f'W/"{digest[:32]}"'


def _not_modified(request: Request, etag: str, last_modified_s: int | None) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:  # takes precedence over If-Modified-Since (RFC 9110)
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return etag.removeprefix("W/") in tags or "*" in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since and last_modified_s is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return since.tzinfo is not None and last_modified_s <= int(since.timestamp())
    return False


async def open_data(request: Request) -> Response:
    services = request.app.state.services
    now = utcnow()
    changed_at = await services.exports.open_data_changed_at(now)
    etag = _etag(int(changed_at.timestamp() * 1000))
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={OPEN_DATA_MAX_AGE_S}",
        "Access-Control-Allow-Origin": "*",
    }
    # Last-Modified has whole seconds: it is told (and If-Modified-Since believed) only once
    # the second of the last change is over (by the database's clock, which stamps the
    # changes), so no later change can fall in the second a client was told; until then the
    # ETag alone answers (a 304 never hides a change)
    database_now = await services.exports.database_now()
    last_modified_s = (
        int(changed_at.timestamp()) if database_now - changed_at >= timedelta(seconds=1) else None
    )
    if last_modified_s is not None:
        headers["Last-Modified"] = format_datetime(changed_at.astimezone(UTC), usegmt=True)
    if _not_modified(request, etag, last_modified_s):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        return Response(media_type=ExportFormat.JSON.media_type, headers=headers)
    slots = _take_slot(request)
    await slots.acquire()
    chunks = await _primed(_releasing(slots, json_chunks(services.exports.open_data(now))))
    return StreamingResponse(chunks, media_type=ExportFormat.JSON.media_type, headers=headers)
