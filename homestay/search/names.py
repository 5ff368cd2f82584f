"""Search by text over the stays' names: which slots hold a folded text in their name or English
name. A `Haystack` joins many names into one string with a separator no text holds, so that
one `str.find` walks them all; `NameMatcher` keeps the haystacks, finds a text's first hits,
marks every slot that contains it (numpy over the code points), and keeps who holds the last
HELD texts until a name changes."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from homestay.search.joined import JoinedStrings

_END = "\x1e"  # after a slot's segment: no search text holds it
SCAN_FROM = 2_000  # from this many slots to test, one str.find across all beats a test each
# names changed since the haystack was joined that a search tests one by one beside it; past
# this many they are joined in first (a copy of the whole text)
BESIDE_AT_MOST = 256
HELD = 16  # texts whose holders are kept (a bit a stay each)


class Haystack(JoinedStrings):
    """One kind of every slot's names, folded, in one string: a text few names hold is found
    across the province by str.find (C speed) and the hits mapped back to slots; one tested
    on many slots is looked for in every slot at once, in numpy; on a few slots, in each by
    slicing. One string instead of one or two per stay. Changes are joined in by the next
    text search."""

    def __init__(self) -> None:
        super().__init__(empty=_END)

    @staticmethod
    def segment(name: str) -> str:
        return f"{name.casefold()}{_END}"

    def ready(self) -> None:
        """Ready to be searched: a build's chunks joined in, and the changes too once they
        are many. Fewer are searched beside the text (`hits`, `each`, `holds`): a rename
        costs the next search a test of its name, not a copy of every name (O(n))."""
        if len(self.pending) > BESIDE_AT_MOST:
            self.settle()
        else:
            self._join_tail()

    def holds(self, slot: int, text: str) -> bool:
        """Whether slot's segment, changed or not, holds `text`."""
        value = self.pending.get(slot)
        if value is None:
            value = self._built(slot)
        return text in value

    def _found(self, text: str, at_most: int) -> list[int] | None:
        """Where `text` occurs; None past `at_most` occurrences."""
        hay = self.text
        found: list[int] = []
        at = hay.find(text)
        while at >= 0:
            if len(found) == at_most:
                return None
            found.append(at)
            at = hay.find(text, at + 1)
        return found

    def _slots(self, found: list[int]) -> np.ndarray:
        return np.searchsorted(self.starts, np.array(found, dtype=np.int64), side="right") - 1

    def hits(self, text: str, at_most: int) -> np.ndarray | None:
        """The slots that hold `text`, in order; None when it occurs more than `at_most`
        times (a text most names hold: testing the place's stays is then cheaper)."""
        found = self._found(text, at_most)
        if found is None:
            return None
        slots = np.unique(self._slots(found))
        if self.pending:  # the joined text's segment of a changed slot is its old one
            slots = slots[~np.isin(slots, np.fromiter(self.pending, np.int64, len(self.pending)))]
            now = [slot for slot, value in self.pending.items() if text in value]
            slots = np.union1d(slots, np.array(now, np.int64))
        return slots

    def containing(self, text: str) -> np.ndarray:
        """One bool a slot of the text: whether its segment holds `text`, found for all at
        once in numpy over the text's code points. Why: a text most names hold ("民宿",
        "homestay") occurs as often as there are stays, and finding each occurrence with
        str.find is a Python step each. Of the joined text only: changes waiting beside it
        are the caller's to test (`holds`)."""
        self._join_tail()
        held = np.zeros(len(self.starts) - 1, np.bool_)
        codes = code_points(self.text)
        needle = [ord(c) for c in text]
        if not needle or len(needle) > len(codes) or max(needle) > np.iinfo(codes.dtype).max:
            return held
        # where the first character is, then those followed by the second, and so on
        at = np.flatnonzero(codes[: len(codes) - len(needle) + 1] == needle[0])
        for i, code in enumerate(needle[1:], 1):
            at = np.compress(np.take(codes, at + i) == code, at)
        # an occurrence lies within one segment (no text holds _END): its slot holds it
        if len(at) * 8 > len(held):  # most slots: one pass over a mark by character
            marks = np.zeros(len(codes), np.bool_)
            marks[at] = True
            return np.logical_or.reduceat(marks, self.starts[:-1])
        held[np.searchsorted(self.starts, at, side="right") - 1] = True
        return held

    def each(self, text: str, slots: np.ndarray) -> np.ndarray:
        """Which of `slots` hold `text`, each slot's segment tested."""
        return np.array([self.holds(s, text) for s in slots.tolist()], dtype=np.bool_).reshape(
            len(slots)
        )


def code_points(text: str) -> np.ndarray:
    """The code points of `text` as an array, in the narrowest of one, two or four bytes that
    holds them all (names in Chinese: two, unless one has a character past U+FFFF)."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), np.uint8)
    two = text.encode("utf-16-le")
    if len(two) == 2 * len(text):  # no surrogate pair: one unit a character
        return np.frombuffer(two, "<u2")
    return np.frombuffer(text.encode("utf-32-le"), "<u4")


class NameMatcher:
    """What a text search looks in: each stay's name and English name, folded, in a haystack
    each. A text holding a character no English name holds (a Chinese one, as most are) is
    looked for in the names only: at 200,000 stays a third of the characters, and the English
    names, all ASCII, take a byte a character instead of the two a joined string with
    Chinese in it takes (str.isascii() answers at once)."""

    def __init__(self, scan_from: int = SCAN_FROM) -> None:
        self.zh, self.en = Haystack(), Haystack()
        self.scan_from = scan_from  # from this many slots, `matching` asks `holding`
        # text -> (the haystacks' versions, slots, a bit a slot): who holds the last texts
        # `containing` found, until a name changes
        self._held: OrderedDict[str, tuple[tuple[int, int], int, np.ndarray]] = OrderedDict()

    def put(self, slots: list[int], names: list[tuple[str, str]]) -> None:
        self.zh.put(slots, [Haystack.segment(name) for name, _ in names])
        self.en.put(slots, [Haystack.segment(name_en) for _, name_en in names])

    def _haystacks(self, text: str) -> list[Haystack]:
        """Those `text` may occur in (none when it cannot occur anywhere)."""
        if not text or _END in text:
            return []
        ascii_text = text.isascii()
        parts = []
        for hay in (self.zh, self.en):
            hay.ready()
            if (
                ascii_text
                or not hay.text.isascii()
                or not all(value.isascii() for value in hay.pending.values())
            ):
                parts.append(hay)
        return parts

    def hits(self, text: str, at_most: int) -> np.ndarray | None:
        """The slots whose names hold `text`, in order; None past `at_most` occurrences (or
        holders, when `holding` knows them)."""
        hays = self._haystacks(text)
        known = self._known(text)
        if known is not None and np.count_nonzero(known) > at_most:
            return None
        found = [hay.hits(text, at_most) for hay in hays]
        if any(f is None for f in found):
            return None
        return np.unique(np.concatenate([np.zeros(0, np.int64), *found]))

    def containing(self, text: str) -> np.ndarray:
        """One bool a slot the haystacks know: whether its name or English name holds
        `text`. A text most names hold ("民宿", "homestay") is what tourists type most: who
        holds the last HELD texts is kept (a bit a slot), until a name changes."""
        hays = self._haystacks(text)
        held = self._known(text)
        if held is None:
            size = max(len(self.zh.starts), len(self.en.starts)) - 1
            held = np.zeros(size, np.bool_)
            for hay in hays:
                found = hay.containing(text)
                held[: len(found)] |= found
            self._held[text] = ((self.zh.version, self.en.version), size, np.packbits(held))
            while len(self._held) > HELD:
                self._held.popitem(last=False)
        changed = self.zh.pending.keys() | self.en.pending.keys()
        if changed:  # the slots changed since the names were joined, each tested
            size = max(len(held), max(changed) + 1)
            if size > len(held):  # (held is this call's own: the kept bits are packed)
                held = np.concatenate((held, np.zeros(size - len(held), np.bool_)))
            for slot in changed:
                held[slot] = any(hay.holds(slot, text) for hay in hays)
        return held

    def _known(self, text: str) -> np.ndarray | None:
        """Who holds `text`, if kept since the names last changed (the haystacks settled)."""
        kept = self._held.get(text)
        if kept is None or kept[0] != (self.zh.version, self.en.version):
            return None
        self._held.move_to_end(text)
        return np.unpackbits(kept[2], count=kept[1]).view(np.bool_)

    def matching(self, text: str, slots: np.ndarray) -> np.ndarray:
        """Which of `slots` hold `text` in a name: of many slots, taken from `holding`; of a
        few, each slot's names tested."""
        if len(slots) >= self.scan_from:
            held = self.containing(text)
            inside = slots < len(held)  # a slot past the names holds nothing yet
            return np.take(held, np.where(inside, slots, 0)) & inside
        among = np.zeros(len(slots), np.bool_)
        for hay in self._haystacks(text):
            among |= hay.each(text, slots)
        return among
