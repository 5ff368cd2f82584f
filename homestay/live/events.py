"""What a change in the database means to the bureau's desk and to an inspector: one pure
function from a change-stream event to a product event, so that every API process reads the
same changes the same way.

The cursor a client gets is the change's resume token with the change's time beside it: the
token resumes the feed just after that change (on a replica set, while the oplog still holds
it); the time lets the service refuse, with a clear message, a cursor older than it keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from homestay.domain.assignments import AssignmentStatus
from homestay.errors import BadUserInput
from homestay.services.pagination import decode_cursor, encode_cursor


class DeskEventKind(str, Enum):
    INSPECTION_SUBMITTED = "INSPECTION_SUBMITTED"
    CONCERN_REPORTED = "CONCERN_REPORTED"
    APPEAL_FILED = "APPEAL_FILED"
    INSPECTION_REQUESTED = "INSPECTION_REQUESTED"
    CERTIFICATE_CHANGED = "CERTIFICATE_CHANGED"


class AssignmentEventKind(str, Enum):
    ASSIGNED = "ASSIGNED"
    CANCELLED = "CANCELLED"
    DUE_TOMORROW = "DUE_TOMORROW"


REVOKED = "REVOKED"  # an account's token revoked: its sockets are closed

# inserted documents that are desk events, by collection
_INSERTED = {
    "inspections": DeskEventKind.INSPECTION_SUBMITTED,
    "concerns": DeskEventKind.CONCERN_REPORTED,
    "appeals": DeskEventKind.APPEAL_FILED,
    "inspection_requests": DeskEventKind.INSPECTION_REQUESTED,
    "certificates": DeskEventKind.CERTIFICATE_CHANGED,
}

# the changes the feed asks the database for (filtered there, not here)
PIPELINE: list[dict[str, Any]] = [
    {
        "$match": {
            "$or": [
                {"operationType": "insert", "ns.coll": {"$in": sorted(_INSERTED)}},
                {
                    "operationType": "update",
                    "ns.coll": "certificates",
                    "updateDescription.updatedFields.status": {"$exists": True},
                },
                {"operationType": {"$in": ["insert", "update"]}, "ns.coll": "assignments"},
                {
                    "operationType": "update",
                    "ns.coll": "accounts",
                    "updateDescription.updatedFields.revokedAt": {"$exists": True},
                },
            ]
        }
    }
]


@dataclass(frozen=True)
class Event:
    kind: str  # a DeskEventKind's or AssignmentEventKind's value, or REVOKED
    cursor: str
    at: datetime
    collection: str
    document: dict  # as it stood after the change
    county: str | None = None
    inspector_id: str | None = None  # an assignment's inspector
    account_id: str | None = None  # a revoked account


def cursor_of(token: dict, at: datetime) -> str:
    return encode_cursor([token["_data"], at.isoformat()])


def parse_cursor(cursor: str) -> tuple[dict, datetime]:
    token, at = decode_cursor(cursor, [str, str])
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise BadUserInput("after", "not a cursor from this feed") from None
    if moment.tzinfo is None:
        raise BadUserInput("after", "not a cursor from this feed")
    return {"_data": token}, moment


def _at(change: dict) -> datetime:
    wall = change.get("wallTime")
    if isinstance(wall, datetime):
        return wall if wall.tzinfo else wall.replace(tzinfo=UTC)
    return datetime.fromtimestamp(change["clusterTime"].time, UTC)  # servers before 6.0


def classify(change: dict) -> Event | None:
    """The product event a change is, or None."""
    collection = change.get("ns", {}).get("coll")
    operation = change.get("operationType")
    doc = change.get("fullDocument")
    if not isinstance(doc, dict):
        return None  # deleted since (an update looked up too late): nothing to show
    at = _at(change)
    cursor = cursor_of(change["_id"], at)
    if collection == "accounts":
        return Event(REVOKED, cursor, at, collection, doc, account_id=doc["_id"])
    if collection == "assignments":
        return _assignment_event(change, operation, doc, cursor, at)
    if operation == "insert" and collection in _INSERTED:
        kind = _INSERTED[collection].value
    elif operation == "update" and collection == "certificates":
        kind = DeskEventKind.CERTIFICATE_CHANGED.value
    else:
        return None
    return Event(kind, cursor, at, collection, doc, county=doc.get("county"))


def _assignment_event(
    change: dict, operation: str | None, doc: dict, cursor: str, at: datetime
) -> Event | None:
    inspector = (doc.get("inspector") or {}).get("id")
    if inspector is None:
        return None  # a drawn spot check no one is sent to yet
    changed = (change.get("updateDescription") or {}).get("updatedFields") or {}
    if operation == "insert" or "inspector" in changed:
        kind = AssignmentEventKind.ASSIGNED
    elif changed.get("status") == AssignmentStatus.CANCELLED.value:
        kind = AssignmentEventKind.CANCELLED
    elif "dueSoonAt" in changed and doc.get("status") == AssignmentStatus.OPEN.value:
        kind = AssignmentEventKind.DUE_TOMORROW
    else:
        return None
    return Event(
        kind.value, cursor, at, "assignments", doc, county=doc["county"], inspector_id=inspector
    )
