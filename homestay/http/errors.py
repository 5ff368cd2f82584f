"""Every refusal over HTTP in one shape, GraphQL's: `{"errors": [{message, extensions}]}`.

Routes raise ApiErrors (homestay/errors.py); the handlers registered once in create_app turn
them into responses here, and so does the guard for what it refuses before any route runs. A
database that does not answer is SERVICE_UNAVAILABLE wherever it is noticed.
"""

from __future__ import annotations

from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from homestay.errors import ApiError, ServiceUnavailable


def json_error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    **extensions: object,
) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]},
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def error_response(exc: ApiError) -> JSONResponse:
    headers: dict[str, str] = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:  # RateLimited, or a service busy for a moment
        headers["Retry-After"] = str(retry_after)
    extra = {k: v for k, v in exc.extensions.items() if k != "code"}
    return json_error(exc.status, exc.code, exc.message, headers, **extra)


def unavailable() -> JSONResponse:
    return error_response(ServiceUnavailable("the database is not answering; try again shortly"))


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def on_database_error(request: Request, exc: Exception) -> Response:
    return unavailable()


HANDLERS = {ApiError: on_api_error, PyMongoError: on_database_error}
