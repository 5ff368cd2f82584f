"""The three certified grades, ordered: STANDARD < PREMIUM < BOUTIQUE."""

from __future__ import annotations

from enum import Enum
from functools import total_ordering


@total_ordering
class Grade(Enum):
    STANDARD = "STANDARD"
    PREMIUM = "PREMIUM"
    BOUTIQUE = "BOUTIQUE"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def label(self) -> dict[str, str]:
        return _LABELS[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Grade):
            return NotImplemented
        return self.rank < other.rank

    def __hash__(self) -> int:
        return hash(self.value)


_RANK = {Grade.STANDARD: 1, Grade.PREMIUM: 2, Grade.BOUTIQUE: 3}
_LABELS = {
    Grade.STANDARD: {"zh": "标准民宿", "en": "Standard homestay"},
    Grade.PREMIUM: {"zh": "优品民宿", "en": "Premium homestay"},
    Grade.BOUTIQUE: {"zh": "精品民宿", "en": "Boutique homestay"},
}

ALL_GRADES: tuple[Grade, ...] = (Grade.STANDARD, Grade.PREMIUM, Grade.BOUTIQUE)
