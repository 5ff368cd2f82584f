"""Which slot holds which id, for the in-process copies (the stay index, the finder), in
arrays instead of a dict of strings.

Why: an id kept as its own str is ~70 bytes, its dict entry and slot number ~60 more; and
each such str was allocated while its document was decoded, among the document's other
objects, so the few bytes kept pin whole pages of the freed documents in the heap: at 200,000
homestays the finder's copy held 58 MB of live objects and 140 MB of resident memory. Here
ids are bytes in two arrays, by slot and sorted (with each one's slot), and found by binary
search; the ones set since the sorted array was made wait in a small dict until there are
enough of them to merge.
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

    def set(self, key: str, slot: int) -> None:
        """`key` is now held in `slot` (a new id, or one moved to another slot)."""
        self._put(key, slot)
        if len(self._recent) >= max(_MERGE_AT, len(self._sorted) // 8):
            self.settle()

    def bulk(self, keys: list[str], slots: list[int]) -> None:
        """Many at once (a build): merged when as many wait as are sorted, so that a build
        of n ids sorts about 2n in all."""
        for key, slot in zip(keys, slots, strict=True):
            self._put(key, slot)
        if len(self._recent) >= max(_MERGE_AT, len(self._sorted)):
            self.settle()

    def _put(self, key: str, slot: int) -> None:
        raw = key.encode()
        before = self.get(key)
        if before is not None:
            self._by_slot[before] = b""
        else:
            self._count += 1
        if slot >= len(self._by_slot):
            self._by_slot = _resized(self._by_slot, max(1024, (slot + 1) * 5 // 4), len(raw))
        elif len(raw) > self._by_slot.dtype.itemsize:
            self._by_slot = self._by_slot.astype(f"S{len(raw)}")
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
        live = np.ones(len(self._sorted), np.bool_)
        added = []
        for key, slot in self._recent.items():
            raw = key.encode()
            at = self._position(raw)
            if at is not None:  # superseded or gone: its old entry goes
                live[at] = False
            if slot >= 0:
                added.append((raw, slot))
        width = max([self._sorted.dtype.itemsize] + [len(raw) for raw, _ in added])
        keys = np.concatenate(
            [self._sorted[live].astype(f"S{width}"), np.array([k for k, _ in added], f"S{width}")]
        )
        slots = np.concatenate(
            [self._sorted_slots[live], np.array([s for _, s in added], np.int32)]
        )
        order = np.argsort(keys, kind="stable")
        self._sorted, self._sorted_slots = keys[order], slots[order]
        self._recent = {}


def _resized(array: np.ndarray, size: int, width: int) -> np.ndarray:
    grown = np.zeros(size, f"S{max(width, array.dtype.itemsize)}")
    grown[: len(array)] = array
    return grown
