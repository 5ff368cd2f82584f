"""An inspection's life: asked for, submitted, then approved or rejected by someone else."""

from __future__ import annotations

from enum import Enum


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
