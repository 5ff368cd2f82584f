"""What stands before the API: body size limits and per-client rate limits.

Rate limits are moving windows per client address (the proxy's X-Forwarded-For when uvicorn
trusts it): one for requests without a token (search, verification, the open-data feed), one
for failed token checks (a token that is wrong, revoked or malformed), so that tokens cannot
be guessed at speed. A limited request gets 429 with `Retry-After` and the usual error shape.
The windows live in this process's memory: with several processes behind a balancer each
counts its own share (the `limits` library also offers shared storages such as Redis).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from homestay.auth import Caller
from homestay.errors import Unauthenticated
from homestay.services.accounts import authenticate
from homestay.settings import Settings

GUARDED = ("/graphql", "/exports", "/open-data", "/uploads")


@dataclass(frozen=True)
class Limits:
    public: RateLimitItem
    auth_failures: RateLimitItem
    max_body_bytes: int
    upload_bytes: int


class RateLimiter:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.windows = MovingWindowRateLimiter(MemoryStorage())

    async def _retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        stats = await self.windows.get_window_stats(item, *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def admit_public(self, key: str) -> int | None:
        """None when admitted; else the seconds to wait."""
        if await self.windows.hit(self.limits.public, "public", key):
            return None
        return await self._retry_after(self.limits.public, "public", key)

    async def admit_token(self, key: str) -> int | None:
        if await self.windows.test(self.limits.auth_failures, "auth", key):
            return None
        return await self._retry_after(self.limits.auth_failures, "auth", key)

    async def failed_token(self, key: str) -> None:
        await self.windows.hit(self.limits.auth_failures, "auth", key)


def client_key(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


async def authenticate_request(request: Request) -> Caller:
    """The caller behind the request's token; a failed check counts against its address."""
    try:
        return await authenticate(request.app.state.services.db,
                                  request.headers.get("authorization"))
    except Unauthenticated:
        limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
        if limiter is not None:
            await limiter.failed_token(client_key(request.scope))
        raise


def json_error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
               **extensions: object) -> JSONResponse:
    """Every HTTP refusal in GraphQL's error shape: {"errors": [{message, extensions}]}."""
    return JSONResponse({"errors": [{"message": message,
                                     "extensions": {"code": code, **extensions}}]},
                        status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})


class BodyTooLarge(Exception):
    pass


def _too_large(limit: int) -> JSONResponse:
    return json_error(413, "PAYLOAD_TOO_LARGE",
                      f"body: the request body may be at most {limit} bytes", field="body")


class GuardMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(GUARDED):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        key = client_key(scope)
        if b"authorization" in headers:
            wait = await self.limiter.admit_token(key)
            what = "failed token checks"
        else:
            wait = await self.limiter.admit_public(key)
            what = "requests without a token"
        if wait is not None:
            await json_error(429, "RATE_LIMITED",
                             f"too many {what} from this address; retry after {wait} s",
                             {"Retry-After": str(wait)}, retryAfter=wait)(scope, receive, send)
            return

        limit = self.limiter.limits.upload_bytes if path.startswith("/uploads") \
            else self.limiter.limits.max_body_bytes
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return

        received = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, capped_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _too_large(limit)(scope, receive, send)


def limits_of(settings: Settings) -> Limits:
    from homestay.http.uploads import MAX_UPLOAD_BYTES

    return Limits(public=parse(settings.rate_public),
                  auth_failures=parse(settings.rate_auth_failures),
                  max_body_bytes=settings.max_body_bytes, upload_bytes=MAX_UPLOAD_BYTES + 65536)
