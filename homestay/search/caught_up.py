"""A part of a collection held in each API process and exact at every use: the pattern the
stay index (search) and the finder share.

Built once, in its own task (in a fresh context: the whole read is no one request's, and no
request's database budget may cut it short). Then, before each use, it reads what changed
since its version: every write of the collection sets `updatedAt` by the database's own clock
(storage.database.stamped), which an `updated` index serves, and the copy reads against that
clock too, so no writer's or reader's clock that is off decides what is seen. The read goes
back MARGIN before the newest change seen: a write stamped at one moment may commit after a
newer one was read (the stamp is taken by the server as it applies the write, so the gap is
that write's own time in the server, milliseconds: MongoDB and SecantusDB evaluate
$currentDate per document as they apply it, and each document's write is visible once
applied; across a sharded cluster's primaries, add their clocks' difference, which NTP keeps
to milliseconds), and applying a document twice is harmless. Every change of the last MARGIN
is read again by each catch-up, so MARGIN is a cost too: under 20 writes a second at 200,000
stays, 5 s of them re-read by every search cost the embedded database 31 ms a search and the
searches' p99 went from 41 ms to 7.9 s (bench/search.py --writes). So a change made by any
process shows in the very next use by every process, and the database stays the source of
truth. For the same reason every write stamped MARGIN before a read began had committed by
then, and that read saw it: the next read need not go back further. So when nothing has
changed for MARGIN, a read returns nothing, not the newest change again and again. A request
that arrives while the build runs waits for it and needs no read of its own if the build's
last read began after it asked.

One catch-up at a time per copy, shared: a request waits for the running one and, unless
that one began after the request asked (only then is every write acknowledged before the
request in it), for the next, which all the requests that arrived meanwhile share. The wait
is bounded: a use waits for a catch-up only until CATCH_UP_WAIT_S after that catch-up began
(one of a few changes takes milliseconds). Past it, the catch-up is applying a backlog (a
migration touching every document: 100,000 changes take the embedded database ~15 s to
read), and the use answers from what is applied so far rather than fail its request's
database budget: read-your-writes is suspended for that time, never correctness of what a
page shows, which the search checks against the public rule as it reads the page's
certificates. Each such use is counted (`answered_behind`) and the backlog logged. A
catch-up runs in its own task (no request's database budget cuts it short, and a request
that gives up leaves it running) and reads what changed through one cursor, applying
CATCH_UP_CHUNK documents at a time before it fetches more: a backlog (a migration touching
every document, a bulk import) is applied in bounded pieces between which other requests
run, and what is held at once stays bounded. One cursor, in no particular order, because
order is not needed: a document unchanged while the cursor walks is met exactly once by any
plan, and one changed meanwhile has a stamp past the settled point and is read by the next
catch-up. (Chunks asked again, keyset from the last one, would need the range sorted, and a
server that sorts in memory, SecantusDB, reads the whole remaining backlog for each chunk.)
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Self

from pymongo.asynchronous.collection import AsyncCollection

from homestay import heap

if TYPE_CHECKING:
    from homestay.storage.database import Database

log = logging.getLogger(__name__)

MARGIN = timedelta(seconds=1)
CATCH_UP_CHUNK = 5_000  # changes read, then applied, at a time
# the longest a use waits for a catch-up, counted from that catch-up's start
CATCH_UP_WAIT_S = 2.0
CHUNK = 1_000  # documents converted at a time while a copy is built


def as_utc(moment: datetime) -> datetime:
    """A stored moment, aware (a client not told tz_aware reads naive UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def in_chunks(docs: AsyncIterable[dict], size: int = CHUNK) -> AsyncIterator[list[dict]]:
    """The documents of a build, `size` at a time: a copy converts each chunk and drops
    it, so that the documents read never pile up."""
    chunk: list[dict] = []
    async for doc in docs:
        chunk.append(doc)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class CaughtUpCopy:
    projection: dict[str, int]  # what the copy keeps of a document
    db: Database

    def __init__(self) -> None:
        self.version: datetime | None = None  # the newest change seen
        self._build: asyncio.Task[None] | None = None
        self._built = False
        self._caught_up_from = math.inf  # when the last catch-up's first read began
        self._catching: asyncio.Task[None] | None = None  # the catch-up running, shared
        self._catching_since = 0.0  # when it began (monotonic)
        self.answered_behind = 0  # uses that did not wait for a backlog's catch-up
        # every change stamped before this had committed when a read began, and was read
        self._settled: datetime | None = None

    @property
    def built(self) -> bool:
        return self._built

    def adopt(self, db: Database) -> Self:
        """This copy, over `db` from now on: a process forked from the one that built it
        (http/workers.py) keeps what was applied and drops what belonged to the builder's
        event loop; its next use catches up from the copy's version, over its own client."""
        self.db = db
        self._build = None
        self._catching = None
        self._caught_up_from = math.inf  # the next use reads what changed since the fork
        return self

    # what each copy says for itself
    def _collection(self) -> AsyncCollection:
        raise NotImplementedError

    async def _database_now(self) -> datetime:
        """Now by the database's clock, which stamps every change: a process whose clock is
        off reads the changes it would otherwise skip, or never settle past."""
        database = getattr(self, "db", None)
        if database is None:  # a copy over no database (a test's): this process's clock
            return datetime.now(UTC)
        return await database.clock.now()

    async def _load(self) -> None:
        """Fill the copy from nothing; set `version` to where its first catch-up starts."""
        raise NotImplementedError

    def _apply(self, doc: dict) -> None:
        raise NotImplementedError

    @staticmethod
    def _stamp(doc: dict) -> datetime | None:
        return doc.get("updatedAt")

    # the pattern
    async def refresh(self) -> None:
        """Build on first use, then apply what changed: one command once built, shared by
        the requests that arrive while it runs."""
        asked = time.monotonic()
        if not self._built:
            if self._build is None or (self._build.done() and self._build.exception()):
                self._build = asyncio.get_running_loop().create_task(
                    self._built_once(), context=contextvars.Context()
                )
            await asyncio.shield(self._build)
        while self._caught_up_from < asked or self._caught_up_from == math.inf:
            task = self._catching
            if task is None or task.done():
                # a context of its own: no request's database budget may cut it short
                task = self._catching = asyncio.get_running_loop().create_task(
                    self._catch_up(), context=contextvars.Context()
                )
                self._catching_since = time.monotonic()
            left = self._catching_since + CATCH_UP_WAIT_S - time.monotonic()
            if left <= 0:  # a backlog: answered from what is applied so far
                self.answered_behind += 1
                return
            try:
                # its error, if any, is every waiter's
                await asyncio.wait_for(asyncio.shield(task), left)
            except TimeoutError:
                self.answered_behind += 1
                return

    async def _built_once(self) -> None:
        await self._load()
        await self._catch_up()
        self._built = True
        heap.give_back()  # the build's documents are freed: their pages go back

    async def _catch_up(self) -> None:
        began_at = time.monotonic()
        if self.version is None:
            self._caught_up_from = began_at
            return
        # the database's clock, as the writers' stamps are (not a request's clock, which tests
        # and the demo may shift, nor this process's, which may be off)
        began = await self._database_now()
        since = self.version - MARGIN
        if self._settled is not None:
            since = max(since, self._settled)
        cursor = self._collection().find({"updatedAt": {"$gte": since}}, self.projection)
        chunk: list[dict] = []
        applied = 0
        # the version moves only once the cursor is read to its end: it walks in no order,
        # so a catch-up cut short (an error, the process stopping) has applied some newer
        # changes and not some older ones, which the next one must read again
        newest: datetime | None = self.version
        async for doc in cursor.batch_size(CATCH_UP_CHUNK):
            chunk.append(doc)
            if len(chunk) == CATCH_UP_CHUNK:
                newest = _newer(newest, self._apply_all(chunk))
                applied += len(chunk)
                chunk = []
                await asyncio.sleep(0)  # the requests waiting on other things run between
        newest = _newer(newest, self._apply_all(chunk))
        applied += len(chunk)
        self.version = newest
        # every write stamped MARGIN before the read began had committed by then, and was
        # met by the cursor unless changed while it walked (then it is read next time)
        self._settled = began - MARGIN
        self._caught_up_from = began_at
        self._forget_before(since)
        took = time.monotonic() - began_at
        if took > CATCH_UP_WAIT_S:
            log.warning(
                "%s applied a backlog of %d changes in %.1f s (%d uses answered meanwhile "
                "from what was applied)",
                type(self).__name__,
                applied,
                took,
                self.answered_behind,
            )

    def _forget_before(self, since: datetime) -> None:
        """No read of changes will return a document stamped before `since` again: what a
        copy keeps to judge such a document (removals, say) may go."""

    def _apply_all(self, docs: Sequence[dict]) -> datetime | None:
        """Apply each; the newest stamp among them."""
        newest = None
        for doc in docs:
            self._apply(doc)
            newest = _newer(newest, self._stamp(doc))
        return newest


def _newer(a: datetime | None, b: datetime | None) -> datetime | None:
    if b is None:
        return a
    b = as_utc(b)
    return b if a is None or b > a else a
