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

import bisect
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
from homestay.storage.database import Database

_GAP = "\x1e"  # between two homestays' texts: no query holds it (a control character)
_BLOCK = 4_096  # texts joined at a time
# homestays renamed, re-described or new since the name order was made, found beside it;
# past this many they are merged in (a copy of the joined text: milliseconds)
SETTLE_AT = 1_024

Key = tuple[str, str]  # (name, id): the name order's


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
    of every name and a join of every text: 0.19 s at 200,000 homestays, in the next request
    after each change): its place in the order is marked left (`_was`, with the key it was
    ordered by, so the order can still be searched by key), and it waits in `_recent`, in key
    order, with its text. A find walks the order and the recent together, merged by key; once
    SETTLE_AT wait they are merged into the order in one pass (`_settle`)."""

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
        self._order = np.zeros(0, np.int32)
        self._rank = np.zeros(0, np.int32)  # slot -> its place in the order (-1: not yet)
        self._joined = ""
        self._starts = np.zeros(0, np.int32)
        self._dirty = False  # the order is to be made whole (a build)
        self._was: dict[int, Key] = {}  # place in the order left since -> the key it had
        # (key, slot, the place in the order it goes before), changed since, in key order
        self._recent: list[tuple[Key, int, int]] = []
        self._recent_key: dict[int, Key] = {}  # slot -> its key, of the recent

    def __len__(self) -> int:
        return self._size

    def _collection(self) -> AsyncCollection:
        return self.db.homestays

    async def _load(self) -> None:
        started = utcnow()
        async for chunk in in_chunks(self.db.homestays.find({}, self.projection, batch_size=2_000)):
            self._fill(chunk)
        self._ordered()  # joined now: nothing of the documents read stays behind
        # what was written while the read ran is read again by the first catch-up
        self.version = started

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
        place = int(self._rank[slot]) if slot < len(self._rank) else -1
        if place < 0:
            return ""
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
        if self._dirty:  # a build: its order will place it
            self._names.put([slot], [name])
            self._pending_texts[slot] = text
            return
        if not new and self._names.get(slot) == name and self._text(slot) == text:
            return  # its county or listing: its place and text are as held
        if not new:
            self._leave(slot)
        self._names.put([slot], [name])
        self._pending_texts[slot] = text
        self._join(slot, (name, key))

    def _leave(self, slot: int) -> None:
        """`slot` leaves its place in the order (call it before its name changes)."""
        key = self._recent_key.pop(slot, None)
        if key is not None:
            del self._recent[bisect.bisect_left(self._recent, key, key=_key_of)]
        elif slot < len(self._rank) and self._rank[slot] >= 0:
            place = int(self._rank[slot])
            self._was[place] = (self._names.get(slot), self._keys.key(slot))

    def _join(self, slot: int, key: Key) -> None:
        before = bisect.bisect_left(range(len(self._order)), key, key=self._key_at)
        bisect.insort(self._recent, (key, slot, before))
        self._recent_key[slot] = key
        if len(self._recent) + len(self._was) >= SETTLE_AT:
            self._settle()

    def _key_at(self, place: int) -> Key:
        """The key the order was made by at `place` (of one left since, the one it had)."""
        was = self._was.get(place)
        if was is not None:
            return was
        slot = int(self._order[place])
        return (self._names.get(slot), self._keys.key(slot))

    def _settle(self) -> None:
        """The waiting changes merged into the order in one pass: the places left dropped,
        the recent inserted where they go, the joined text copied by slices between them."""
        count = len(self._order)
        dead = np.zeros(count, np.bool_)
        dead[list(self._was)] = True
        joined = self._joined + _GAP if count else ""  # each text followed by a gap
        ends = np.append(self._starts, len(joined)).astype(np.int64)  # of each segment
        pieces: list[str] = []
        cursor = 0
        events = sorted(
            [(place, 0, i) for i, (_, _, place) in enumerate(self._recent)]
            + [(place, 1, 0) for place in self._was]
        )
        for place, leaves, i in events:
            pieces.append(joined[cursor : int(ends[place])])
            if leaves:
                cursor = int(ends[place + 1])
            else:
                pieces.append(self._pending_texts[self._recent[i][1]] + _GAP)
                cursor = int(ends[place])
        pieces.append(joined[cursor:])
        kept_before = np.concatenate(([0], np.cumsum(~dead)))
        at = kept_before[[place for _, _, place in self._recent]]
        slots = np.array([slot for _, slot, _ in self._recent], np.int32)
        lengths = np.insert(
            np.diff(ends)[~dead],
            at,
            [len(self._pending_texts[slot]) + 1 for _, slot, _ in self._recent],
        )
        self._order = np.insert(self._order[~dead], at, slots).astype(np.int32)
        self._rank = np.full(self._size, -1, np.int32)
        self._rank[self._order] = np.arange(len(self._order))
        self._starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int32)
        self._joined = "".join(pieces)[:-1]
        for _, slot, _ in self._recent:
            del self._pending_texts[slot]
        self._was, self._recent, self._recent_key = {}, [], {}

    def _ordered(self) -> np.ndarray:
        if self._dirty:
            every = np.arange(self._size)
            order = self._names.ordered(every, self._keys.raw(every))
            # the texts in that order, a block at a time (no str a homestay held at once)
            parts, lengths = [], np.zeros(len(order), np.int64)
            for begin in range(0, len(order), _BLOCK):
                texts = [self._text(s) for s in order[begin : begin + _BLOCK].tolist()]
                lengths[begin : begin + len(texts)] = [len(t) + 1 for t in texts]
                parts.append(_GAP.join(texts))
            self._order = order
            self._rank = np.full(self._size, -1, np.int32)
            self._rank[order] = np.arange(len(order))
            self._starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int32)
            self._joined = _GAP.join(parts)
            self._pending_texts = {}
            self._built_texts = None  # in the order now
            self._dirty = False
            self._was, self._recent, self._recent_key = {}, [], {}
        return self._order

    def _walk(self, start: int, text: str | None, after: Key | None) -> Iterator[int]:
        """The slots in name order, from place `start` of the order and after key `after`
        of the recent, whose text holds `text` (all without): places left since skipped."""
        order, was = self._order, self._was
        if not self._recent:  # (then no place was left either: a homestay left joins them)
            for i in self._positions(start, text):
                yield int(order[i])
            return
        name, key_of = self._names.get, self._keys.key
        settled = (
            ((name(slot), key_of(slot)), slot)
            for i in self._positions(start, text)
            if i not in was
            for slot in (int(order[i]),)
        )
        first = 0 if after is None else bisect.bisect_right(self._recent, after, key=_key_of)
        recent = (
            (key, slot)
            for key, slot, _ in self._recent[first:]
            if text is None or text in self._pending_texts[slot]
        )
        for _, slot in heapq.merge(settled, recent):
            yield slot

    def _positions(self, start: int, text: str | None) -> Iterator[int]:
        """The positions in name order from `start` whose text holds `text` (all without)."""
        if text is None:
            yield from range(start, len(self._order))
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
        order = self._ordered()
        key_of = self._keys.key
        start = 0
        if after is not None:
            start = bisect.bisect_right(range(len(order)), after, key=self._key_at)
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


def _key_of(entry: tuple[Key, int, int]) -> Key:
    return entry[0]
