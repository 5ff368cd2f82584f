"""Appeals: an operator contests a rejection, a suspension or a revocation; the bureau decides.

Pure: the clock is an argument. The rules here are what may be appealed and until when, who
may not decide, and what overturning does; the service writes the consequences.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from homestay.domain.inspections import Person

APPEAL_WINDOW = timedelta(days=30)


class AppealStatus(str, Enum):
    OPEN = "OPEN"  # waiting for the bureau
    UPHELD = "UPHELD"  # the decision stands
    OVERTURNED = "OVERTURNED"  # the decision is undone


class AppealDecision(str, Enum):
    UPHOLD = "UPHOLD"
    OVERTURN = "OVERTURN"

    @property
    def outcome(self) -> AppealStatus:
        return AppealStatus.UPHELD if self is AppealDecision.UPHOLD else AppealStatus.OVERTURNED


class AppealSubject(str, Enum):
    """The decision appealed: an inspection's rejection, or a certificate taken out of
    service."""

    REJECTION = "REJECTION"
    SUSPENSION = "SUSPENSION"
    REVOCATION = "REVOCATION"


class Remedy(Enum):
    """What overturning an appeal does."""

    REVIEW_AGAIN = "REVIEW_AGAIN"  # the inspection goes back to review, by someone else
    REINSTATE = "REINSTATE"  # the suspended certificate is VALID again
    RESTORE = "RESTORE"  # the revoked certificate is VALID again
    NONE = "NONE"  # nothing left to undo: the certificate has expired meanwhile


@dataclass(frozen=True)
class Decision:
    """The decision an appeal contests: what, when, by whom, and a key naming it once (one
    appeal per decision)."""

    subject: AppealSubject
    at: datetime
    by_id: str | None
    by_name: str | None
    key: str

    def open_until(self) -> datetime:
        return self.at + APPEAL_WINDOW

    def appealable_at(self, now: datetime) -> bool:
        return now < self.open_until()


def remedy(subject: AppealSubject, expires_at: datetime | None, now: datetime) -> Remedy:
    """Overturning undoes the decision where there is still something to undo: a certificate
    past its expiry is not brought back (it would read EXPIRED anyway; the homestay needs a
    new inspection)."""
    if subject is AppealSubject.REJECTION:
        return Remedy.REVIEW_AGAIN
    if expires_at is not None and now >= expires_at:
        return Remedy.NONE
    return Remedy.REINSTATE if subject is AppealSubject.SUSPENSION else Remedy.RESTORE


def may_decide(decider_id: str | None, decision: Decision) -> bool:
    """Never the person who made the appealed decision."""
    return decider_id is not None and decider_id != decision.by_id


@dataclass(frozen=True)
class Ruling:
    decision: AppealDecision
    reason: str
    by: Person
    at: datetime


@dataclass(frozen=True)
class Appeal:
    """An operator's appeal as recorded: what it contests (the decision, when and by whom),
    on what grounds, and the bureau's ruling once made."""

    id: str
    homestay_id: str
    county: str
    subject: AppealSubject
    reason: str
    status: AppealStatus
    appealed_at: datetime
    appellant: Person
    decision_at: datetime
    decision_by: Person
    ruling: Ruling | None
    inspection_id: str | None  # a rejection's inspection
    certificate_number: str | None  # a suspension's or revocation's certificate
