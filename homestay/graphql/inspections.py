"""submitInspection and the staff's inspection lists."""

from __future__ import annotations

from datetime import datetime

import strawberry

from homestay.domain import geo
from homestay.domain.disclosure import sees_private_data
from homestay.graphql.common import (
    Connection,
    CoordSystem,
    Edge,
    GeoPointInput,
    Info,
    InspectionStatus,
    UserError,
    check_first,
    key_of,
    payload,
)
from homestay.graphql.permissions import IsStaff, IsStaffOrOperator
from homestay.graphql.types import Inspection
from homestay.services.inspections import ResultInput, SubmissionInput


@strawberry.input
class ItemResultInput:
    item_code: str
    passed: bool | None = strawberry.field(default=None, description="MANDATORY items.")
    points: int | None = strawberry.field(default=None, description="SCORED items.")
    note: str | None = None
    photo_urls: list[str] | None = strawberry.field(
        default=None, description="URLs returned by POST /uploads.")


@strawberry.input
class SubmitInspectionInput:
    client_submission_id: strawberry.ID = strawberry.field(
        description="Made by the app (a UUID) before the first try; sending it again returns "
                    "the first inspection and writes nothing.")
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
    @strawberry.field(permission_classes=[IsStaffOrOperator],
                      description="Newest first: staff see their counties', an operator its "
                      "own homestays'.")
    async def inspections(self, info: Info, homestay_id: strawberry.ID | None = None,
                          status: InspectionStatus | None = None, county: str | None = None,
                          first: int = 20, after: str | None = None,
                          coord_system: CoordSystem = geo.CoordSystem.WGS84,
                          ) -> Connection[Inspection]:
        page, more, count = await info.context.services.inspections.list(
            info.context.caller,
            homestay_id=key_of(homestay_id, "Homestay") if homestay_id else None,
            status=status.value if status else None, county=county, first=check_first(first),
            after=after)
        edges = [Edge(cursor=c, node=Inspection.from_doc(d, coord_system)) for d, c in page]
        return Connection.of(edges, more, count, after)

    @strawberry.field(permission_classes=[IsStaffOrOperator])
    async def inspection(self, info: Info, id: strawberry.ID,
                         coord_system: CoordSystem = geo.CoordSystem.WGS84) -> Inspection | None:
        doc = await info.context.inspections.load(key_of(id, "Inspection"))
        if doc is None:
            return None
        if not sees_private_data(info.context.caller, doc["county"], doc["homestayId"]):
            info.context.caller.require_county(doc["county"])  # FORBIDDEN, as it always was
        return Inspection.from_doc(doc, coord_system)


@strawberry.type
class InspectionMutations:
    @strawberry.mutation(permission_classes=[IsStaff])
    async def submit_inspection(self, info: Info,
                                input: SubmitInspectionInput) -> SubmitInspectionPayload:
        data = SubmissionInput(
            client_submission_id=str(input.client_submission_id),
            homestay_id=key_of(input.homestay_id, "Homestay"),
            results=[ResultInput(r.item_code, r.passed, r.points, r.note, r.photo_urls or [])
                     for r in input.results],
            inspected_at=input.inspected_at, standard_code=input.standard_code,
            standard_version=input.standard_version,
            inspector_location=(input.inspector_location.lat, input.inspector_location.lng)
            if input.inspector_location else None,
            coord_system=input.coord_system, notes=input.notes)
        return await payload(
            SubmitInspectionPayload,
            info.context.services.inspections.submit(info.context.caller, data),
            lambda doc: {"inspection": Inspection.from_doc(doc, input.coord_system)})
