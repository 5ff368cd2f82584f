"""What stands before the API: who is calling, how often, and how much they send.

The guard identifies the caller once per request (the token's account, PUBLIC, or a failed
credential) and limits the request by what it is, never by which headers it carries:

- PUBLIC (no token, or an empty Authorization header) and failed credentials: `rate_public`
  per client address (search, verification, the open-data feed);
- a failed credential also counts in a window of its own, per address and credential
  (`rate_auth_failures`): a wrong or revoked token sent again and again is refused before
  it reaches the database, while a colleague's good token from the same address (an office,
  a carrier's NAT) goes on working. Tokens carry 256 bits: guessing fails by arithmetic,
  the window only keeps the retries cheap. A header that is no token of ours is refused
  without a lookup; and once an address is over its public limit, a token this process has
  not seen succeed in the last GOOD_FOR_S is refused (429) without a lookup too, so that a
  flood of made-up tokens costs the database nothing;
- PUBLIC requests of one address may be at most `public_in_flight` at once (429 past it):
  a few slow answers cannot be multiplied by one sender;
- an account: `rate_account` per account, and `rate_uploads` photos per account; a guest's
  photos for a concern: `rate_public_uploads` per address.

The client address is the connection's (an IPv6 one by its /64); a proxy's X-Forwarded-For
counts only from the proxies named in FORWARDED_ALLOW_IPS (none by default). The windows
live in this process's memory: with several processes behind a balancer each counts its own
share (the `limits` library also offers shared storages such as Redis).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar, cast

import pymongo
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, SlidingWindowCounterSupport
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from homestay.auth import PUBLIC, TOKEN_PREFIX, Caller
from homestay.errors import (
    ApiError,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
)
from homestay.http.errors import error_response
from homestay.services.accounts import token_of
from homestay.settings import Settings

GUARDED = ("/graphql", "/exports", "/open-data", "/uploads", "/v/", "/certificates/", "/photos/")
UPLOAD_PATH = "/uploads"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# the multipart envelope or a filename beside the photo's own bytes
UPLOAD_ENVELOPE_BYTES = 65536
T = TypeVar("T")


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


class _SlidingWindow(SlidingWindowCounterRateLimiter):
    """limits' sliding window counter, held to its limit. The library admits a request while
    the rounded-down weighted count leaves room for it, so just after a window turns, the
    previous window full and weighted 0.99, one more got through than the limit (the fourth
    in a minute under 3/minute). Here a request is admitted only while the weighted count,
    the request included, stays within the limit."""

    async def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        storage = cast(SlidingWindowCounterSupport, self.storage)
        previous, previous_left, current, _ = await storage.get_sliding_window(
            item.key_for(*identifiers), item.get_expiry()
        )
        weighted = previous * previous_left / item.get_expiry() + current
        return weighted + cost <= item.amount

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return await self.test(item, *identifiers, cost=cost) and await super().hit(
            item, *identifiers, cost=cost
        )


GOOD_FOR_S = 600  # how long a token seen to succeed skips the over-the-limit refusal
_GOOD_KEPT = 10_000


class RateLimiter:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._good: OrderedDict[str, float] = OrderedDict()  # credential digest -> when
        # a sliding window counter: two counters per key, the previous window weighted by
        # how much of it the window still covers. limits' moving window kept an entry per
        # request and, after every request, swept each key's entries through a worker
        # thread, a third again of a small request's CPU
        self.windows = _SlidingWindow(MemoryStorage())

    async def _hit(self, item: RateLimitItem, what: str, *key: str) -> None:
        """Counts one in the window; RateLimited when it was full."""
        if not await self.windows.hit(item, *key):
            raise await self._refusal(item, what, key)

    async def _refusal(self, item: RateLimitItem, what: str, key: tuple[str, ...]) -> RateLimited:
        stats = await self.windows.get_window_stats(item, *key)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        return RateLimited(f"too many {what}; retry after {wait} s", wait)

    async def credential_refused(self, address: str, credential: str) -> bool:
        """Whether this credential failed too often from this address to be checked again,
        or comes from an address over its public limit and was not seen to succeed lately:
        either way it is refused without asking the database."""
        if not await self.windows.test(self.limits.auth_failures, "auth", address, credential):
            return True
        seen = self._good.get(credential)
        if seen is not None and time.monotonic() - seen < GOOD_FOR_S:
            return False
        return not await self.windows.test(self.limits.public, "public", address)

    def credential_succeeded(self, credential: str) -> None:
        self._good[credential] = time.monotonic()
        self._good.move_to_end(credential)
        while len(self._good) > _GOOD_KEPT:
            self._good.popitem(last=False)

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

    async def _within(self, item: RateLimitItem, what: str, *key: str) -> None:
        """RateLimited when the window is full; counts nothing."""
        if not await self.windows.test(item, *key):
            raise await self._refusal(item, what, key)

    async def report_concern(
        self, address: str, number: str, report: Callable[[], Awaitable[tuple[T, bool]]]
    ) -> T:
        """A guest's report, `report()` (what it stored, and whether it stored anything new):
        a few per address and a bound per certificate, so that a bot cannot bury a homestay
        (or the bureau) under reports. Only a stored report counts: one refused for its
        content, or the same words sent again, spends nobody's quota, and so cannot silence
        a certificate for real guests."""
        about = number.strip()[:40]
        per_address = self.limits.concerns_per_address
        per_certificate = self.limits.concerns_per_certificate
        await self._within(per_address, "concerns reported from this address", "concern", address)
        await self._within(
            per_certificate, "concerns about this certificate today", "concern-about", about
        )
        stored, created = await report()
        if created:
            await self.windows.hit(per_address, "concern", address)
            await self.windows.hit(per_certificate, "concern-about", about)
        return stored


def address_group(host: str) -> str:
    """Who an address is, for counting: an IPv4 address itself, an IPv6 one by its /64 (what
    one subscriber is given; each of its 2^64 addresses is the same sender)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


def client_address(scope: Scope) -> str:
    """The request's sender as the limits count it (address_group of the connection's
    address, or of the one a trusted proxy named)."""
    client = scope.get("client")
    return address_group(client[0]) if client else "unknown"


def request_address(request: Request) -> str:
    return client_address(request.scope)


def _digest(credential: str) -> str:
    return hashlib.sha256(credential.encode("utf-8", "surrogatepass")).hexdigest()[:32]


async def identify(scope: Scope, limiter: RateLimiter, settings: Settings) -> Identity:
    authorization = dict(scope["headers"]).get(b"authorization")
    header = authorization.decode("latin-1") if authorization is not None else None
    return await identify_header(scope, header, limiter, settings)


async def identify_header(
    scope: Scope, header: str | None, limiter: RateLimiter, settings: Settings
) -> Identity:
    """Who an Authorization value names, by the same rules wherever it came from (a header,
    or a socket's connection_init payload)."""
    if header is None or not header.strip():
        return Identity()
    credential = _digest(header.strip())
    unknown = Unauthenticated("this token is not valid (unknown or revoked)")
    try:
        token = token_of(header)
    except Unauthenticated as exc:  # not 'Bearer <token>': nothing to look up
        return Identity(error=exc, failed_credential=credential)
    if token is None or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return Identity(error=unknown, failed_credential=credential)
    if await limiter.credential_refused(client_address(scope), credential):
        return Identity(error=unknown, failed_credential=credential)
    try:
        with pymongo.timeout(settings.request_db_timeout_ms / 1000):
            caller = await scope["app"].state.services.accounts.authenticate(header)
    except Unauthenticated as exc:
        return Identity(error=exc, failed_credential=credential)
    except PyMongoError:
        return Identity(
            error=ServiceUnavailable("the database is not answering; try again shortly")
        )
    limiter.credential_succeeded(credential)
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
        self._in_flight: dict[str, int] = {}  # PUBLIC requests running, per address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(GUARDED):
            await self.app(scope, receive, send)
            return
        identity = await identify(scope, self.limiter, self.settings)
        scope.setdefault("state", {})["identity"] = identity
        upload = path.startswith(UPLOAD_PATH) and scope["method"] == "POST"
        address = client_address(scope)
        try:
            await self.limiter.admit(identity, address, upload)
        except RateLimited as exc:
            await error_response(exc)(scope, receive, send)
            return
        if identity.caller.account_id is not None:
            await self._guarded(scope, receive, send, path)
            return
        running = self._in_flight.get(address, 0)
        if running >= self.settings.public_in_flight:
            busy = RateLimited(
                f"at most {self.settings.public_in_flight} requests at once from one "
                "address without a token; retry after 1 s",
                1,
            )
            await error_response(busy)(scope, receive, send)
            return
        self._in_flight[address] = running + 1
        try:
            await self._guarded(scope, receive, send, path)
        finally:
            left = self._in_flight[address] - 1
            if left:
                self._in_flight[address] = left
            else:
                del self._in_flight[address]

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        """The request, its body capped."""
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
