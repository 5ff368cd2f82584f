"""A guest's concern about a certified homestay: what it is, and how it weighs in the plan.

A concern names a certificate (the number on the plaque), a category and what happened. The
same text about the same certificate on the same China day is one concern, however often it
is sent (a double tap, a bot, a guest who was not sure it went).

Concerns are a reason to re-inspect (domain/plan), but an anonymous report must not be a
weapon against a competitor: an unreviewed concern counts once per reporter (one network
address) and certificate, and weighs little; one the bureau SUBSTANTIATED weighs in full
(`tally`). Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum


class ConcernCategory(Enum):
    HYGIENE = "HYGIENE"
    SAFETY = "SAFETY"
    MISREPRESENTATION = "MISREPRESENTATION"
    PRICE = "PRICE"
    SERVICE = "SERVICE"
    OTHER = "OTHER"

    @property
    def label(self) -> dict[str, str]:
        return _CATEGORY_LABELS[self]


class ConcernStatus(Enum):
    OPEN = "OPEN"  # reported, not reviewed yet
    SUBSTANTIATED = "SUBSTANTIATED"  # the bureau found it well-founded; not settled yet
    RESOLVED = "RESOLVED"
    DISMISSED = "DISMISSED"

    def can_become(self, outcome: ConcernStatus) -> bool:
        """The bureau's triage: an open concern is substantiated, resolved or dismissed; a
        substantiated one is resolved (or, on second thoughts, dismissed)."""
        return outcome in _NEXT[self]


_NEXT = {
    ConcernStatus.OPEN: {
        ConcernStatus.SUBSTANTIATED,
        ConcernStatus.RESOLVED,
        ConcernStatus.DISMISSED,
    },
    ConcernStatus.SUBSTANTIATED: {ConcernStatus.RESOLVED, ConcernStatus.DISMISSED},
    ConcernStatus.RESOLVED: set(),
    ConcernStatus.DISMISSED: set(),
}


_CATEGORY_LABELS = {
    ConcernCategory.HYGIENE: {"zh": "卫生", "en": "hygiene"},
    ConcernCategory.SAFETY: {"zh": "安全", "en": "safety"},
    ConcernCategory.MISREPRESENTATION: {"zh": "与宣传不符", "en": "not as advertised"},
    ConcernCategory.PRICE: {"zh": "价格", "en": "price"},
    ConcernCategory.SERVICE: {"zh": "服务", "en": "service"},
    ConcernCategory.OTHER: {"zh": "其他", "en": "other"},
}

MAX_DESCRIPTION = 2000
MAX_CONTACT = 100


@dataclass(frozen=True)
class ConcernTally:
    """What weighs in the plan of one homestay's concerns: per category, how many reporters
    have an unreviewed concern (each reporter once, at the most serious category they named),
    and how many concerns the bureau substantiated."""

    unreviewed: Mapping[ConcernCategory, int]
    substantiated: Mapping[ConcernCategory, int]

    def __bool__(self) -> bool:
        return bool(self.unreviewed) or bool(self.substantiated)


def tally(
    concerns: Iterable[tuple[str, ConcernStatus, ConcernCategory]],
    seriousness: Callable[[ConcernCategory], int],
) -> ConcernTally:
    """The tally of (reporter, status, category) for one homestay: unreviewed (OPEN) ones
    by distinct reporter, SUBSTANTIATED ones each; the rest weigh nothing."""
    worst: dict[str, ConcernCategory] = {}
    substantiated: Counter[ConcernCategory] = Counter()
    for reporter, status, category in concerns:
        if status is ConcernStatus.SUBSTANTIATED:
            substantiated[category] += 1
        elif status is ConcernStatus.OPEN:
            known = worst.get(reporter)
            if known is None or seriousness(category) > seriousness(known):
                worst[reporter] = category
    return ConcernTally(dict(Counter(worst.values())), dict(substantiated))


def same_concern_key(number: str, text: str, day: date) -> str:
    """One key for the same words about the same certificate on the same China day."""
    folded = " ".join(text.split()).casefold()
    return hashlib.sha256(f"{number}\n{day.isoformat()}\n{folded}".encode()).hexdigest()


@dataclass(frozen=True)
class Resolution:
    by_name: str
    at: datetime
    note: str


@dataclass(frozen=True)
class Concern:
    """A guest's concern as recorded (the contact is the bureau's to see)."""

    id: str
    receipt: str
    certificate_number: str
    homestay_name: str
    county: str
    category: ConcernCategory
    description: str
    contact: str | None
    status: ConcernStatus
    reported_at: datetime
    photo_ids: tuple[str, ...]
    resolution: Resolution | None
