"""Strings kept by slot in one string: what the in-process copies (the stay index, the
finder) hold of each stay's names and texts.

Why: a Python str costs ~50-75 bytes besides its characters; at 200,000 stays one per stay
and field came to tens of MB. Joined, a slot's string costs its characters and the 8 bytes
of where it begins."""

from __future__ import annotations

import numpy as np

_PREFIX = 16  # characters an order compares in numpy; strings sharing them are compared whole
PENDING_AT_MOST = 4_096  # changes waiting to be written in (or an eighth of the slots)


class JoinedStrings:
    """A string for each slot, slot after slot, in one string (with where each begins)
    instead of one object a stay: at 200,000 stays a name as its own str costs ~90 bytes,
    in one string its characters alone. Changes wait in `pending`, read through `get`, until
    `settle` writes them in; a build appends its chunks as they come, in slot order."""

    def __init__(self, empty: str) -> None:
        self.empty = empty  # what a slot never written holds
        self.text = ""
        self.starts = np.zeros(1, np.int32)  # where slot s begins; the last is the end
        self.tail: list[tuple[str, np.ndarray]] = []  # appended chunks not yet joined in
        self.size = 0  # slots covered by text and tail
        self.pending: dict[int, str] = {}
        self.version = 0  # counts the changes written into text

    def put(self, slots: list[int], values: list[str]) -> None:
        if (
            len(slots) > 1  # one new slot waits with the changes: joining it copies the text
            and not self.pending
            and slots[0] == self.size
            and slots[-1] == self.size + len(slots) - 1
            and all(b == a + 1 for a, b in zip(slots, slots[1:], strict=False))
        ):
            # the next slots in order, as a build fills them: appended whole
            lengths = np.fromiter((len(x) for x in values), np.int64, len(values))
            self.tail.append(("".join(values), lengths))
            self.size += len(slots)
            return
        for slot, value in zip(slots, values, strict=True):
            if slot >= self.size or self.get(slot) != value:
                self.pending[slot] = value
        if len(self.pending) > max(PENDING_AT_MOST, self.size // 8):
            self.settle()  # what waits stays bounded even where no one searches by text

    def get(self, slot: int) -> str:
        if slot in self.pending:
            return self.pending[slot]
        self._join_tail()
        return self._built(slot)

    def _built(self, slot: int) -> str:
        """Slot's string in the joined text (pending changes aside)."""
        if slot >= len(self.starts) - 1:
            return self.empty
        return self.text[self.starts[slot] : self.starts[slot + 1]]

    def _join_tail(self) -> None:
        if not self.tail:
            return
        lengths = np.concatenate([np.diff(self.starts)] + [t[1] for t in self.tail])
        self.text = self.text + "".join(t[0] for t in self.tail)
        self.starts = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
        self.tail = []
        self.version += 1

    def settle(self) -> None:
        """The text made whole: appended chunks joined, pending changes written in. The
        unchanged stretches between changed slots are copied as slices and the offsets
        recomputed in numpy: a rename costs a copy of the text at C speed, never a Python
        step for every slot (0.12 s at 200,000 names when it was)."""
        self._join_tail()
        if not self.pending:
            return
        text, starts, old = self.text, self.starts, len(self.starts) - 1
        size = max(self.size, max(self.pending) + 1)
        lengths = np.empty(size, np.int64)
        lengths[:old] = np.diff(starts)
        lengths[old:] = len(self.empty)
        pieces: list[str] = []
        copied = 0  # how much of the old text is in pieces
        beyond = old  # the next slot past the old text not yet in pieces
        for slot in sorted(self.pending):
            value = self.pending[slot]
            lengths[slot] = len(value)
            if slot < old:
                pieces.append(text[copied : int(starts[slot])])
                copied = int(starts[slot + 1])
            else:
                pieces.append(text[copied:])
                copied = len(text)
                pieces.append(self.empty * (slot - beyond))
                beyond = slot + 1
            pieces.append(value)
        pieces.append(text[copied:])
        pieces.append(self.empty * (size - beyond))
        self.pending = {}
        self.size = size
        self.text = "".join(pieces)
        self.starts = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
        self.version += 1

    def ordered(self, slots: np.ndarray, ties: np.ndarray) -> np.ndarray:
        """`slots` in (string, tie) order, as sorted() orders them by (str, tie), in numpy:
        the first _PREFIX characters as fixed-width strings, then the runs sharing those
        characters with a longer string among them sorted whole. A sort keyed by tuples made
        two objects a stay at once, whose heap stayed resident."""
        self.settle()
        slots = np.asarray(slots, np.int64)
        if not self.text:
            return slots[np.argsort(ties, kind="stable")].astype(np.int32)
        codes = np.frombuffer(self.text.encode("utf-32-le"), "<u4")
        begins = self.starts[slots].astype(np.int64)
        lengths = self.starts[slots + 1] - begins
        prefix = np.zeros((len(slots), _PREFIX), "<u4")
        for column in range(_PREFIX):
            inside = lengths > column
            prefix[inside, column] = codes[begins[inside] + column]
        keys = prefix.view(f"<U{_PREFIX}").ravel()
        order = np.lexsort((ties, keys))
        ranked = keys[order]
        new_run = np.concatenate(([True], ranked[1:] != ranked[:-1]))
        run = np.cumsum(new_run) - 1
        run_starts = np.append(np.flatnonzero(new_run), len(order))
        for r in np.unique(run[lengths[order] > _PREFIX]).tolist():
            a, b = int(run_starts[r]), int(run_starts[r + 1])
            if b - a > 1:
                order[a:b] = sorted(
                    order[a:b].tolist(),
                    key=lambda i: (self._built(int(slots[i])), bytes(ties[i])),
                )
        return slots[order].astype(np.int32)
