"""The inspector's finder, held in each API process: every registered homestay's county, name,
folded text and `listedUntil`, in name order.

Measured first: the embedded server serves neither a sort nor a limit from an index, and
bounds a compound index by its first field only, so a bigram-indexed `$regex` find took 6 s at
20,000 homestays in one county and a plain page of a county 0.9 s. A substring test over the
folded texts held here takes milliseconds, and the database is asked two cheap things per
request: what changed since this copy's version (every write of a homestay, and of its
`listedUntil`, sets `updatedAt`, served by the `updated` index), and the page's documents by
`_id` (services/caught_up.py). So the answer is exact in every process at once, as the stay
index's is.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection

from homestay.clock import utcnow
from homestay.services.caught_up import CaughtUpCopy
from homestay.storage.database import Database

_GAP = "\x1e"  # between two homestays' texts: no query holds it (a control character)


@dataclass(frozen=True)
class Entry:
    county: str
    name: str
    text: str
    listed_until: datetime | None


class FinderIndex(CaughtUpCopy):
    projection = {"county": 1, "name": 1, "findText": 1, "listedUntil": 1, "updatedAt": 1}

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.entries: dict[str, Entry] = {}
        self._order: list[tuple[str, str]] = []  # (name, id), sorted
        # every folded text in that order, joined, and where each begins: a substring is
        # found by str.find over one string (C speed), not by a test per homestay
        self._joined = ""
        self._starts: list[int] = []
        self._dirty = False

    def __len__(self) -> int:
        return len(self.entries)

    def _collection(self) -> AsyncCollection:
        return self.db.homestays

    async def _load(self) -> None:
        started = utcnow()
        self._see(await self.db.homestays.find({}, self.projection, batch_size=10_000).to_list())
        # what was written while the read ran is read again by the first catch-up
        self.version = started

    def _apply(self, doc: dict) -> None:
        entry = Entry(doc["county"], doc["name"], doc.get("findText") or "", doc.get("listedUntil"))
        if self.entries.get(doc["_id"]) != entry:
            self.entries[doc["_id"]] = entry
            self._dirty = True

    def _ordered(self) -> list[tuple[str, str]]:
        if self._dirty:
            self._order = sorted((e.name, key) for key, e in self.entries.items())
            texts = [self.entries[key].text for _, key in self._order]
            self._starts, at = [], 0
            for text in texts:
                self._starts.append(at)
                at += len(text) + 1
            self._joined = _GAP.join(texts)
            self._dirty = False
        return self._order

    def _positions(self, start: int, text: str | None) -> Iterator[int]:
        """The positions in name order from `start` whose text holds `text` (all without)."""
        if text is None:
            yield from range(start, len(self._order))
            return
        at = self._starts[start] if start < len(self._starts) else len(self._joined)
        while (hit := self._joined.find(text, at)) >= 0:
            position = bisect.bisect_right(self._starts, hit) - 1
            yield position
            if position + 1 >= len(self._starts):
                return
            at = self._starts[position + 1]

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
        start = bisect.bisect_right(order, after) if after else 0
        found: list[str] = []
        for i in self._positions(start, text):
            key = order[i][1]
            entry = self.entries[key]
            if counties is not None and entry.county not in counties:
                continue
            if ids is not None and key not in ids:
                continue
            if (
                certified is not None
                and (entry.listed_until is not None and entry.listed_until > now) != certified
            ):
                continue
            found.append(key)
            if limit is not None and len(found) >= limit:
                break
        return found
