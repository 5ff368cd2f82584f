"""What stands before the API: who is calling, how often, and how much they send.

The guard identifies the caller once per request (the token's account, PUBLIC, or a failed
credential) and limits the request by what it is, never by which headers it carries:

- PUBLIC (no token, or an empty Authorization header) and failed credentials: `rate_public`
  per client address (search, verification, the open-data feed);
- a failed credential also counts in a window of its own, per address and credential
  (`rate_auth_failures`): a wrong or revoked token sent again and again is refused before
  it reaches the database, while a colleague's good token from the same address (an office,
  a carrier's NAT) goes on working. Tokens carry 256 bits: guessing fails by arithmetic,
  the window only keeps the retries cheap;
- an account: `rate_account` per account, and `rate_uploads` photos per account; a guest's
  photos for a concern: `rate_public_uploads` per address.

The client address is the connection's; a proxy's X-Forwarded-For counts only from the
proxies named in FORWARDED_ALLOW_IPS (none by default). The windows live in this process's
memory: with several processes behind a balancer each counts its own share (the `limits`
library also offers shared storages such as Redis).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

import pymongo
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from homestay.auth import PUBLIC, Caller
from homestay.errors import (
    ApiError,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
)
from homestay.http.errors import error_response
from homestay.settings import Settings

GUARDED = ("/graphql", "/exports", "/open-data", "/uploads", "/v/", "/certificates/", "/photos/")
UPLOAD_PATH = "/uploads"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# the multipart envelope or a filename beside the photo's own bytes
UPLOAD_ENVELOPE_BYTES = 65536


@dataclass(frozen=True)
class Limits:
    public: RateLimitItem
    auth_failures: RateLimitItem
    account: RateLimitItem
    uploads: RateLimitItem
    public_uploads: RateLimitItem
    persisted_queries: RateLimitItem
    concerns_per_address: RateLimitItem
    concerns_per_certificate: RateLimitItem
    max_body_bytes: int
    upload_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            public=parse(settings.rate_public),
            auth_failures=parse(settings.rate_auth_failures),
            account=parse(settings.rate_account),
            uploads=parse(settings.rate_uploads),
            public_uploads=parse(settings.rate_public_uploads),
            persisted_queries=parse(settings.rate_persisted_queries),
            concerns_per_address=parse(settings.rate_concerns),
            concerns_per_certificate=parse(settings.rate_concerns_per_certificate),
            max_body_bytes=settings.max_body_bytes,
            upload_bytes=MAX_UPLOAD_BYTES + UPLOAD_ENVELOPE_BYTES,
        )


@dataclass(frozen=True)
class Identity:
    """Who a request is from: a caller, or the error that says why not."""

    caller: Caller = PUBLIC
    error: ApiError | None = None
    # a digest of the failed credential, to count its retries; never the credential itself
    failed_credential: str | None = None


class RateLimiter:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        # a sliding window counter: two counters per key, the previous window weighted by
        # how much of it the window still covers. limits' moving window kept an entry per
        # request and, after every request, swept each key's entries through a worker
        # thread: 1.55 against 1.06 ms of the API's CPU for `{ __typename }`, measured in
        # one run (12.3 against 10.9 ms for a 5 km search)
        self.windows = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def _hit(self, item: RateLimitItem, what: str, *key: str) -> None:
        if await self.windows.hit(item, *key):
            return
        stats = await self.windows.get_window_stats(item, *key)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(f"too many {what}; retry after {wait} s", wait)

    async def credential_refused(self, address: str, credential: str) -> bool:
        """Whether this credential failed too often from this address to be checked again."""
        return not await self.windows.test(self.limits.auth_failures, "auth", address, credential)

    async def admit(self, identity: Identity, address: str, upload: bool) -> None:
        """Counts the request; RateLimited when it is over one of its limits."""
        if identity.failed_credential is not None:
            await self._hit(
                self.limits.auth_failures,
                "failed checks of this token from this address",
                "auth",
                address,
                identity.failed_credential,
            )
        account = identity.caller.account_id
        if account is None:
            await self._hit(
                self.limits.public,
                "requests without a valid token from this address",
                "public",
                address,
            )
            if upload:  # a guest's photo for a concern
                await self._hit(
                    self.limits.public_uploads,
                    "photos uploaded from this address",
                    "public-uploads",
                    address,
                )
            return
        await self._hit(self.limits.account, "requests by this account", "account", account)
        if upload:
            await self._hit(
                self.limits.uploads, "photos uploaded by this account", "uploads", account
            )

    async def admit_persisted_query(self, address: str) -> None:
        """A document learnt for a hash: a few per address, so no flood fills the store."""
        await self._hit(
            self.limits.persisted_queries,
            "queries registered from this address",
            "persist",
            address,
        )

    async def admit_concern(self, address: str, number: str) -> None:
        """A guest's report: a few per address, and a bound per certificate, so that a bot
        cannot bury a homestay (or the bureau) under reports."""
        await self._hit(
            self.limits.concerns_per_address,
            "concerns reported from this address",
            "concern",
            address,
        )
        await self._hit(
            self.limits.concerns_per_certificate,
            "concerns about this certificate today",
            "concern-about",
            number[:40],
        )


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def _digest(credential: str) -> str:
    return hashlib.sha256(credential.encode("utf-8", "surrogatepass")).hexdigest()[:32]


async def identify(scope: Scope, limiter: RateLimiter, settings: Settings) -> Identity:
    authorization = dict(scope["headers"]).get(b"authorization")
    header = authorization.decode("latin-1") if authorization is not None else None
    if header is None or not header.strip():
        return Identity()
    credential = _digest(header.strip())
    if await limiter.credential_refused(client_address(scope), credential):
        return Identity(
            error=Unauthenticated("this token is not valid (unknown or revoked)"),
            failed_credential=credential,
        )
    try:
        with pymongo.timeout(settings.request_db_timeout_ms / 1000):
            caller = await scope["app"].state.services.accounts.authenticate(header)
    except Unauthenticated as exc:
        return Identity(error=exc, failed_credential=credential)
    except PyMongoError:
        return Identity(
            error=ServiceUnavailable("the database is not answering; try again shortly")
        )
    return Identity(caller=caller)


def caller_of(request: Request) -> Caller:
    """The caller the guard identified; raises the reason when it could not."""
    identity: Identity = request.scope.get("state", {}).get("identity", Identity())
    if identity.error is not None:
        raise identity.error
    return identity.caller


class BodyTooLarge(Exception):
    pass


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge("body", f"the request body may be at most {limit} bytes")


class GuardMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter, settings: Settings) -> None:
        self.app = app
        self.limiter = limiter
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(GUARDED):
            await self.app(scope, receive, send)
            return
        identity = await identify(scope, self.limiter, self.settings)
        scope.setdefault("state", {})["identity"] = identity
        upload = path.startswith(UPLOAD_PATH) and scope["method"] == "POST"
        try:
            await self.limiter.admit(identity, client_address(scope), upload)
        except RateLimited as exc:
            await error_response(exc)(scope, receive, send)
            return

        limit = (
            self.limiter.limits.upload_bytes
            if path.startswith(UPLOAD_PATH)
            else self.limiter.limits.max_body_bytes
        )
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await error_response(_too_large(limit))(scope, receive, send)
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
                await error_response(_too_large(limit))(scope, receive, send)
