"""The county's working day: assignments, the spot checks drawn into them, the inspector's route.

Every write is safe to repeat: a homestay has at most one OPEN assignment (a partial unique
index), so assigning the same homestay to the same inspector again returns the first
assignment; a draw is unique by county and seed, so a draw sent again returns the first, and
its assignments are made under ids fixed by the draw, so a draw that died half-way is finished
by its retry, never doubled. Every write stamps `updatedAt` by the database's clock; the live
desk (homestay/live) follows these writes through the change feed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from homestay.auth import Caller, Role
from homestay.clock import china_date, utcnow
from homestay.domain import geo, route, spot_checks
from homestay.domain.assignments import Assignment, AssignmentSource, AssignmentStatus
from homestay.domain.certificates import CertificateStatus
from homestay.domain.gazetteer import gazetteer
from homestay.domain.inspections import Person
from homestay.domain.text import check_text
from homestay.errors import UserError, UserErrors
from homestay.services.pagination import decode_cursor, encode_cursor, newest_first
from homestay.services.plan import PlanService
from homestay.storage.database import Database, stamp, stamped, update_and_read

log = logging.getLogger(__name__)

MAX_NOTE = 500
MAX_SEED = 100
MAX_DRAW = 50  # stays one draw may send inspectors to
DUE_WITHIN_DAYS = 366  # how far ahead a due date may lie
DEFAULT_DUE_DAYS = 30  # a draw's due date when none is given
ROUTED_AT_MOST = 60  # stops ordered as a route; any beyond follow by due date
LISTED_AT_MOST = 1_000  # open assignments of one inspector a route lists (totalCount: all)


@dataclass(frozen=True)
class SpotCheckDraw:
    id: str
    county: str
    count: int
    seed: str
    algorithm: str
    drawn_at: datetime
    drawn_by: Person
    due_date: date
    candidates: tuple[tuple[str, int], ...]  # (certificate number, weight), by number
    drawn: tuple[str, ...]  # the assignments made, in the order drawn
    drawn_numbers: tuple[str, ...]  # the certificates drawn, in that order


@dataclass(frozen=True)
class Stop:
    assignment: Assignment
    leg_meters: float | None  # None: no place to start from, or the homestay has no location


@dataclass(frozen=True)
class RoutePage:
    stops: list[tuple[Stop, str]]
    total_meters: float | None
    has_next: bool
    total: int


def _person(doc: dict | None) -> Person | None:
    return Person(doc.get("id"), doc.get("name")) if doc else None


def assignment(doc: dict[str, Any]) -> Assignment:
    return Assignment(
        id=doc["_id"],
        homestay_id=doc["homestayId"],
        county=doc["county"],
        inspector=_person(doc.get("inspector")),
        due_date=date.fromisoformat(doc["dueDate"]),
        source=AssignmentSource(doc["source"]),
        status=AssignmentStatus(doc["status"]),
        note=doc.get("note"),
        created_at=doc["createdAt"],
        created_by=_person(doc["createdBy"]) or Person(None, None),
        inspection_id=doc.get("inspectionId"),
        draw_id=doc.get("drawId"),
        cancelled_reason=doc.get("cancelledReason"),
    )


def draw_of(doc: dict[str, Any]) -> SpotCheckDraw:
    return SpotCheckDraw(
        id=doc["_id"],
        county=doc["county"],
        count=doc["count"],
        seed=doc["seed"],
        algorithm=doc["algorithm"],
        drawn_at=doc["drawnAt"],
        drawn_by=_person(doc["drawnBy"]) or Person(None, None),
        due_date=date.fromisoformat(doc["dueDate"]),
        candidates=tuple((c["number"], c["weight"]) for c in doc["candidates"]),
        drawn=tuple(d["assignmentId"] for d in doc["drawn"]),
        drawn_numbers=tuple(d["number"] for d in doc["drawn"]),
    )


def _check_due(errors: list[UserError], field: list[str], due: date, today: date) -> None:
    if due < today:
        errors.append(UserError(field, "OUT_OF_RANGE", f"{due} has passed (today is {today})"))
    elif due > today + timedelta(days=DUE_WITHIN_DAYS):
        errors.append(
            UserError(field, "OUT_OF_RANGE", f"at most {DUE_WITHIN_DAYS} days ahead, not {due}")
        )


async def complete_for(db: Database, inspection: dict) -> None:
    """An inspection was submitted: the submitting inspector's OPEN assignment for that
    homestay is DONE, linked to it (safe to repeat, as a replayed submission does)."""
    await db.assignments.update_one(
        {
            "homestayId": inspection["homestayId"],
            "status": AssignmentStatus.OPEN.value,
            "inspector.id": inspection["inspector"]["id"],
        },
        stamped(
            {
                "$set": {
                    "status": AssignmentStatus.DONE.value,
                    "inspectionId": inspection["_id"],
                    "doneAt": inspection["submittedAt"],
                }
            }
        ),
    )


async def mark_due_tomorrow(db: Database, today: date) -> int:
    """Assignments due tomorrow (China days) whose inspector has not been told: marked once
    (whichever process gets there first), which the live feed turns into DUE_TOMORROW."""
    result = await db.assignments.update_many(
        {
            "status": AssignmentStatus.OPEN.value,
            "dueDate": (today + timedelta(days=1)).isoformat(),
            "inspector": {"$ne": None},
            "dueSoonAt": None,
        },
        stamped({"$set": {"dueSoonAt": utcnow()}}),
    )
    return result.modified_count


async def remind_forever(db: Database, every_s: float = 300.0) -> None:
    """mark_due_tomorrow every `every_s`, for as long as the service runs."""
    while True:
        try:
            await mark_due_tomorrow(db, china_date(utcnow()))
        except PyMongoError as exc:
            log.warning("due reminders not marked (%s); trying again", type(exc).__name__)
        await asyncio.sleep(every_s)


class AssignmentService:
    def __init__(self, db: Database, plan: PlanService) -> None:
        self.db = db
        self.plan = plan

    # the bureau's side
    async def assign(
        self,
        caller: Caller,
        homestay_id: str,
        inspector_id: str,
        due_date: date,
        source: AssignmentSource,
        note: str | None,
    ) -> tuple[Assignment, list[UserError]]:
        """The homestay assigned to one of its county's inspectors: (assignment, warnings)."""
        caller.require(Role.BUREAU)
        homestay = await self.db.homestays.find_one({"_id": homestay_id}, {"county": 1})
        if homestay is None:
            raise UserErrors.one(
                ["input", "homestayId"], "NOT_FOUND", f"no homestay {homestay_id!r}"
            )
        county = homestay["county"]
        caller.require_county(county)
        errors: list[UserError] = []
        note = check_text(errors, ["input", "note"], note, MAX_NOTE, multiline=True)
        _check_due(errors, ["input", "dueDate"], due_date, china_date(utcnow()))
        inspector = await self.db.accounts.find_one(
            {"_id": inspector_id, "role": Role.INSPECTOR.value, "revokedAt": None}
        )
        if inspector is None or county not in inspector["counties"]:
            errors.append(
                UserError(
                    ["input", "inspectorId"],
                    "NOT_FOUND",
                    f"no inspector {inspector_id!r} of county {county}",
                )
            )
        open_doc = await self._open(homestay_id)
        if open_doc is not None and open_doc["inspector"] is None:
            source = AssignmentSource(open_doc["source"])  # a drawn spot check, taken up
        elif source is AssignmentSource.SPOT_CHECK:
            errors.append(
                UserError(
                    ["input", "source"],
                    "INVALID",
                    "a spot check is drawn (drawSpotChecks), never chosen by hand",
                )
            )
        if errors:
            raise UserErrors(errors)
        warnings = []
        if await self._inspected_last(homestay_id) == inspector_id:
            if source is AssignmentSource.SPOT_CHECK:
                raise UserErrors.one(
                    ["input", "inspectorId"],
                    "NOT_IMPARTIAL",
                    "this inspector inspected the homestay last time: a spot check needs "
                    "someone else",
                )
            warnings.append(
                UserError(
                    ["input", "inspectorId"],
                    "INSPECTED_LAST_TIME",
                    "this inspector inspected the homestay last time",
                )
            )
        assert inspector is not None  # else an error above
        person = {"id": inspector_id, "name": inspector["name"]}
        if open_doc is not None:
            return await self._take_up(open_doc, person, due_date, note), warnings
        doc = {
            "_id": str(ObjectId()),
            "homestayId": homestay_id,
            "county": county,
            "inspector": person,
            "dueDate": due_date.isoformat(),
            "source": source.value,
            "status": AssignmentStatus.OPEN.value,
            "note": note,
            "createdAt": utcnow(),
            "createdBy": {"id": caller.account_id, "name": caller.name},
            "inspectionId": None,
            "drawId": None,
            "dueSoonAt": None,
        }
        try:
            await self.db.assignments.insert_one(doc)
        except DuplicateKeyError:  # assigned at the same moment by another request
            raced = await self._open(homestay_id)
            if raced is None:
                raise
            return await self._take_up(raced, person, due_date, note), warnings
        return assignment(await stamp(self.db.assignments, doc["_id"]) or doc), warnings

    async def _take_up(
        self, open_doc: dict, person: dict, due_date: date, note: str | None
    ) -> Assignment:
        """The homestay's OPEN assignment: a drawn one is given this inspector; one already
        this inspector's is returned as it is (a retried assignInspection)."""
        if open_doc["inspector"] is None:
            taken = await update_and_read(
                self.db.assignments,
                {"_id": open_doc["_id"], "inspector": None, "status": AssignmentStatus.OPEN.value},
                stamped(
                    {
                        "$set": {
                            "inspector": person,
                            "dueDate": due_date.isoformat(),
                            "note": note or open_doc.get("note"),
                        }
                    }
                ),
            )
            if taken is not None:
                return assignment(taken)
            open_doc = await self._open(open_doc["homestayId"]) or open_doc
        if (open_doc.get("inspector") or {}).get("id") == person["id"]:
            return assignment(open_doc)
        raise UserErrors.one(
            ["input", "homestayId"],
            "ALREADY_ASSIGNED",
            f"the homestay is assigned to {open_doc['inspector']['name']}: cancel that first",
        )

    async def cancel(self, caller: Caller, assignment_id: str, reason: str | None) -> Assignment:
        caller.require(Role.BUREAU)
        doc = await self.db.assignments.find_one({"_id": assignment_id})
        if doc is None:
            raise UserErrors.one(
                ["input", "assignmentId"], "NOT_FOUND", f"no assignment {assignment_id!r}"
            )
        caller.require_county(doc["county"])
        errors: list[UserError] = []
        reason = check_text(errors, ["input", "reason"], reason, MAX_NOTE, multiline=True)
        if errors:
            raise UserErrors(errors)
        if doc["status"] == AssignmentStatus.CANCELLED.value:
            return assignment(doc)  # cancelled already: a retry
        done = await update_and_read(
            self.db.assignments,
            {"_id": assignment_id, "status": AssignmentStatus.OPEN.value},
            stamped(
                {
                    "$set": {
                        "status": AssignmentStatus.CANCELLED.value,
                        "cancelledReason": reason,
                        "cancelledAt": utcnow(),
                        "cancelledBy": {"id": caller.account_id, "name": caller.name},
                    }
                }
            ),
        )
        if done is None:
            now = await self.db.assignments.find_one({"_id": assignment_id})
            if now is not None and now["status"] == AssignmentStatus.CANCELLED.value:
                return assignment(now)
            raise UserErrors.one(
                ["input", "assignmentId"], "ALREADY_DONE", "the inspection was submitted already"
            )
        return assignment(done)

    async def page(
        self,
        caller: Caller,
        *,
        county: str | None,
        status: AssignmentStatus | None,
        inspector_id: str | None,
        first: int,
        after: str | None,
    ) -> tuple[list[tuple[Assignment, str]], bool, Callable[[], Awaitable[int]]]:
        """The county's assignments, newest first (BUREAU of the county)."""
        caller.require(Role.BUREAU)
        flt: dict[str, Any] = {"county": {"$in": caller.counties_filter(county)}}
        if status is not None:
            flt["status"] = status.value
        if inspector_id is not None:
            flt["inspector.id"] = inspector_id
        page, more = await newest_first(self.db.assignments, flt, "createdAt", first, after)

        async def count() -> int:
            return await self.db.assignments.count_documents(flt)

        return [(assignment(d), c) for d, c in page], more, count

    async def by_ids(self, ids: Sequence[str]) -> list[Assignment | None]:
        found = {d["_id"]: d async for d in self.db.assignments.find({"_id": {"$in": list(ids)}})}
        return [assignment(found[i]) if i in found else None for i in ids]

    # the inspector's side
    async def route(
        self,
        caller: Caller,
        start: geo.LatLng | None,
        day: date | None,
        first: int,
        after: str | None,
    ) -> RoutePage:
        """The caller's OPEN assignments (due on `day`, or all) as a route from `start`: the
        first ROUTED_AT_MOST by due date are ordered as a tour, any others follow by due date.
        Without a start, by due date. Paged by position in that order."""
        caller.require(Role.INSPECTOR)
        flt: dict[str, Any] = {
            "inspector.id": caller.account_id,
            "status": AssignmentStatus.OPEN.value,
        }
        if day is not None:
            flt["dueDate"] = day.isoformat()
        docs = (
            await self.db.assignments.find(flt)
            .sort([("dueDate", 1), ("_id", 1)])
            .limit(LISTED_AT_MOST)
            .to_list()
        )
        total = (
            await self.db.assignments.count_documents(flt)
            if len(docs) == LISTED_AT_MOST
            else len(docs)
        )
        places = {
            h["_id"]: geo.from_geojson(h["location"])
            async for h in self.db.homestays.find(
                {"_id": {"$in": sorted({d["homestayId"] for d in docs})}}, {"location": 1}
            )
            if h.get("location")
        }
        located = [d for d in docs[:ROUTED_AT_MOST] if d["homestayId"] in places]
        order: list[tuple[dict, float | None]] = []
        if start is not None and located:
            planned = route.plan(start, [places[d["homestayId"]] for d in located])
            order = [(located[i], leg) for i, leg in zip(planned.order, planned.legs, strict=True)]
        else:
            order = [(d, None) for d in located]
        routed = {d["_id"] for d, _ in order}
        here = places[order[-1][0]["homestayId"]] if order and start is not None else None
        for d in docs:
            if d["_id"] in routed:
                continue
            place = places.get(d["homestayId"])
            leg = geo.distance_m(here, place) if here is not None and place is not None else None
            order.append((d, leg))
            here = place if place is not None else here
        legs = [leg for _, leg in order if leg is not None]
        begin = 0
        if after is not None:
            (position,) = decode_cursor(after, [int])
            begin = position + 1
        chosen = order[begin : begin + first]
        return RoutePage(
            [
                (Stop(assignment(d), leg), encode_cursor([begin + i]))
                for i, (d, leg) in enumerate(chosen)
            ],
            sum(legs) if start is not None else None,
            begin + first < len(order),
            total,
        )

    # spot checks
    async def draw(
        self, caller: Caller, county: str, count: int, seed: str | None, due_date: date | None
    ) -> SpotCheckDraw:
        """`count` certified stays of the county drawn by weight (domain/spot_checks.py), each
        an OPEN assignment with no inspector yet. Sent again with the same seed (the default
        seed is the county and the China day), the first draw is returned and finished."""
        caller.require(Role.BUREAU)
        errors: list[UserError] = []
        if gazetteer().county(county) is None:
            errors.append(UserError(["input", "county"], "UNKNOWN_COUNTY", f"no county {county!r}"))
        else:
            caller.require_county(county)
        if not 1 <= count <= MAX_DRAW:
            errors.append(
                UserError(["input", "count"], "OUT_OF_RANGE", f"from 1 to {MAX_DRAW}, not {count}")
            )
        now = utcnow()
        today = china_date(now)
        seed = check_text(errors, ["input", "seed"], seed, MAX_SEED) or f"{county}:{today}"
        due = due_date or today + timedelta(days=DEFAULT_DUE_DAYS)
        _check_due(errors, ["input", "dueDate"], due, today)
        if errors:
            raise UserErrors(errors)
        existing = await self.db.spot_checks.find_one({"county": county, "seed": seed})
        if existing is None:
            existing = await self._new_draw(caller, county, count, seed, due, now)
        elif existing["count"] != count:
            raise UserErrors.one(
                ["input", "seed"],
                "SEED_USED",
                f"this county drew {existing['count']} stays with this seed already: "
                "give another seed for another draw",
            )
        await self._assign_drawn(existing)
        return draw_of(existing)

    async def _new_draw(
        self, caller: Caller, county: str, count: int, seed: str, due: date, now: datetime
    ) -> dict:
        entries = await self.plan.plan([county], now)
        priority = {e.certificate.number: e.priority for e in entries if e.certificate}
        busy = {
            d["homestayId"]
            async for d in self.db.assignments.find(
                {"county": county, "status": AssignmentStatus.OPEN.value}, {"homestayId": 1}
            )
        }
        floor = self.plan.settings.spot_check_floor_weight
        in_service = [
            c
            async for c in self.db.certificates.find(
                {
                    "county": county,
                    "current": True,
                    "status": CertificateStatus.VALID.value,
                    "expiresAt": {"$gt": now},
                },
                {"_id": 1, "homestayId": 1},
            ).sort("_id", 1)
            if c["homestayId"] not in busy  # sent there already
        ]
        candidates = [
            {
                "number": c["_id"],
                "homestayId": c["homestayId"],
                "weight": floor + priority.get(c["_id"], 0),
            }
            for c in in_service
        ]
        drawn = spot_checks.draw(
            seed, [spot_checks.Candidate(c["number"], c["weight"]) for c in candidates], count
        )
        homestay_of = {c["number"]: c["homestayId"] for c in candidates}
        doc = {
            "_id": str(ObjectId()),
            "county": county,
            "count": count,
            "seed": seed,
            "algorithm": spot_checks.ALGORITHM,
            "drawnAt": now,
            "drawnBy": {"id": caller.account_id, "name": caller.name},
            "dueDate": due.isoformat(),
            "candidates": candidates,
            "drawn": [
                {"number": n, "homestayId": homestay_of[n], "assignmentId": str(ObjectId())}
                for n in drawn
            ],
        }
        try:
            await self.db.spot_checks.insert_one(doc)
        except DuplicateKeyError:  # the same draw, sent twice at once: the first stands
            first = await self.db.spot_checks.find_one({"county": county, "seed": seed})
            if first is None:
                raise
            return first
        return doc

    async def _assign_drawn(self, draw: dict) -> None:
        """Each drawn stay's assignment, under the id the draw fixed (idempotent)."""
        docs = [
            {
                "_id": d["assignmentId"],
                "homestayId": d["homestayId"],
                "county": draw["county"],
                "inspector": None,
                "dueDate": draw["dueDate"],
                "source": AssignmentSource.SPOT_CHECK.value,
                "status": AssignmentStatus.OPEN.value,
                "note": None,
                "createdAt": draw["drawnAt"],
                "createdBy": draw["drawnBy"],
                "inspectionId": None,
                "drawId": draw["_id"],
                "dueSoonAt": None,
                "updatedAt": utcnow(),
            }
            for d in draw["drawn"]
        ]
        if not docs:
            return
        try:
            await self.db.assignments.insert_many(docs, ordered=False)
        except BulkWriteError as exc:  # made by an earlier try, or the stay was sent for since
            if any(e["code"] != 11000 for e in exc.details["writeErrors"]):
                raise
        await self.db.assignments.update_many(
            {"_id": {"$in": [d["_id"] for d in docs]}, "drawId": draw["_id"]}, stamped({})
        )

    async def draws_by_ids(self, ids: Sequence[str]) -> list[SpotCheckDraw | None]:
        found = {d["_id"]: d async for d in self.db.spot_checks.find({"_id": {"$in": list(ids)}})}
        return [draw_of(found[i]) if i in found else None for i in ids]

    async def find_draw(self, caller: Caller, draw_id: str) -> SpotCheckDraw | None:
        caller.require(Role.BUREAU)
        doc = await self.db.spot_checks.find_one({"_id": draw_id})
        if doc is None or not caller.can_act_in(doc["county"]):
            return None
        return draw_of(doc)

    async def _open(self, homestay_id: str) -> dict | None:
        return await self.db.assignments.find_one(
            {"homestayId": homestay_id, "status": AssignmentStatus.OPEN.value}
        )

    async def _inspected_last(self, homestay_id: str) -> str | None:
        last = (
            await self.db.inspections.find({"homestayId": homestay_id}, {"inspector.id": 1})
            .sort([("submittedAt", -1)])
            .limit(1)
            .to_list()
        )
        return last[0]["inspector"]["id"] if last else None
