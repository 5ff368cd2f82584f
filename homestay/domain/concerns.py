"""A guest's concern about a certified homestay: what it is, and how it weighs in the plan.

A concern names a certificate (the number on the plaque), a category and what happened. The
same text about the same certificate on the same China day is one concern, however often it
is sent (a double tap, a bot, a guest who was not sure it went). Open concerns are a reason to
re-inspect, weighted by category, SAFETY first. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
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
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"
    DISMISSED = "DISMISSED"


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
