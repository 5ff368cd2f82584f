"""Inspection requests: an operator asks for its homestay to be inspected; the request waits in
its county's queue, oldest first, until an inspection of the homestay is submitted.

A homestay has at most one OPEN request (a partial unique index): asking again while one is
open returns it, so a request re-sent on a flaky network never doubles.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from homestay.auth import Caller, Role
from homestay.clock import utcnow
from homestay.domain.grades import Grade
from homestay.domain.inspections import InspectionRequest, RequestStatus
from homestay.domain.text import check_text
from homestay.errors import UserError, UserErrors
from homestay.services.pagination import oldest_first
from homestay.services.scope import records_of
from homestay.storage import documents
from homestay.storage.database import Database

MAX_NOTE = 500


async def open_requests_since(db: Database, counties: Sequence[str]) -> dict[str, datetime]:
    """The open requests of these counties: homestay id -> when it was asked."""
    return {
        r["homestayId"]: r["requestedAt"]
        async for r in db.inspection_requests.find(
            {"county": {"$in": list(counties)}, "status": RequestStatus.OPEN.value},
            {"homestayId": 1, "requestedAt": 1},
        )
    }


async def close_for(db: Database, inspection: dict) -> None:
    """An inspection of the homestay was submitted: its open request is answered (safe to
    repeat, as a replayed submission does)."""
    await db.inspection_requests.update_many(
        {
            "homestayId": inspection["homestayId"],
            "status": RequestStatus.OPEN.value,
            "requestedAt": {"$lte": inspection["submittedAt"]},
        },
        {
            "$set": {
                "status": RequestStatus.CLOSED.value,
                "closedAt": inspection["submittedAt"],
                "inspectionId": inspection["_id"],
            }
        },
    )


class RequestService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def request(
        self, caller: Caller, homestay_id: str, target_grade: Grade | None, note: str | None
    ) -> InspectionRequest:
        caller.require(Role.OPERATOR)
        caller.require_operator_of(homestay_id)
        homestay = await self.db.homestays.find_one({"_id": homestay_id}, {"county": 1})
        if homestay is None:
            raise UserErrors.one(
                ["input", "homestayId"], "NOT_FOUND", f"no homestay {homestay_id!r}"
            )
        errors: list[UserError] = []
        note = check_text(errors, ["input", "note"], note, MAX_NOTE, multiline=True)
        if errors:
            raise UserErrors(errors)
        if (existing := await self._open(homestay_id)) is not None:
            return documents.inspection_request(existing)
        doc = {
            "_id": str(ObjectId()),
            "homestayId": homestay_id,
            "county": homestay["county"],
            "targetGrade": target_grade.value if target_grade else None,
            "note": note,
            "status": RequestStatus.OPEN.value,
            "requestedAt": utcnow(),
            "requestedBy": {"id": caller.account_id, "name": caller.name},
            "closedAt": None,
            "inspectionId": None,
        }
        try:
            await self.db.inspection_requests.insert_one(doc)
        except DuplicateKeyError:  # the same request, sent twice at once: the first stands
            if (existing := await self._open(homestay_id)) is None:
                raise
            return documents.inspection_request(existing)
        return documents.inspection_request(doc)

    async def _open(self, homestay_id: str) -> dict | None:
        return await self.db.inspection_requests.find_one(
            {"homestayId": homestay_id, "status": RequestStatus.OPEN.value}
        )

    async def list(
        self,
        caller: Caller,
        *,
        county: str | None,
        status: RequestStatus | None,
        first: int,
        after: str | None,
    ) -> tuple[list[tuple[InspectionRequest, str]], bool, Callable[[], Awaitable[int]]]:
        """The queue, oldest first: staff see their counties', an operator its own."""
        caller.require(Role.INSPECTOR, Role.BUREAU, Role.OPERATOR)
        flt = records_of(caller, county)
        if status is not None:
            flt["status"] = status.value
        page, more = await oldest_first(
            self.db.inspection_requests, flt, "requestedAt", first, after
        )

        async def count() -> int:
            return await self.db.inspection_requests.count_documents(flt)

        return [(documents.inspection_request(d), c) for d, c in page], more, count
