"""The stays in (name, number) order, kept exact under changes at O(log n) each: a search by
name, of every process, after any rename or addition.

Why not one sorted array: a rename or an addition moved every slot after its place (a deletion,
an insertion and the places of those after it rewritten), O(n) on the request path of
whichever search followed; a sort of every name again is O(n log n). The figures:
docs/performance.md, "One change to the stay index or the finder".

How: the order of the last settle (`_main`, slots) stays as it was; a stay that leaves it is
marked dead at its place and the key it was ordered by is kept (so the array stays sorted for
a binary search); a stay that joins goes to `_recent`, a short sorted list, and is ranked
between the two places of the settled order it falls between. So each stay has a rank
(`rank`, by slot) that orders every ordered stay as their (name, number) do: integers for the
settled, fractions between them for the recent. Once SETTLE_AT changes are waiting they are
merged in one O(n) pass in numpy, so each change costs O(log n) plus O(n / SETTLE_AT)
amortised.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator

import numpy as np

SETTLE_AT = 4_096  # changes waiting (joined, or left the settled order) before a merge

Key = tuple[str, str]  # (name, number)


class NameOrder:
    """`merging`, if given, is told of each settle before it happens: which places of the
    settled order are left (by place), and the recent stays' slots with the place each goes
    before, in order (the finder merges its joined texts by them)."""

    def __init__(
        self,
        key: Callable[[int], Key],
        merging: Callable[[np.ndarray, list[int], list[int]], None] | None = None,
        settle_at: int | None = None,
    ) -> None:
        self._key = key  # a slot's (name, number) now
        self._merging = merging
        self._settle_at = settle_at or SETTLE_AT
        self._main: np.ndarray | None = None  # the slots in order, as of the last settle
        self._dead = np.zeros(0, np.bool_)  # by place in _main: left since
        self._was: dict[int, Key] = {}  # by place in _main, of the dead: the key it had
        self._recent: list[tuple[Key, int, int]] = []  # (key, slot, place in _main before which)
        self._recent_key: dict[int, Key] = {}  # slot -> its key, of the recent
        self._recent_slots: np.ndarray | None = None  # the recent's slots, in order, when asked
        self.rank = np.zeros(0, np.float64)  # by slot: where it is in the order

    @property
    def built(self) -> bool:
        return self._main is not None

    def forget(self) -> None:
        """Many changes at once (a build): the next `build` orders every stay anew."""
        self._main = None

    def build(self, ordered: np.ndarray, capacity: int) -> None:
        """`ordered`: every stay's slot, in (name, number) order."""
        self._main = np.asarray(ordered, np.int32)
        self._dead = np.zeros(len(self._main), np.bool_)
        self._was, self._recent, self._recent_key = {}, [], {}
        self._recent_slots = None
        self.rank = np.zeros(max(capacity, 1), np.float64)
        self.rank[self._main] = np.arange(len(self._main), dtype=np.float64)

    def __len__(self) -> int:
        if self._main is None:
            return 0
        return len(self._main) - len(self._was) + len(self._recent)

    # -- changes --------------------------------------------------------------------------

    def remove(self, slot: int) -> None:
        """The stay at `slot` leaves the order; call it while the slot still has the key it
        was ordered by (before a rename or a new number)."""
        if self._main is None:
            return
        key = self._recent_key.pop(slot, None)
        if key is not None:  # joined since the last settle: it leaves the short list
            del self._recent[bisect.bisect_left(self._recent, key, key=_key_of)]
            self._recent_slots = None
            return
        place = int(self.rank[slot])
        self._dead[place] = True
        self._was[place] = self._key(slot)
        self._settle_if_due()

    def add(self, slot: int) -> None:
        """The stay at `slot`, with its key now, joins the order."""
        if self._main is None:
            return
        key = self._key(slot)
        before = bisect.bisect_left(range(len(self._main)), key, key=self._main_key)
        bisect.insort(self._recent, (key, slot, before))
        self._recent_key[slot] = key
        self._recent_slots = None
        if slot >= len(self.rank):
            grown = np.zeros(max(slot + 1, len(self.rank) * 5 // 4), np.float64)
            grown[: len(self.rank)] = self.rank
            self.rank = grown
        self._rank_between(before)
        self._settle_if_due()

    def _main_key(self, place: int) -> Key:
        assert self._main is not None
        was = self._was.get(place)
        return was if was is not None else self._key(int(self._main[place]))

    def _rank_between(self, before: int) -> None:
        """The recent stays going before settled place `before` (a run of the short list),
        ranked between place - 1 and place: the i-th of n at before - 1 + (i + 1) / (n + 1),
        strictly increasing in i. Only this run moves: the others' gaps are untouched."""
        first = bisect.bisect_left(self._recent, before, key=_place_of)
        last = bisect.bisect_right(self._recent, before, key=_place_of)
        count = last - first
        slots = [slot for _, slot, _ in self._recent[first:last]]
        self.rank[slots] = before - 1 + np.arange(1, count + 1) / (count + 1)

    def _settle_if_due(self) -> None:
        if len(self._recent) + len(self._was) >= self._settle_at:
            self.settle()

    def settle(self) -> None:
        """The waiting changes merged into the settled order, in one pass."""
        if self._main is None or not (self._recent or self._was):
            return
        slots = [slot for _, slot, _ in self._recent]
        places = [place for _, _, place in self._recent]
        if self._merging is not None:
            self._merging(self._dead, places, slots)
        merged = np.insert(self._main[~self._dead], kept_before(self._dead)[places], slots)
        self.build(merged, len(self.rank))

    # -- reads ----------------------------------------------------------------------------

    @property
    def settled(self) -> np.ndarray:
        """The slots in order as of the last settle (some left since: `left`)."""
        assert self._main is not None
        return self._main

    def left(self, place: int) -> bool:
        """Whether the stay at `place` of the settled order has left it since."""
        return bool(self._dead[place])

    def settled_after(self, key: Key | None) -> int:
        """The first place of the settled order whose key is greater than `key`."""
        if key is None or self._main is None:
            return 0
        return bisect.bisect_right(range(len(self._main)), key, key=self._main_key)

    def recent_after(self, key: Key | None) -> list[tuple[Key, int, int]]:
        """The (key, slot, place) of the stays joined since the last settle whose key is
        greater than `key`, in order."""
        first = 0 if key is None else bisect.bisect_right(self._recent, key, key=_key_of)
        return self._recent[first:]

    def after(self, key: Key | None) -> float:
        """The rank from which the stays whose key is greater than `key` start (every stay's,
        for None)."""
        if key is None or self._main is None:
            return -1.0
        first = float(self.settled_after(key))
        j = bisect.bisect_right(self._recent, key, key=_key_of)
        if j < len(self._recent):
            first = min(first, float(self.rank[self._recent[j][1]]))
        return first

    def blocks(self, start: float, size: int) -> Iterator[np.ndarray]:
        """The stays ranked `start` or later, in order, in blocks of `size` ranks, then twice
        as many each time."""
        if self._main is None:
            return
        settled = len(self._main)
        if self._recent_slots is None:
            self._recent_slots = np.array([slot for _, slot, _ in self._recent], np.int64)
        recent_slots = self._recent_slots
        recent_ranks = self.rank[recent_slots]
        low = start
        while low < settled:
            high = low + size
            places = np.arange(max(math.ceil(low), 0), min(math.ceil(high), settled))
            places = places[~self._dead[places]]
            joining = (recent_ranks >= low) & (recent_ranks < high)
            if joining.any():
                chunk = np.concatenate((self._main[places], recent_slots[joining]))
                yield chunk[np.argsort(self.rank[chunk], kind="stable")]
            else:
                yield self._main[places].astype(np.int64)
            low, size = high, size * 2


def kept_before(dead: np.ndarray) -> np.ndarray:
    """By place p (0 to len(dead)): how many places before p are not dead, i.e. where place p
    lands once the dead are dropped."""
    return np.concatenate(([0], np.cumsum(~dead)))


def _key_of(entry: tuple[Key, int, int]) -> Key:
    return entry[0]


def _place_of(entry: tuple[Key, int, int]) -> int:
    return entry[2]
