"""Assignments: the bureau sends one of its county's inspectors to a homestay by a due date.

An assignment is OPEN until the assigned inspector submits an inspection of the homestay
(DONE, linked to it) or the bureau cancels it (CANCELLED). A homestay has at most one OPEN
assignment. A spot check's assignment is drawn before anyone is sent: it is OPEN with no
inspector until the bureau assigns one, and for a spot check that may never be the inspector
who inspected the homestay last (the check would not be impartial); for any other source that
is allowed, with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from homestay.domain.inspections import Person


class AssignmentStatus(str, Enum):
    OPEN = "OPEN"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


class AssignmentSource(str, Enum):
    SPOT_CHECK = "SPOT_CHECK"  # drawn by drawSpotChecks
    REQUEST = "REQUEST"  # the operator asked to be inspected
    CONCERN = "CONCERN"  # a guest reported a concern
    MANUAL = "MANUAL"  # the bureau's own choice


@dataclass(frozen=True)
class Assignment:
    id: str
    homestay_id: str
    county: str
    inspector: Person | None  # None: a drawn spot check no one has been sent to yet
    due_date: date  # a China day
    source: AssignmentSource
    status: AssignmentStatus
    note: str | None
    created_at: datetime
    created_by: Person
    inspection_id: str | None = None  # the submission that completed it
    draw_id: str | None = None  # the spot-check draw it came from
    cancelled_reason: str | None = None

    def overdue(self, today: date) -> bool:
        """Still OPEN after its due day (China days)."""
        return self.status is AssignmentStatus.OPEN and self.due_date < today
