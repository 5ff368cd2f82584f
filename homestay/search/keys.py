"""Which slot holds which id, for the in-process copies (the stay index, the finder), in
arrays instead of a dict of strings.

Why: an id kept as its own str costs far more than its bytes, and each such str was allocated
while its document was decoded, among the document's other objects, so the few bytes kept pin
whole pages of the freed documents in the heap. Here ids are bytes in two arrays, by slot and
sorted (with each one's slot), and found by binary search. A build's chunk is merged in at once
(`bulk`); an id set one at a time (a change) waits in a small dict until there are enough of
them to merge.
"""

from __future__ import annotations

import numpy as np

_MERGE_AT = 4_096  # ids waiting before they are merged into the sorted array


class SlotKeys:
    def __init__(self) -> None:
        self._by_slot = np.zeros(0, "S1")  # slot -> id (b"" where none)
        self._sorted = np.zeros(0, "S1")  # the ids of the last merge, sorted
        self._sorted_slots = np.zeros(0, np.int32)  # and the slot of each
        self._recent: dict[str, int] = {}  # id -> slot, set since the last merge (-1: gone)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def get(self, key: str) -> int | None:
        slot = self._recent.get(key)
        if slot is None:
            slot = self._find(key.encode())
        return None if slot is None or slot < 0 else slot

    def _position(self, raw: bytes) -> int | None:
        """Where `raw` is in the sorted array, if it is."""
        sorted_ = self._sorted
        if len(raw) > sorted_.dtype.itemsize:
            return None
        at = int(np.searchsorted(sorted_, raw))
        return at if at < len(sorted_) and sorted_[at] == raw else None

    def _find(self, raw: bytes) -> int | None:
        at = self._position(raw)
        return None if at is None else int(self._sorted_slots[at])

    def key(self, slot: int) -> str:
        """The id in `slot`, "" where none."""
        if slot >= len(self._by_slot):
            return ""
        return bytes(self._by_slot[slot]).decode()

    def raw(self, slots: np.ndarray) -> np.ndarray:
        """The ids in `slots` as UTF-8 bytes, which order as the ids do."""
        return self._by_slot[slots]

    def set(self, key: str, slot: int) -> None:
        """`key` is now held in `slot` (a new id, or one moved to another slot)."""
        self._put(key, slot)
        if len(self._recent) >= max(_MERGE_AT, len(self._sorted) // 8):
            self.settle()

    def bulk(self, keys: list[str], slots: list[int] | np.ndarray) -> None:
        """Ids not held yet, each once (a build's chunk), merged into the sorted array at
        once: a build keeps no object an id (a dict of waiting ids, allocated among the
        documents read, would pin the allocator's pools)."""
        if not keys:
            return
        self.settle()
        raw = _encoded(keys)
        at_slots = np.asarray(slots, np.int32)
        order = np.argsort(raw, kind="stable")
        raw, at_slots = raw[order], at_slots[order]
        if bool((raw[1:] == raw[:-1]).any()) or bool((self._positions(raw) >= 0).any()):
            raise ValueError("bulk adds ids not held yet, each once")
        width = max(raw.dtype.itemsize, self._sorted.dtype.itemsize)
        at = np.searchsorted(self._sorted, raw)
        self._sorted = np.insert(self._sorted.astype(f"S{width}", copy=False), at, raw)
        self._sorted_slots = np.insert(self._sorted_slots, at, at_slots)
        self._room(int(at_slots.max()), raw.dtype.itemsize)
        self._by_slot[at_slots] = raw
        self._count += len(raw)

    def holds(self, keys: list[str]) -> np.ndarray:
        """Which of `keys` are held, found in one search for them all."""
        found = self._positions(_encoded(keys)) >= 0
        if self._recent:
            for i, key in enumerate(keys):
                slot = self._recent.get(key)
                if slot is not None:
                    found[i] = slot >= 0
        return found

    def new(self, keys: list[str]) -> np.ndarray:
        """Which of `keys` are neither held nor earlier in `keys` (what `bulk` may add)."""
        fresh = ~self.holds(keys)
        seen: set[str] = set()
        for i, key in enumerate(keys):
            if key in seen:
                fresh[i] = False
            seen.add(key)
        return fresh

    def _positions(self, raw: np.ndarray) -> np.ndarray:
        """Where each of `raw` is in the sorted array, -1 where it is not."""
        sorted_ = self._sorted
        at = np.searchsorted(sorted_, raw) if len(sorted_) else np.zeros(len(raw), np.int64)
        inside = at < len(sorted_)
        hit = np.zeros(len(raw), np.bool_)
        hit[inside] = sorted_[at[inside]] == raw[inside]
        return np.where(hit, at, -1)

    def _room(self, slot: int, width: int) -> None:
        """`_by_slot` long enough for `slot` and wide enough for an id of `width` bytes."""
        if slot >= len(self._by_slot):
            self._by_slot = _resized(self._by_slot, max(1024, (slot + 1) * 5 // 4), width)
        elif width > self._by_slot.dtype.itemsize:
            self._by_slot = self._by_slot.astype(f"S{width}")

    def _put(self, key: str, slot: int) -> None:
        raw = key.encode()
        before = self.get(key)
        if before is not None:
            self._by_slot[before] = b""
        else:
            self._count += 1
        self._room(slot, len(raw))
        self._by_slot[slot] = raw
        self._recent[key] = slot

    def remove(self, key: str) -> None:
        slot = self.get(key)
        if slot is None:
            return
        self._by_slot[slot] = b""
        self._recent[key] = -1
        self._count -= 1

    def settle(self) -> None:
        """The waiting ids merged into the sorted array."""
        if not self._recent:
            return
        raw = _encoded(list(self._recent))
        held = np.fromiter(self._recent.values(), np.int32, len(self._recent))
        live = np.ones(len(self._sorted), np.bool_)
        at = self._positions(raw)
        live[at[at >= 0]] = False  # superseded or gone: its old entry goes
        added = held >= 0
        width = max(self._sorted.dtype.itemsize, raw.dtype.itemsize)
        keys = np.concatenate(
            [self._sorted[live].astype(f"S{width}"), raw[added].astype(f"S{width}")]
        )
        slots = np.concatenate([self._sorted_slots[live], held[added]])
        order = np.argsort(keys, kind="stable")
        self._sorted, self._sorted_slots = keys[order], slots[order]
        self._recent = {}


def _encoded(keys: list[str]) -> np.ndarray:
    return np.array([key.encode() for key in keys], np.bytes_)


def _resized(array: np.ndarray, size: int, width: int) -> np.ndarray:
    grown = np.zeros(size, f"S{max(width, array.dtype.itemsize)}")
    grown[: len(array)] = array
    return grown
