"""Inspections: a filled-in checklist submitted from the field, graded on arrival.

Submissions are idempotent on the app-made clientSubmissionId through a unique index, so a
phone that retries after a timeout, even while its first try is still in flight, never makes
a second inspection.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from homestay.auth import Caller, Role
from homestay.clock import utcnow
from homestay.domain import geo
from homestay.domain.grading import Answer, Problem, Standard, check_answers, grade_checklist
from homestay.domain.inspections import Inspection, InspectionStatus
from homestay.domain.text import check_text, normalize
from homestay.errors import UserError, UserErrors
from homestay.services import assignments, requests, standards
from homestay.services.pagination import newest_first
from homestay.services.scope import records_of
from homestay.storage import documents
from homestay.storage.database import Database

UPLOAD_URL = re.compile(r"^/uploads/([0-9a-f]{24})$")
MAX_PHOTOS_PER_ITEM = 10
MAX_NOTE = 2000
# a checklist may be filled in offline and sent days later, but not dated in the future
_CLOCK_SKEW = timedelta(minutes=10)
_OLDEST = timedelta(days=90)


@dataclass
class ResultInput:
    item_code: str
    passed: bool | None = None
    points: int | None = None
    note: str | None = None
    photo_urls: Sequence[str] = field(default_factory=list)


@dataclass
class SubmissionInput:
    client_submission_id: str
    homestay_id: str
    results: Sequence[ResultInput]
    inspected_at: datetime | None = None
    standard_code: str | None = None
    standard_version: int | None = None
    inspector_location: tuple[float, float] | None = None
    coord_system: geo.CoordSystem = geo.CoordSystem.WGS84
    notes: str | None = None


def _problem_error(problem: Problem) -> UserError:
    path = ["input", "results"]
    if problem.index is not None:
        path.append(str(problem.index))
        if problem.field:
            path.append(problem.field)
    return UserError(path, problem.code, problem.message)


def _submission_id(data: SubmissionInput) -> str:
    csid = (data.client_submission_id or "").strip()
    if not csid or len(csid) > 100:
        raise UserErrors.one(
            ["input", "clientSubmissionId"],
            "INVALID",
            "clientSubmissionId must be 1 to 100 characters (a UUID)",
        )
    return csid


def _inspected_at(errors: list[UserError], given: datetime | None, now: datetime) -> datetime:
    """When the inspection took place (now when not said): with an offset, not in the
    future beyond a phone's clock skew, not over 90 days ago."""
    inspected_at = given or now
    if inspected_at.tzinfo is None:
        errors.append(
            UserError(["input", "inspectedAt"], "INVALID", "inspectedAt needs a UTC offset")
        )
    elif inspected_at > now + _CLOCK_SKEW:
        errors.append(
            UserError(["input", "inspectedAt"], "IN_FUTURE", "inspectedAt lies in the future")
        )
    elif inspected_at < now - _OLDEST:
        errors.append(
            UserError(["input", "inspectedAt"], "TOO_OLD", "inspectedAt is more than 90 days ago")
        )
    return inspected_at


@dataclass(frozen=True)
class _Checked:
    """A submission whose every field passed its checks."""

    inspected_at: datetime
    notes: str | None
    answers: list[Answer]
    results: Sequence[ResultInput]
    inspector_point: geo.LatLng | None


class InspectionService:
    def __init__(self, db: Database, far_meters: int = 500) -> None:
        self.db = db
        self.far_meters = far_meters

    async def _replay(self, caller: Caller, client_submission_id: str) -> dict | None:
        existing = await self.db.inspections.find_one({"clientSubmissionId": client_submission_id})
        if existing is not None and existing["inspector"]["id"] != caller.account_id:
            raise UserErrors.one(
                ["input", "clientSubmissionId"],
                "CONFLICT",
                "this clientSubmissionId was used by another account",
            )
        return existing

    async def submit(self, caller: Caller, data: SubmissionInput) -> Inspection:
        """An inspector's filled-in checklist, graded and stored once: sent again with the
        same clientSubmissionId, the first inspection is returned and nothing is written."""
        caller.require(Role.INSPECTOR, Role.BUREAU)
        csid = _submission_id(data)
        if (existing := await self._replay(caller, csid)) is not None:
            await requests.close_for(self.db, existing)  # finish what the first try began
            await assignments.complete_for(self.db, existing)
            return documents.inspection(existing)
        homestay, standard = await self._target(caller, data)
        now = utcnow()
        checked = await self._checked(data, standard, homestay, now)
        doc = self._document(caller, csid, homestay, standard, checked, now)
        try:
            await self.db.inspections.insert_one(doc)
        except DuplicateKeyError:
            # a duplicate send raced this one to the index: the first one stands
            existing = await self._replay(caller, csid)
            if existing is None:
                raise
            return documents.inspection(existing)
        await requests.close_for(self.db, doc)
        await assignments.complete_for(self.db, doc)
        return documents.inspection(doc)

    async def _target(self, caller: Caller, data: SubmissionInput) -> tuple[dict, Standard]:
        """The homestay inspected (of the caller's counties) and the standard it was graded
        against."""
        homestay = await self.db.homestays.find_one({"_id": data.homestay_id})
        if homestay is None:
            raise UserErrors.one(
                ["input", "homestayId"], "NOT_FOUND", f"no homestay {data.homestay_id!r}"
            )
        caller.require_county(homestay["county"])
        standard = await standards.find(self.db, data.standard_code, data.standard_version)
        if standard is None:
            raise UserErrors.one(
                ["input", "standardVersion"], "NOT_FOUND", "no such grading standard or version"
            )
        return homestay, standard

    async def _checked(
        self, data: SubmissionInput, standard: Standard, homestay: dict, now: datetime
    ) -> _Checked:
        """Every field checked at once, every problem named by its field; UserErrors and
        nothing written when there is any."""
        errors: list[UserError] = []
        inspected_at = _inspected_at(errors, data.inspected_at, now)
        notes = check_text(errors, ["input", "notes"], data.notes, MAX_NOTE, multiline=True)
        answers = [Answer(r.item_code, r.passed, r.points) for r in data.results]
        errors.extend(_problem_error(p) for p in check_answers(standard, answers))
        errors.extend(await self._check_results(data.results, homestay["county"]))
        inspector_point: geo.LatLng | None = None
        if data.inspector_location is not None:
            try:
                given = geo.check_point(*data.inspector_location, field="input.inspectorLocation")
                inspector_point = geo.to_wgs84(given, data.coord_system)
            except geo.GeoError as exc:
                errors.append(UserError(exc.field.split("."), "OUT_OF_RANGE", str(exc)))
        if errors:
            raise UserErrors(errors)
        return _Checked(inspected_at, notes, answers, data.results, inspector_point)

    def _document(
        self,
        caller: Caller,
        csid: str,
        homestay: dict,
        standard: Standard,
        checked: _Checked,
        now: datetime,
    ) -> dict:
        """The inspection as stored: the answers, the grade they reach by the pure rule, and
        how far from the homestay the inspector stood."""
        outcome = grade_checklist(standard, checked.answers)
        point = checked.inspector_point
        distance = (
            geo.distance_m(point, geo.from_geojson(homestay["location"]))
            if point is not None
            else None
        )
        return {
            "_id": str(ObjectId()),
            "clientSubmissionId": csid,
            "homestayId": homestay["_id"],
            "county": homestay["county"],
            "inspector": {"id": caller.account_id, "name": caller.name},
            "standard": {"code": standard.code, "version": standard.version},
            "inspectedAt": checked.inspected_at,
            "submittedAt": now,
            "results": [
                {
                    "itemCode": r.item_code,
                    "passed": r.passed,
                    "points": r.points,
                    "note": normalize(r.note, multiline=True) or None if r.note else None,
                    "photoUrls": list(r.photo_urls),
                }
                for r in checked.results
            ],
            "notes": checked.notes,
            "inspectorLocation": geo.geojson(point) if point else None,
            "distanceFromHomestayMeters": distance,
            "farFromHomestay": distance is not None and distance > self.far_meters,
            "totalPoints": outcome.total_points,
            "maxPoints": outcome.max_points,
            "recommendedGrade": outcome.recommended.value if outcome.recommended else None,
            "blockers": [
                {
                    "grade": b.grade.value,
                    "kind": b.kind.value,
                    "itemCode": b.item_code,
                    "missingPoints": b.missing_points,
                }
                for b in outcome.blockers
            ],
            "status": InspectionStatus.SUBMITTED.value,
            "review": None,
        }

    async def _check_results(self, results: Sequence[ResultInput], county: str) -> list[UserError]:
        errors: list[UserError] = []
        cited: dict[ObjectId, list[str]] = {}
        for index, result in enumerate(results):
            base = ["input", "results", str(index)]
            check_text(errors, [*base, "note"], result.note, MAX_NOTE, multiline=True)
            if len(result.photo_urls) > MAX_PHOTOS_PER_ITEM:
                errors.append(
                    UserError(
                        [*base, "photoUrls"],
                        "TOO_MANY",
                        f"at most {MAX_PHOTOS_PER_ITEM} photos per item",
                    )
                )
            for j, url in enumerate(result.photo_urls):
                match = UPLOAD_URL.match(url)
                if match is None:
                    errors.append(
                        UserError(
                            [*base, "photoUrls", str(j)],
                            "INVALID",
                            "a photo URL is one returned by POST /uploads",
                        )
                    )
                else:
                    cited.setdefault(ObjectId(match.group(1)), []).append(
                        ".".join([*base, "photoUrls", str(j)])
                    )
        if cited:
            found = {
                d["_id"]: d.get("metadata", {}).get("counties", [])
                async for d in self.db.db["uploads.files"].find(
                    {"_id": {"$in": list(cited)}}, {"metadata.counties": 1}
                )
            }
            for upload_id, paths in cited.items():
                if upload_id not in found:
                    errors.extend(
                        UserError(p.split("."), "NOT_FOUND", "no upload at this URL") for p in paths
                    )
                elif county not in found[upload_id]:
                    # its reviewers could not open it: evidence is of the homestay's county
                    errors.extend(
                        UserError(
                            p.split("."),
                            "OTHER_COUNTY",
                            f"this photo was uploaded for another county than {county}",
                        )
                        for p in paths
                    )
        return errors

    async def get_many(self, ids: Sequence[str]) -> list[Inspection | None]:
        found = {
            d["_id"]: documents.inspection(d)
            async for d in self.db.inspections.find({"_id": {"$in": list(ids)}})
        }
        return [found.get(i) for i in ids]

    async def list(
        self,
        caller: Caller,
        *,
        homestay_id: str | None,
        status: str | None,
        county: str | None,
        first: int,
        after: str | None,
    ) -> tuple[list[tuple[Inspection, str]], bool, Callable[[], Awaitable[int]]]:
        """Newest first, in the caller's counties: (inspection, cursor) pairs, whether there is
        more, and how to count them all."""
        caller.require(Role.INSPECTOR, Role.BUREAU, Role.OPERATOR)
        flt = records_of(caller, county)
        if homestay_id is not None:
            if caller.role is Role.OPERATOR:  # its own homestays', never a county's
                caller.require_operator_of(homestay_id)
            else:
                homestay = await self.db.homestays.find_one({"_id": homestay_id}, {"county": 1})
                if homestay is None:
                    return [], False, _no_inspections
                caller.require_county(homestay["county"])
            flt["homestayId"] = homestay_id
        if status is not None:
            flt["status"] = status
        page, more = await newest_first(self.db.inspections, flt, "submittedAt", first, after)

        async def count() -> int:
            return await self.db.inspections.count_documents(flt)

        return [(documents.inspection(d), c) for d, c in page], more, count


async def _no_inspections() -> int:
    return 0
