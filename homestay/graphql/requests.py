"""requestInspection and the county's queue of inspection requests."""

from __future__ import annotations

from datetime import datetime

import strawberry

from homestay.domain import geo
from homestay.domain.inspections import InspectionRequest as DomainRequest
from homestay.domain.inspections import RequestStatus
from homestay.graphql.common import (
    Actor,
    Connection,
    CoordSystem,
    Edge,
    Grade,
    Info,
    UserError,
    check_first,
    global_id,
    key_of,
    payload,
)
from homestay.graphql.homestays import Homestay
from homestay.graphql.permissions import IsOperator, IsStaffOrOperator

strawberry.enum(RequestStatus, name="InspectionRequestStatus")
InspectionRequestStatus = RequestStatus


@strawberry.type
class InspectionRequest:
    id: strawberry.ID
    target_grade: Grade | None
    note: str | None
    status: InspectionRequestStatus
    requested_at: datetime
    requested_by: Actor
    closed_at: datetime | None = strawberry.field(
        description="When an inspection of the homestay was submitted."
    )
    inspection_id: strawberry.ID | None = strawberry.field(
        description="The inspection that answered it (an Inspection node)."
    )
    record: strawberry.Private[DomainRequest]
    coord: strawberry.Private[geo.CoordSystem]

    @classmethod
    def of(
        cls, record: DomainRequest, coord: geo.CoordSystem = geo.CoordSystem.WGS84
    ) -> InspectionRequest:
        return cls(
            id=strawberry.ID(record.id),
            target_grade=record.target_grade,
            note=record.note,
            status=record.status,
            requested_at=record.requested_at,
            requested_by=Actor.of_person(record.requested_by),
            closed_at=record.closed_at,
            inspection_id=global_id("Inspection", record.inspection_id)
            if record.inspection_id
            else None,
            record=record,
            coord=coord,
        )

    @strawberry.field
    async def homestay(self, info: Info) -> Homestay | None:
        found = await info.context.homestays.load(self.record.homestay_id)
        return Homestay.of(found, self.coord, info.context.lang) if found else None


@strawberry.input
class RequestInspectionInput:
    homestay_id: strawberry.ID
    target_grade: Grade | None = strawberry.field(
        default=None, description="The grade the operator hopes for, if any."
    )
    note: str | None = None


@strawberry.type
class RequestInspectionPayload:
    request: InspectionRequest | None = None
    errors: list[UserError]


@strawberry.type
class RequestQueries:
    @strawberry.field(
        permission_classes=[IsStaffOrOperator],
        description="Requests to be inspected, oldest first: staff see their "
        "counties' queue, an operator its own requests.",
    )
    async def inspection_requests(
        self,
        info: Info,
        county: str | None = None,
        status: InspectionRequestStatus | None = None,
        first: int = 20,
        after: str | None = None,
        coord_system: CoordSystem = geo.CoordSystem.WGS84,
    ) -> Connection[InspectionRequest]:
        page, more, count = await info.context.services.requests.list(
            info.context.caller, county=county, status=status, first=check_first(first), after=after
        )
        return Connection.of(
            [Edge(cursor=c, node=InspectionRequest.of(r, coord_system)) for r, c in page],
            more,
            count,
            after,
        )


@strawberry.type
class RequestMutations:
    @strawberry.mutation(
        permission_classes=[IsOperator],
        description="The operator asks for its homestay to be inspected; "
        "asking again while a request is open returns that request.",
    )
    async def request_inspection(
        self, info: Info, input: RequestInspectionInput
    ) -> RequestInspectionPayload:
        return await payload(
            RequestInspectionPayload,
            info.context.services.requests.request(
                info.context.caller,
                key_of(input.homestay_id, "Homestay"),
                input.target_grade,
                input.note,
            ),
            lambda record: {"request": InspectionRequest.of(record)},
        )
