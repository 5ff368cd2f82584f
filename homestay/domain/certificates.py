"""Certificate status and numbering. Pure: the clock is an argument."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from homestay.domain.grades import Grade
from homestay.domain.inspections import Person
from homestay.domain.listings import Listing


class CertificateStatus(Enum):
    VALID = "VALID"
    SUSPENDED = "SUSPENDED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    SUPERSEDED = "SUPERSEDED"

    @property
    def label(self) -> dict[str, str]:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    CertificateStatus.VALID: {"zh": "有效", "en": "Valid"},
    CertificateStatus.SUSPENDED: {"zh": "暂停", "en": "Suspended"},
    CertificateStatus.REVOKED: {"zh": "撤销", "en": "Revoked"},
    CertificateStatus.EXPIRED: {"zh": "过期", "en": "Expired"},
    CertificateStatus.SUPERSEDED: {"zh": "已换发", "en": "Superseded"},
}


class CertificateAction(Enum):
    ISSUE = "ISSUE"
    SUSPEND = "SUSPEND"
    REINSTATE = "REINSTATE"
    REVOKE = "REVOKE"
    SUPERSEDE = "SUPERSEDE"
    # an operator's appeal of a suspension or revocation, filed and decided (the status is
    # unchanged by these; overturning is followed by REINSTATE or RESTORE)
    APPEAL = "APPEAL"
    APPEAL_UPHELD = "APPEAL_UPHELD"
    APPEAL_OVERTURNED = "APPEAL_OVERTURNED"
    # a revocation undone by an overturned appeal: the only way out of REVOKED
    RESTORE = "RESTORE"


# stored status a certificate must have for an action, and the stored status it gets
TRANSITIONS: dict[CertificateAction, tuple[frozenset[CertificateStatus], CertificateStatus]] = {
    CertificateAction.SUSPEND: (frozenset({CertificateStatus.VALID}), CertificateStatus.SUSPENDED),
    CertificateAction.REINSTATE: (
        frozenset({CertificateStatus.SUSPENDED}),
        CertificateStatus.VALID,
    ),
    CertificateAction.REVOKE: (
        frozenset({CertificateStatus.VALID, CertificateStatus.SUSPENDED}),
        CertificateStatus.REVOKED,
    ),
    CertificateAction.RESTORE: (frozenset({CertificateStatus.REVOKED}), CertificateStatus.VALID),
    CertificateAction.SUPERSEDE: (
        frozenset(
            {CertificateStatus.VALID, CertificateStatus.SUSPENDED, CertificateStatus.REVOKED}
        ),
        CertificateStatus.SUPERSEDED,
    ),
}

# SUPERSEDED and REVOKED are final (a revocation is undone only by an overturned appeal);
# past its expiry date a certificate reads EXPIRED unless it was already taken out of service
# for another reason.
FINAL = frozenset({CertificateStatus.SUPERSEDED, CertificateStatus.REVOKED})
# the stored statuses that read EXPIRED once the expiry date has passed, as stored values for
# the database's filters and aggregations (which must say what effective_status says)
LAPSING = frozenset({CertificateStatus.VALID, CertificateStatus.SUSPENDED})
LAPSING_VALUES = sorted(s.value for s in LAPSING)

NUMBER_PATTERN = re.compile(r"^[0-9]{6}-[0-9]{4}-[0-9]{5}$")


def effective_status(
    stored: CertificateStatus, expires_at: datetime, now: datetime
) -> CertificateStatus:
    if stored in LAPSING and now >= expires_at:
        return CertificateStatus.EXPIRED
    return stored


def is_listed(stored: CertificateStatus, expires_at: datetime, now: datetime) -> bool:
    """The rule of what the public is shown: a certificate is listed (found by search, its
    homestay public, in the open-data feed) while VALID and before its expiry."""
    return effective_status(stored, expires_at, now) is CertificateStatus.VALID


def listed_until(stored: CertificateStatus, expires_at: datetime) -> datetime | None:
    """Until when a homestay whose current certificate this is stays listed, with no further
    write (is_listed, stored ahead of time: the finder filters on it); None: not listed."""
    return expires_at if stored is CertificateStatus.VALID else None


@dataclass(frozen=True)
class Listed:
    """is_listed as of `now`, in both of its forms side by side: for a certificate in hand
    and as a MongoDB filter on the stored fields (tests/domain/test_certificates.py keeps
    the two saying the same of every stored status and expiry)."""

    now: datetime

    def keeps(self, stored: CertificateStatus, expires_at: datetime) -> bool:
        return is_listed(stored, expires_at, self.now)

    def mongo(self) -> dict[str, Any]:
        return {"status": CertificateStatus.VALID.value, "expiresAt": {"$gt": self.now}}


@dataclass(frozen=True)
class CertificateEvent:
    """One change of a certificate, with who, when and why (the name and role at the time)."""

    at: datetime
    by: Person
    by_role: str | None
    action: str  # a CertificateAction's value (kept as stored: the history is a record)
    from_status: CertificateStatus | None
    to_status: CertificateStatus
    reason: str | None


@dataclass(frozen=True)
class Certificate:
    """A certificate, converted once from its stored document (storage/documents.py)."""

    number: str
    county: str
    homestay_id: str
    grade: Grade
    stored_status: CertificateStatus
    issued_at: datetime
    expires_at: datetime
    total_points: int | None = None  # of the inspection behind it
    inspection_id: str | None = None
    standard_code: str = ""
    standard_version: int = 0
    listing: Listing | None = None  # the stay as certified, which search shows
    history: tuple[CertificateEvent, ...] = ()  # oldest first

    def status_at(self, now: datetime) -> CertificateStatus:
        return effective_status(self.stored_status, self.expires_at, now)

    def is_listed(self, now: datetime) -> bool:
        return is_listed(self.stored_status, self.expires_at, now)

    @property
    def suspensions(self) -> tuple[tuple[datetime, str], ...]:
        """When and why it was suspended, oldest first."""
        return tuple(
            (e.at, e.reason or "")
            for e in self.history
            if e.action == CertificateAction.SUSPEND.value
        )


def expiry(issued_at: datetime, validity_days: int) -> datetime:
    return issued_at + timedelta(days=validity_days)


def format_number(county: str, year: int, sequence: int) -> str:
    """County code, year of issue, sequence within them: 330521-2026-00042."""
    return f"{county}-{year:04d}-{sequence:05d}"
