"""An inspection's life: asked for, submitted, then approved or rejected by someone else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from homestay.domain.geo import LatLng
from homestay.domain.grades import Grade
from homestay.domain.grading import Answer


class InspectionStatus(str, Enum):
    SUBMITTED = "SUBMITTED"  # awaiting review
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class ReviewDecision(str, Enum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"

    @property
    def outcome(self) -> InspectionStatus:
        return (
            InspectionStatus.APPROVED
            if self is ReviewDecision.APPROVE
            else InspectionStatus.REJECTED
        )


class RequestStatus(str, Enum):
    """An operator's request to be inspected: OPEN in the county's queue until an inspection
    of the homestay is submitted, which CLOSES it."""

    OPEN = "OPEN"
    CLOSED = "CLOSED"


@dataclass(frozen=True)
class Person:
    """Who did something, as the record keeps it (the name at the time)."""

    id: str | None
    name: str | None


@dataclass(frozen=True)
class ItemAnswer:
    item_code: str
    passed: bool | None
    points: int | None
    note: str | None = None
    photo_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Blocker:
    """What kept the homestay from a grade above the one reached."""

    grade: Grade
    kind: str
    item_code: str | None
    missing_points: int | None


@dataclass(frozen=True)
class Review:
    reviewer: Person
    decision: ReviewDecision
    comment: str | None
    at: datetime


@dataclass(frozen=True)
class Inspection:
    """A filled-in checklist as it was graded, converted once from storage
    (storage/documents.inspection)."""

    id: str
    client_submission_id: str
    homestay_id: str
    county: str
    inspector: Person
    standard_code: str
    standard_version: int
    inspected_at: datetime
    submitted_at: datetime
    status: InspectionStatus
    total_points: int
    max_points: int
    recommended_grade: Grade | None
    results: tuple[ItemAnswer, ...]
    blockers: tuple[Blocker, ...]
    review: Review | None = None
    notes: str | None = None
    distance_from_homestay_m: float | None = None
    far_from_homestay: bool = False
    inspector_point: LatLng | None = None
    certificate_number: str | None = None

    @property
    def standard_key(self) -> str:
        return f"{self.standard_code}@{self.standard_version}"

    def answers(self) -> list[Answer]:
        """The answers as the grading rule reads them."""
        return [Answer(r.item_code, r.passed, r.points) for r in self.results]


@dataclass(frozen=True)
class InspectionRequest:
    """An operator's request that its homestay be inspected."""

    id: str
    homestay_id: str
    county: str
    target_grade: Grade | None
    note: str | None
    status: RequestStatus
    requested_at: datetime
    requested_by: Person
    closed_at: datetime | None  # when an inspection of the homestay was submitted
    inspection_id: str | None  # the inspection that answered it
