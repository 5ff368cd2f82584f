"""The inspector's finder, held in each API process: every registered homestay's county, name,
folded text and `listedUntil`, in name order.

Why not the database's: docs/architecture.md. A substring test over the folded texts held
here costs by the texts, not by documents read, and the database is asked two cheap things per
request: what changed since this copy's version (every write of a homestay, and of its
`listedUntil`, sets `updatedAt`, served by the `updated` index), and the page's documents by
`_id` (caught_up.py). So the answer is exact in every process at once, as the stay
index's is.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
from pymongo.asynchronous.collection import AsyncCollection

from homestay.clock import utcnow
from homestay.search.caught_up import CaughtUpCopy, as_utc, in_chunks
from homestay.search.joined import JoinedStrings
from homestay.search.keys import SlotKeys
from homestay.search.order import Key, NameOrder, kept_before
from homestay.storage.database import Database

_GAP = "\x1e"  # between two homestays' texts: no query holds it (a control character)
_BLOCK = 4_096  # texts joined at a time
# homestays renamed, re-described or new since the name order was made, found beside it;
# past this many they are merged in (a copy of the joined text: milliseconds)
SETTLE_AT = 1_024


def _ts(moment: datetime | None) -> float:
    if moment is None:
        return math.nan  # never listed: compares false with any moment
    return as_utc(moment).timestamp()


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


class FinderIndex(CaughtUpCopy):
    """Each homestay by slot: its id, county (a code), `listedUntil` (an array) and name (in
    one joined string); its folded text in the joined text of the name order, with the
    changes since that order was made waiting in `_pending_texts`: no object a homestay.

    A homestay renamed, re-described or new after the order was made is not sorted in (a sort
    of every name and a join of every text, in the next request after each change): the name
    order (order.py, as the stay index's) marks its place left and keeps it among its recent,
    and its text waits in `_pending_texts`. A find walks the order and the recent together,
    merged by key; once SETTLE_AT wait they are merged into the order, and the joined texts
    with them in one pass of slices (`_merge_texts`)."""

    projection = {"county": 1, "name": 1, "findText": 1, "listedUntil": 1, "updatedAt": 1}

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self._keys = SlotKeys()  # homestay id <-> slot
        self._size = 0  # slots used (homestays are never deleted)
        self._counties: dict[str, int] = {}
        self._county = np.zeros(0, np.int32)
        self._listed = np.zeros(0, np.float64)  # listedUntil as a timestamp, NaN for none
        self._names = JoinedStrings(empty="")
        self._built_texts: JoinedStrings | None = None  # each slot's text, while a build reads
        self._pending_texts: dict[int, str] = {}  # slot -> its text, changed since the order
        # the name order: slots by (name, id); their texts joined in that order, and where
        # each begins: a substring is found by str.find over one string (C speed)
        self._by_name = NameOrder(
            lambda slot: (self._names.get(slot), self._keys.key(slot)),
            merging=self._merge_texts,
            settle_at=SETTLE_AT,
        )
        self._joined = ""
        self._starts = np.zeros(0, np.int32)
        self._dirty = False  # the order is to be made whole (a build)

    def __len__(self) -> int:
        return self._size

    def _collection(self) -> AsyncCollection:
        return self.db.homestays

    async def _load(self) -> None:
        started = utcnow()
        async for chunk in in_chunks(self.db.homestays.find({}, self.projection, batch_size=2_000)):
            self._fill(chunk)
        self._build_done()
        # what was written while the read ran is read again by the first catch-up
        self.version = started

    def _build_done(self) -> None:
        """Every chunk of a build filled in: the order and the texts joined now (nothing of
        the documents read stays behind), and the names, not by the first find (nor in each
        forked worker)."""
        self._ordered()
        self._names.settle()

    def _fill(self, docs: list[dict]) -> None:
        """A chunk of the build: homestays new to the copy take the next slots in one go
        (their ids merged into the keys at once, their names and texts appended whole: no
        object a homestay stays behind); one read again (written while the read ran) is
        applied as a change."""
        new = self._keys.new([d["_id"] for d in docs])
        fresh = [doc for doc, is_new in zip(docs, new, strict=True) if is_new]
        slots = [self._new_slot() for _ in fresh]
        self._keys.bulk([d["_id"] for d in fresh], slots)
        self._county[slots] = [
            self._counties.setdefault(d["county"], len(self._counties)) for d in fresh
        ]
        self._listed[slots] = [_ts(d.get("listedUntil")) for d in fresh]
        self._names.put(slots, [d["name"] for d in fresh])
        if self._built_texts is None:
            self._built_texts = JoinedStrings(empty="")
        self._built_texts.put(slots, [d.get("findText") or "" for d in fresh])
        self._dirty = self._dirty or bool(fresh)
        self._apply_all([doc for doc, is_new in zip(docs, new, strict=True) if not is_new])

    def _text(self, slot: int) -> str:
        if slot in self._pending_texts:
            return self._pending_texts[slot]
        if self._built_texts is not None:
            return self._built_texts.get(slot)
        rank = self._by_name.rank
        if slot >= len(rank):
            return ""
        place = int(rank[slot])  # a settled slot's (the recent's wait in _pending_texts)
        end = self._starts[place + 1] - 1 if place + 1 < len(self._starts) else len(self._joined)
        return self._joined[self._starts[place] : end]

    def _new_slot(self) -> int:
        """The next slot (homestays are never deleted), with room for it."""
        if self._size == len(self._county):
            self._room()
        self._size += 1
        return self._size - 1

    def _room(self) -> None:
        size = max(1024, len(self._county) * 5 // 4)

        def more(array: np.ndarray, fill: Any) -> np.ndarray:
            grown = np.full(size, fill, array.dtype)
            grown[: len(array)] = array
            return grown

        self._county = more(self._county, 0)
        self._listed = more(self._listed, math.nan)

    def _apply(self, doc: dict) -> None:
        key, name, text = doc["_id"], doc["name"], doc.get("findText") or ""
        county = self._counties.setdefault(doc["county"], len(self._counties))
        listed = _ts(doc.get("listedUntil"))
        slot = self._keys.get(key)
        new = slot is None
        if slot is None:
            slot = self._new_slot()
            self._keys.set(key, slot)
        elif (
            self._county[slot] == county
            and _same(float(self._listed[slot]), listed)
            and self._names.get(slot) == name
            and self._text(slot) == text
        ):
            return  # as held
        self._county[slot] = county
        self._listed[slot] = listed
        if self._dirty or not self._by_name.built:  # a build: its order will place it
            self._names.put([slot], [name])
            self._pending_texts[slot] = text
            self._dirty = True
            return
        if not new and self._names.get(slot) == name and self._text(slot) == text:
            return  # its county or listing: its place and text are as held
        if not new:
            self._by_name.remove(slot)  # before its name changes
        self._names.put([slot], [name])
        self._pending_texts[slot] = text
        self._by_name.add(slot)

    def _merge_texts(self, left: np.ndarray, before: list[int], slots: list[int]) -> None:
        """The name order settles (order.py): the joined texts follow it in one pass, the
        texts of the places `left` dropped, each of `slots`' inserted before its place of
        `before`, copied by slices between them."""
        joined = self._joined + _GAP if len(left) else ""  # each text followed by a gap
        ends = np.append(self._starts, len(joined)).astype(np.int64)  # of each segment
        pieces: list[str] = []
        cursor = 0
        events = sorted(
            [(place, 0, i) for i, place in enumerate(before)]
            + [(place, 1, 0) for place in np.flatnonzero(left).tolist()]
        )
        for place, leaves, i in events:
            pieces.append(joined[cursor : int(ends[place])])
            if leaves:
                cursor = int(ends[place + 1])
            else:
                pieces.append(self._pending_texts[slots[i]] + _GAP)
                cursor = int(ends[place])
        pieces.append(joined[cursor:])
        lengths = np.insert(
            np.diff(ends)[~left],
            kept_before(left)[before],
            [len(self._pending_texts[slot]) + 1 for slot in slots],
        )
        self._starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int32)
        self._joined = "".join(pieces)[:-1]
        for slot in slots:
            del self._pending_texts[slot]

    def _ordered(self) -> np.ndarray:
        if self._dirty or not self._by_name.built:
            every = np.arange(self._size)
            order = self._names.ordered(every, self._keys.raw(every))
            # the texts in that order, a block at a time (no str a homestay held at once)
            parts, lengths = [], np.zeros(len(order), np.int64)
            for begin in range(0, len(order), _BLOCK):
                texts = [self._text(s) for s in order[begin : begin + _BLOCK].tolist()]
                lengths[begin : begin + len(texts)] = [len(t) + 1 for t in texts]
                parts.append(_GAP.join(texts))
            self._by_name.build(order, self._size)
            self._starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int32)
            self._joined = _GAP.join(parts)
            self._pending_texts = {}
            self._built_texts = None  # in the order now
            self._dirty = False
        return self._by_name.settled

    def _walk(self, start: int, text: str | None, after: Key | None) -> Iterator[int]:
        """The slots in name order, from place `start` of the settled order and after key
        `after` of the recent, whose text holds `text` (all without): places left skipped."""
        order = self._by_name
        settled = order.settled
        recent = order.recent_after(after)
        if not recent:  # (nothing joins after it: any left settled place is skipped still)
            for i in self._positions(start, text):
                if not order.left(i):
                    yield int(settled[i])
            return
        name, key_of = self._names.get, self._keys.key
        found = (
            ((name(slot), key_of(slot)), slot)
            for i in self._positions(start, text)
            if not order.left(i)
            for slot in (int(settled[i]),)
        )
        joined = (
            (key, slot)
            for key, slot, _ in recent
            if text is None or text in self._pending_texts[slot]
        )
        for _, slot in heapq.merge(found, joined):
            yield slot

    def _positions(self, start: int, text: str | None) -> Iterator[int]:
        """The positions in name order from `start` whose text holds `text` (all without)."""
        if text is None:
            yield from range(start, len(self._by_name.settled))
            return
        starts = self._starts
        at = int(starts[start]) if start < len(starts) else len(self._joined)
        while (hit := self._joined.find(text, at)) >= 0:
            position = int(np.searchsorted(starts, hit, side="right")) - 1
            yield position
            if position + 1 >= len(starts):
                return
            at = int(starts[position + 1])

    def find(
        self,
        *,
        counties: set[str] | None,
        ids: set[str] | None,
        text: str | None,
        certified: bool | None,
        now: datetime,
        after: tuple[str, str] | None,
        limit: int | None,
    ) -> list[str]:
        """Ids in name order after `after`, at most `limit` (all with None)."""
        self._ordered()
        key_of = self._keys.key
        start = self._by_name.settled_after(after)
        wanted = None
        if counties is not None:
            wanted = {self._counties[c] for c in counties if c in self._counties}
        moment = _ts(now)
        found: list[str] = []
        for slot in self._walk(start, text, after):
            key = key_of(slot)
            if wanted is not None and int(self._county[slot]) not in wanted:
                continue
            if ids is not None and key not in ids:
                continue
            if certified is not None and bool(self._listed[slot] > moment) != certified:
                continue
            found.append(key)
            if limit is not None and len(found) >= limit:
                break
        return found
