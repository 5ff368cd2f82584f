"""Inspections: the Inspection type (results, blockers, the to-do list to the next grade, its
review), submitInspection and the inspection lists. Private: its county's staff and the
homestay's operator only."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from homestay.domain import geo
from homestay.domain.disclosure import sees_private_data
from homestay.domain.grading import Standard, to_reach
from homestay.domain.inspections import Inspection as DomainInspection
from homestay.graphql.common import (
    Actor,
    GeoPoint,
    Grade,
    Info,
    InspectionStatus,
    Node,
    ReviewDecision,
    StandardRef,
    global_id,
    localized,
)
from homestay.graphql.homestays import Homestay

if TYPE_CHECKING:
    from homestay.graphql.appeals import Appeal


from homestay.graphql.common import (
    Connection,
    CoordSystem,
    Edge,
    GeoPointInput,
    UserError,
    check_first,
    key_of,
    payload,
)
from homestay.graphql.permissions import IsStaff, IsStaffOrOperator
from homestay.services.inspections import ResultInput, SubmissionInput


@strawberry.type
class GradeBlocker:
    grade: Grade
    item_code: str | None
    missing_points: int | None
    kind: str
    standard_key: strawberry.Private[str]

    @strawberry.field(description="Why the grade was not reached, for people.")
    async def reason(self, info: Info) -> str:
        en = info.context.lang == "en"
        if self.item_code is None:
            return (
                f"{self.missing_points} points short of the threshold"
                if en
                else f"总分距达标还差 {self.missing_points} 分"
            )
        standard = await info.context.standards.load(self.standard_key)
        item = standard.item(self.item_code) if standard else None
        title = localized(item.title, info.context.lang) if item else self.item_code
        return (
            f"mandatory item {self.item_code} not passed: {title}"
            if en
            else f"必备项 {self.item_code} 未通过：{title}"
        )


@strawberry.type
class TodoItem:
    item_code: str
    kind: str = strawberry.field(description="MANDATORY (failed) or SCORED (points open).")
    points_open: int | None = strawberry.field(
        description="SCORED: the points this item could still add."
    )
    title: str = strawberry.field(description="In the language of Accept-Language.")
    section: str = strawberry.field(description="The section's title, in that language.")
    section_code: str


@strawberry.type
class GradeTodo:
    grade: Grade
    missing_points: int = strawberry.field(
        description="Points still missing to the grade's threshold (0: the points suffice)."
    )
    mandatory: list[TodoItem] = strawberry.field(
        description="Failed mandatory items this grade requires: each must pass."
    )
    scored: list[TodoItem] = strawberry.field(
        description="The scored items with the most points open, as many as make up "
        "missingPoints, most first."
    )


def _todo_items(found: tuple, standard: Standard, lang: str) -> list[TodoItem]:
    return [
        TodoItem(
            item_code=o.item.code,
            kind=o.item.kind.value,
            points_open=o.points_open,
            title=localized(o.item.title, lang),
            section=localized(standard.section_title(o.item.section) or {}, lang) or o.item.section,
            section_code=o.item.section,
        )
        for o in sorted(found, key=lambda o: (o.item.section, -(o.points_open or 0)))
    ]


@strawberry.type
class Review:
    reviewer: Actor
    decision: ReviewDecision
    comment: str | None
    at: datetime


@strawberry.type
class ItemResult:
    item_code: str
    passed: bool | None
    points: int | None
    note: str | None
    photo_urls: list[str]


@strawberry.type
class Inspection(Node):
    client_submission_id: strawberry.ID
    inspector: Actor
    standard: StandardRef
    inspected_at: datetime
    submitted_at: datetime
    status: InspectionStatus
    total_points: int
    max_points: int
    recommended_grade: Grade | None
    distance_from_homestay_meters: float | None
    far_from_homestay: bool = strawberry.field(
        description="The inspector stood farther from the homestay than the set limit."
    )
    notes: str | None
    results: list[ItemResult]
    certificate_number: str | None
    record: strawberry.Private[DomainInspection]
    coord: strawberry.Private[geo.CoordSystem]

    @classmethod
    def of(cls, record: DomainInspection, coord: geo.CoordSystem) -> Inspection:
        return cls(
            id=global_id("Inspection", record.id),
            client_submission_id=strawberry.ID(record.client_submission_id),
            inspector=Actor.of_person(record.inspector),
            standard=StandardRef(code=record.standard_code, version=record.standard_version),
            inspected_at=record.inspected_at,
            submitted_at=record.submitted_at,
            status=record.status,
            total_points=record.total_points,
            max_points=record.max_points,
            recommended_grade=record.recommended_grade,
            distance_from_homestay_meters=record.distance_from_homestay_m,
            far_from_homestay=record.far_from_homestay,
            notes=record.notes,
            results=[
                ItemResult(
                    item_code=r.item_code,
                    passed=r.passed,
                    points=r.points,
                    note=r.note,
                    photo_urls=list(r.photo_urls),
                )
                for r in record.results
            ],
            certificate_number=record.certificate_number,
            record=record,
            coord=coord,
        )

    @strawberry.field
    def blockers(self) -> list[GradeBlocker]:
        return [
            GradeBlocker(
                grade=b.grade,
                item_code=b.item_code,
                missing_points=b.missing_points,
                kind=b.kind,
                standard_key=self.record.standard_key,
            )
            for b in self.record.blockers
        ]

    @strawberry.field(
        description="For each grade above the one reached: what to fix, from "
        "the same grading rule, by section. The operator's to-do list."
    )
    async def next_grades(self, info: Info) -> list[GradeTodo]:
        standard = await info.context.standards.load(self.record.standard_key)
        if standard is None:
            return []
        lang = info.context.lang
        return [
            GradeTodo(
                grade=t.grade,
                missing_points=t.missing_points,
                mandatory=_todo_items(t.mandatory, standard, lang),
                scored=_todo_items(t.scored, standard, lang),
            )
            for t in to_reach(standard, self.record.answers())
        ]

    @strawberry.field
    def review(self) -> Review | None:
        r = self.record.review
        if r is None:
            return None
        return Review(
            reviewer=Actor.of_person(r.reviewer), decision=r.decision, comment=r.comment, at=r.at
        )

    @strawberry.field
    async def homestay(self, info: Info) -> Homestay | None:
        found = await info.context.homestays.load(self.record.homestay_id)
        return Homestay.of(found, self.coord, info.context.lang) if found else None

    @strawberry.field(
        description="The operator's appeals of this inspection's rejection. For "
        "the county's bureau and the homestay's operator; null for others."
    )
    async def appeals(
        self, info: Info
    ) -> list[Annotated[Appeal, strawberry.lazy("homestay.graphql.appeals")]] | None:
        from homestay.graphql.appeals import Appeal, sees_appeal

        if not sees_appeal(info, self.record.county, self.record.homestay_id):
            return None
        return [Appeal.of(a) for a in await info.context.inspection_appeals.load(self.record.id)]

    @strawberry.field
    def inspector_location(self) -> GeoPoint | None:
        point = self.record.inspector_point
        return GeoPoint.of(point, self.coord) if point else None


@strawberry.input
class ItemResultInput:
    item_code: str
    passed: bool | None = strawberry.field(default=None, description="MANDATORY items.")
    points: int | None = strawberry.field(default=None, description="SCORED items.")
    note: str | None = None
    photo_urls: list[str] | None = strawberry.field(
        default=None, description="URLs returned by POST /uploads."
    )


@strawberry.input
class SubmitInspectionInput:
    client_submission_id: strawberry.ID = strawberry.field(
        description="Made by the app (a UUID) before the first try; sending it again returns "
        "the first inspection and writes nothing."
    )
    homestay_id: strawberry.ID
    results: list[ItemResultInput]
    standard_code: str | None = None
    standard_version: int | None = None
    inspected_at: datetime | None = None
    inspector_location: GeoPointInput | None = None
    coord_system: CoordSystem = geo.CoordSystem.WGS84
    notes: str | None = None


@strawberry.type
class SubmitInspectionPayload:
    inspection: Inspection | None = None
    errors: list[UserError]


@strawberry.type
class InspectionQueries:
    @strawberry.field(
        permission_classes=[IsStaffOrOperator],
        description="Newest first: staff see their counties', an operator its own homestays'.",
    )
    async def inspections(
        self,
        info: Info,
        homestay_id: strawberry.ID | None = None,
        status: InspectionStatus | None = None,
        county: str | None = None,
        first: int = 20,
        after: str | None = None,
        coord_system: CoordSystem = geo.CoordSystem.WGS84,
    ) -> Connection[Inspection]:
        page, more, count = await info.context.services.inspections.list(
            info.context.caller,
            homestay_id=key_of(homestay_id, "Homestay") if homestay_id else None,
            status=status.value if status else None,
            county=county,
            first=check_first(first),
            after=after,
        )
        edges = [Edge(cursor=c, node=Inspection.of(d, coord_system)) for d, c in page]
        return Connection.of(edges, more, count, after)

    @strawberry.field(permission_classes=[IsStaffOrOperator])
    async def inspection(
        self, info: Info, id: strawberry.ID, coord_system: CoordSystem = geo.CoordSystem.WGS84
    ) -> Inspection | None:
        found = await info.context.inspections.load(key_of(id, "Inspection"))
        if found is None:
            return None
        if not sees_private_data(info.context.caller, found.county, found.homestay_id):
            info.context.caller.require_county(found.county)  # FORBIDDEN, as it always was
        return Inspection.of(found, coord_system)


@strawberry.type
class InspectionMutations:
    @strawberry.mutation(permission_classes=[IsStaff])
    async def submit_inspection(
        self, info: Info, input: SubmitInspectionInput
    ) -> SubmitInspectionPayload:
        data = SubmissionInput(
            client_submission_id=str(input.client_submission_id),
            homestay_id=key_of(input.homestay_id, "Homestay"),
            results=[
                ResultInput(r.item_code, r.passed, r.points, r.note, r.photo_urls or [])
                for r in input.results
            ],
            inspected_at=input.inspected_at,
            standard_code=input.standard_code,
            standard_version=input.standard_version,
            inspector_location=(input.inspector_location.lat, input.inspector_location.lng)
            if input.inspector_location
            else None,
            coord_system=input.coord_system,
            notes=input.notes,
        )
        return await payload(
            SubmitInspectionPayload,
            info.context.services.inspections.submit(info.context.caller, data),
            lambda done: {"inspection": Inspection.of(done, input.coord_system)},
        )
