"""Assignments, spot-check draws and the inspector's route (services/assignments.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry

from homestay.domain import geo
from homestay.domain.assignments import Assignment as DomainAssignment
from homestay.domain.assignments import AssignmentSource, AssignmentStatus
from homestay.graphql.certificates import Certificate
from homestay.graphql.common import (
    Actor,
    Connection,
    CoordSystem,
    Edge,
    GeoPointInput,
    Info,
    Node,
    PageInfo,
    UserError,
    check_first,
    global_id,
    key_of,
    payload,
)
from homestay.graphql.homestays import Homestay
from homestay.graphql.inspections import Inspection
from homestay.graphql.permissions import IsBureau, IsInspector
from homestay.services.assignments import SpotCheckDraw as DomainDraw

strawberry.enum(AssignmentSource, description="Why the homestay is to be inspected.")
strawberry.enum(
    AssignmentStatus,
    description="OPEN until the assigned inspector submits an inspection of the homestay "
    "(DONE) or the bureau cancels it (CANCELLED).",
)


@strawberry.type
class Assignment(Node):
    inspector: Actor | None = strawberry.field(
        description="Who is sent; null for a drawn spot check no one is sent to yet."
    )
    due_date: date = strawberry.field(description="A China day.")
    source: AssignmentSource
    status: AssignmentStatus
    overdue: bool = strawberry.field(description="Still OPEN after its due day (China days).")
    note: str | None
    created_at: datetime
    created_by: Actor
    cancelled_reason: str | None
    record: strawberry.Private[DomainAssignment]
    coord: strawberry.Private[geo.CoordSystem]

    @classmethod
    def of(
        cls, record: DomainAssignment, today: date, coord: geo.CoordSystem = geo.CoordSystem.WGS84
    ) -> Assignment:
        return cls(
            id=global_id("Assignment", record.id),
            inspector=Actor.of_person(record.inspector) if record.inspector else None,
            due_date=record.due_date,
            source=record.source,
            status=record.status,
            overdue=record.overdue(today),
            note=record.note,
            created_at=record.created_at,
            created_by=Actor.of_person(record.created_by),
            cancelled_reason=record.cancelled_reason,
            record=record,
            coord=coord,
        )

    @strawberry.field
    async def homestay(self, info: Info) -> Homestay | None:
        found = await info.context.homestays.load(self.record.homestay_id)
        return Homestay.of(found, self.coord, info.context.lang) if found else None

    @strawberry.field(description="The submission that completed it.")
    async def inspection(self, info: Info) -> Inspection | None:
        if self.record.inspection_id is None:
            return None
        found = await info.context.inspections.load(self.record.inspection_id)
        return Inspection.of(found, self.coord) if found else None

    @strawberry.field(description="The draw it came from (BUREAU).")
    async def spot_check(self, info: Info) -> SpotCheckDraw | None:
        if self.record.draw_id is None or not info.context.caller.can_act_in(self.record.county):
            return None
        if info.context.caller.role.value != "BUREAU":
            return None
        found = await info.context.draws.load(self.record.draw_id)
        return SpotCheckDraw.of(found) if found else None


@strawberry.type
class SpotCheckCandidate:
    certificate_number: str
    weight: int = strawberry.field(
        description="The floor every certificate in service gets, plus its plan priority."
    )

    @strawberry.field
    async def certificate(self, info: Info) -> Certificate | None:
        found = await info.context.certificates.load(self.certificate_number)
        return Certificate.of(found, geo.CoordSystem.WGS84) if found else None


@strawberry.type(
    description="A spot check's draw, with everything needed to draw it again: for each "
    "candidate u = (first 8 bytes of SHA-256(seed + ':' + certificate number), big-endian, "
    "+ 0.5) / 2^64 and key = -ln(u) / weight; the `count` smallest keys are drawn."
)
class SpotCheckDraw(Node):
    county: str
    count: int
    seed: str
    algorithm: str
    drawn_at: datetime
    drawn_by: Actor
    due_date: date
    candidates: list[SpotCheckCandidate] = strawberry.field(
        description="Every certificate in service that could be drawn, by number."
    )
    drawn_numbers: list[str] = strawberry.field(
        description="The certificates drawn, in the order drawn."
    )
    record: strawberry.Private[DomainDraw]

    @classmethod
    def of(cls, record: DomainDraw) -> SpotCheckDraw:
        return cls(
            id=global_id("SpotCheckDraw", record.id),
            county=record.county,
            count=record.count,
            seed=record.seed,
            algorithm=record.algorithm,
            drawn_at=record.drawn_at,
            drawn_by=Actor.of_person(record.drawn_by),
            due_date=record.due_date,
            candidates=[
                SpotCheckCandidate(certificate_number=n, weight=w) for n, w in record.candidates
            ],
            drawn_numbers=list(record.drawn_numbers),
            record=record,
        )

    @strawberry.field(description="The assignments made, in the order drawn.")
    async def drawn(self, info: Info) -> list[Assignment]:
        found = await info.context.assignments.load_many(list(self.record.drawn))
        today = info.context.today
        return [Assignment.of(a, today) for a in found if a is not None]


@strawberry.type
class RouteStop:
    assignment: Assignment
    leg_meters: float | None = strawberry.field(
        description="Straight-line metres from the previous stop (the first: from `from`); "
        "not by road. Null without a `from` or for a homestay with no location."
    )


@strawberry.type
class AssignmentRoute:
    stops: list[RouteStop]
    total_meters: float | None = strawberry.field(
        description="The whole route's straight-line length, every page's legs together."
    )
    page_info: PageInfo
    total_count: int


@strawberry.input
class AssignInspectionInput:
    homestay_id: strawberry.ID
    inspector_id: strawberry.ID
    due_date: date = strawberry.field(description="A China day, from today.")
    source: AssignmentSource = AssignmentSource.MANUAL
    note: str | None = None


@strawberry.type
class AssignInspectionPayload:
    assignment: Assignment | None = None
    warnings: list[UserError] = strawberry.field(
        default_factory=list,
        description="Done, but worth a second look: INSPECTED_LAST_TIME.",
    )
    errors: list[UserError]


@strawberry.input
class CancelAssignmentInput:
    assignment_id: strawberry.ID
    reason: str | None = None


@strawberry.type
class CancelAssignmentPayload:
    assignment: Assignment | None = None
    errors: list[UserError]


@strawberry.input
class DrawSpotChecksInput:
    county: str
    count: int
    seed: str | None = strawberry.field(
        default=None,
        description="Any text; by default the county and today's China date. A draw sent "
        "again with the same seed returns the first.",
    )
    due_date: date | None = strawberry.field(default=None, description="30 days on by default.")


@strawberry.type
class DrawSpotChecksPayload:
    draw: SpotCheckDraw | None = None
    errors: list[UserError]


@strawberry.type
class AssignmentQueries:
    @strawberry.field(
        permission_classes=[IsBureau],
        description="The county's assignments, newest first (BUREAU of the county).",
    )
    async def assignments(
        self,
        info: Info,
        county: str | None = None,
        status: AssignmentStatus | None = None,
        inspector_id: strawberry.ID | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Assignment]:
        page, more, count = await info.context.services.assignments.page(
            info.context.caller,
            county=county,
            status=status,
            inspector_id=key_of(inspector_id, "Account") if inspector_id else None,
            first=check_first(first),
            after=after,
        )
        today = info.context.today
        return Connection.of(
            [Edge(cursor=c, node=Assignment.of(a, today)) for a, c in page], more, count, after
        )

    @strawberry.field(
        permission_classes=[IsInspector],
        description="The caller's open assignments (due on `date`, or all) as a route from "
        "`from`: nearest neighbour improved by 2-opt over straight-line distances.",
    )
    async def my_assignments(
        self,
        info: Info,
        from_: Annotated[GeoPointInput | None, strawberry.argument(name="from")] = None,
        day: Annotated[date | None, strawberry.argument(name="date")] = None,
        coord_system: CoordSystem = geo.CoordSystem.WGS84,
        first: int = 50,
        after: str | None = None,
    ) -> AssignmentRoute:
        start = from_.to_wgs84(coord_system, "from") if from_ is not None else None
        page = await info.context.services.assignments.route(
            info.context.caller, start, day, check_first(first), after
        )
        today = info.context.today
        stops = [
            RouteStop(
                assignment=Assignment.of(s.assignment, today, coord_system), leg_meters=s.leg_meters
            )
            for s, _ in page.stops
        ]
        cursors = [c for _, c in page.stops]
        return AssignmentRoute(
            stops=stops,
            total_meters=page.total_meters,
            page_info=PageInfo(
                has_next_page=page.has_next,
                end_cursor=cursors[-1] if cursors else None,
                has_previous_page=after is not None,
                start_cursor=cursors[0] if cursors else None,
            ),
            total_count=page.total,
        )

    @strawberry.field(permission_classes=[IsBureau], description="A spot-check draw (BUREAU).")
    async def spot_check_draw(self, info: Info, id: strawberry.ID) -> SpotCheckDraw | None:
        found = await info.context.services.assignments.find_draw(
            info.context.caller, key_of(id, "SpotCheckDraw")
        )
        return SpotCheckDraw.of(found) if found else None


@strawberry.type
class AssignmentMutations:
    @strawberry.mutation(
        permission_classes=[IsBureau],
        description="Send one of the county's inspectors to a homestay by a due day; assigning "
        "the same homestay to the same inspector again returns the first assignment.",
    )
    async def assign_inspection(
        self, info: Info, input: AssignInspectionInput
    ) -> AssignInspectionPayload:
        today = info.context.today
        return await payload(
            AssignInspectionPayload,
            info.context.services.assignments.assign(
                info.context.caller,
                key_of(input.homestay_id, "Homestay"),
                key_of(input.inspector_id, "Account"),
                input.due_date,
                input.source,
                input.note,
            ),
            lambda done: {
                "assignment": Assignment.of(done[0], today),
                "warnings": [UserError.of(w) for w in done[1]],
            },
        )

    @strawberry.mutation(permission_classes=[IsBureau])
    async def cancel_assignment(
        self, info: Info, input: CancelAssignmentInput
    ) -> CancelAssignmentPayload:
        today = info.context.today
        return await payload(
            CancelAssignmentPayload,
            info.context.services.assignments.cancel(
                info.context.caller, key_of(input.assignment_id, "Assignment"), input.reason
            ),
            lambda done: {"assignment": Assignment.of(done, today)},
        )

    @strawberry.mutation(
        permission_classes=[IsBureau],
        description="A reproducible weighted random draw of the county's certified stays; "
        "each drawn stay an OPEN assignment with no inspector yet.",
    )
    async def draw_spot_checks(
        self, info: Info, input: DrawSpotChecksInput
    ) -> DrawSpotChecksPayload:
        return await payload(
            DrawSpotChecksPayload,
            info.context.services.assignments.draw(
                info.context.caller, input.county, input.count, input.seed, input.due_date
            ),
            lambda done: {"draw": SpotCheckDraw.of(done)},
        )
