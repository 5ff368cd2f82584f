"""The live feed: one change stream per API process, fanned out to that process's subscribers.

Events come from the database's change feed (MongoDB change streams: a replica set or a sharded
cluster; the embedded SecantusDB has them too), never from the process that made the write, so
a write through any process reaches the subscribers of every process, in the database's order.
A subscriber that gives the cursor of the last event it saw (`after`) gets its own stream,
resumed just after that event, so it misses nothing in between; the service keeps that promise
for a day (MAX_REPLAY), and a cursor the database no longer reaches is refused in words, never
answered with a silent gap.

Memory is bounded: each subscriber's queue holds at most QUEUE events; one that falls further
behind is dropped with an error (it reconnects with its cursor). Subscriptions are counted per
account and per address (per process: each process keeps its own counts); a closed socket's
subscriptions leave the feed's set, and their streams are closed, as their generators end.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import OperationFailure, PyMongoError

from homestay.errors import ApiError, BadUserInput, RateLimited, ServiceUnavailable
from homestay.live.events import PIPELINE, REVOKED, Event, classify, parse_cursor
from homestay.storage.database import Database

log = logging.getLogger(__name__)

MAX_REPLAY = timedelta(days=1)
QUEUE = 256
OPEN_WAIT_S = 10.0  # how long a subscription waits for the feed to open
# change-stream errors after which the position is gone: the stream starts afresh
_HISTORY_LOST = {260, 280, 286}  # InvalidResumeToken, ChangeStreamFatalError, HistoryLost


@dataclass(eq=False)
class _Subscriber:
    wants: Callable[[Event], bool]
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)


class Feed:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._subscribers: set[_Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._opened = asyncio.Event()
        self._failure: ApiError | None = None
        # called with an account's id when its token is revoked (the sockets close)
        self.on_revoked: list[Callable[[str], Any]] = []

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def start(self) -> None:
        """The shared stream, opened if it is not: returns once it is, or raises why not."""
        if self._task is None or self._task.done():
            self._opened = asyncio.Event()
            self._failure = None
            # a context of its own: no request's database budget may cut the stream short
            self._task = asyncio.get_running_loop().create_task(
                self._follow(), context=contextvars.Context()
            )
        try:
            await asyncio.wait_for(asyncio.shield(self._opened.wait()), OPEN_WAIT_S)
        except TimeoutError:
            raise ServiceUnavailable("the live feed is not open yet; try again shortly") from None
        if self._failure is not None:
            raise self._failure

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _follow(self) -> None:
        resume: dict | None = None
        delay = 0.5
        while True:
            try:
                async with await self.db.db.watch(
                    PIPELINE, full_document="updateLookup", resume_after=resume
                ) as stream:
                    self._opened.set()
                    delay = 0.5
                    async for change in stream:
                        resume = change["_id"]
                        self._dispatch(change)
            except OperationFailure as exc:
                if exc.code in _HISTORY_LOST:  # our place is gone: every subscriber is told
                    log.warning("live feed lost its place (%s); starting afresh", exc.code)
                    resume = None
                    self._fail_all(ServiceUnavailable("the live feed restarted: subscribe again"))
                elif not self._opened.is_set():  # no change streams here (a standalone)
                    self._failure = ServiceUnavailable(
                        "live events need a MongoDB replica set or sharded cluster"
                    )
                    self._opened.set()
                    return
                else:
                    log.warning("live feed interrupted (%s); resuming", exc)
            except PyMongoError as exc:
                log.warning("live feed interrupted (%s); resuming in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _dispatch(self, change: dict) -> None:
        event = classify(change)
        if event is None:
            return
        if event.kind == REVOKED:
            if event.document.get("revokedAt") is not None and event.account_id:
                for callback in list(self.on_revoked):
                    callback(event.account_id)
            return
        for subscriber in list(self._subscribers):
            if not subscriber.wants(event):
                continue
            if subscriber.queue.qsize() >= QUEUE:  # too far behind: dropped, told why
                self._subscribers.discard(subscriber)
                subscriber.queue.put_nowait(
                    ServiceUnavailable("this subscription fell behind; resubscribe with `after`")
                )
                continue
            subscriber.queue.put_nowait(event)

    def _fail_all(self, error: ApiError) -> None:
        for subscriber in list(self._subscribers):
            self._subscribers.discard(subscriber)
            subscriber.queue.put_nowait(error)

    async def events(
        self, wants: Callable[[Event], bool], after: str | None
    ) -> AsyncIterator[Event]:
        """The events `wants` keeps, from now on, or from just after the cursor `after`."""
        if after is not None:
            async for event in self._replayed(wants, after):
                yield event
            return
        subscriber = _Subscriber(wants)
        self._subscribers.add(subscriber)
        try:
            await self.start()
            while True:
                item = await subscriber.queue.get()
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self._subscribers.discard(subscriber)

    async def _replayed(self, wants: Callable[[Event], bool], after: str) -> AsyncIterator[Event]:
        token, at = parse_cursor(after)
        if at < datetime.now(UTC) - MAX_REPLAY:
            raise BadUserInput(
                "after", "this cursor is more than a day old: reload, then subscribe without it"
            )
        try:
            stream = await self.db.db.watch(
                PIPELINE, full_document="updateLookup", resume_after=token
            )
        except OperationFailure as exc:
            raise BadUserInput(
                "after", "the feed no longer reaches this cursor: reload, then subscribe without it"
            ) from exc
        async with stream:
            async for change in stream:
                event = classify(change)
                if event is not None and event.kind != REVOKED and wants(event):
                    yield event


class Limits:
    """Subscriptions at once, per account and per address, in this process."""

    def __init__(self, per_account: int, per_address: int) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self._accounts: dict[str, int] = {}
        self._addresses: dict[str, int] = {}

    @contextmanager
    def admitted(self, account: str, address: str) -> Iterator[None]:
        if self._accounts.get(account, 0) >= self.per_account:
            raise RateLimited(
                f"at most {self.per_account} live subscriptions per account", retry_after=30
            )
        if self._addresses.get(address, 0) >= self.per_address:
            raise RateLimited(
                f"at most {self.per_address} live subscriptions per address", retry_after=30
            )
        self._accounts[account] = self._accounts.get(account, 0) + 1
        self._addresses[address] = self._addresses.get(address, 0) + 1
        try:
            yield
        finally:
            for counts, key in ((self._accounts, account), (self._addresses, address)):
                counts[key] -= 1
                if not counts[key]:
                    del counts[key]

    @property
    def active(self) -> int:
        return sum(self._accounts.values())


class Live:
    """One process's feed, its subscription limits, and its open sockets by account: a
    revoked token's sockets are closed (4403) as soon as the feed shows the revocation."""

    def __init__(self, db: Database, per_account: int, per_address: int) -> None:
        self.feed = Feed(db)
        self.limits = Limits(per_account, per_address)
        self._sockets: dict[str, set[Any]] = {}
        self.feed.on_revoked.append(self._revoked)

    @property
    def sockets(self) -> int:
        return sum(len(s) for s in self._sockets.values())

    def attach(self, account_id: str, socket: Any) -> None:
        self._sockets.setdefault(account_id, set()).add(socket)

    def detach(self, account_id: str, socket: Any) -> None:
        held = self._sockets.get(account_id)
        if held is not None:
            held.discard(socket)
            if not held:
                del self._sockets[account_id]

    def _revoked(self, account_id: str) -> None:
        for socket in self._sockets.pop(account_id, set()):
            asyncio.get_running_loop().create_task(_close(socket, 4403, "token revoked"))


async def _close(socket: Any, code: int, reason: str) -> None:
    with suppress(Exception):  # closed already
        await socket.close(code=code, reason=reason)
