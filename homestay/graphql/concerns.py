"""reportConcern and concernStatus (public), concerns and resolveConcern (the bureau)."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime

import strawberry

from homestay.domain.concerns import Concern as DomainConcern
from homestay.domain.concerns import ConcernCategory as DomainCategory
from homestay.domain.concerns import ConcernStatus as DomainStatus
from homestay.graphql.common import (
    Connection,
    County,
    Edge,
    Info,
    Node,
    UserError,
    check_first,
    global_id,
    key_of,
    localized,
    payload,
)
from homestay.graphql.permissions import IsBureau
from homestay.http.guard import request_address

strawberry.enum(DomainCategory)
strawberry.enum(DomainStatus)
ConcernCategory = DomainCategory
ConcernStatus = DomainStatus


@strawberry.type
class ConcernReceipt:
    receipt: str
    status: ConcernStatus
    reported_at: datetime


@strawberry.type
class ConcernResolution:
    by_name: str
    at: datetime
    note: str


@strawberry.type
class Concern(Node):
    receipt: str
    certificate_number: str
    homestay_name: str
    category: ConcernCategory
    description: str
    contact: str | None = strawberry.field(description="Seen by the bureau only.")
    status: ConcernStatus
    reported_at: datetime
    resolution: ConcernResolution | None
    photo_urls: list[str] = strawberry.field(description="For the bureau: GET with its token.")
    county_code: strawberry.Private[str]

    @strawberry.field
    def county(self, info: Info) -> County:
        return County.of(self.county_code, info.context.lang)

    @strawberry.field
    def category_label(self, info: Info) -> str:
        return localized(self.category.label, info.context.lang)

    @classmethod
    def of(cls, record: DomainConcern) -> Concern:
        done = record.resolution
        return cls(
            id=global_id("Concern", record.id),
            receipt=record.receipt,
            certificate_number=record.certificate_number,
            homestay_name=record.homestay_name,
            category=record.category,
            description=record.description,
            contact=record.contact,
            status=record.status,
            reported_at=record.reported_at,
            county_code=record.county,
            photo_urls=[f"/uploads/{p}" for p in record.photo_ids],
            resolution=ConcernResolution(by_name=done.by_name, at=done.at, note=done.note)
            if done
            else None,
        )


@strawberry.input
class ReportConcernInput:
    certificate_number: str
    category: ConcernCategory
    description: str = strawberry.field(description="What happened, at most 2,000 characters.")
    contact: str | None = strawberry.field(
        default=None,
        description="A phone or e-mail for the bureau's answer; only the bureau sees it.",
    )
    photo_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Up to 5 ids from POST /uploads (no token needed)."
    )


@strawberry.type
class ReportConcernPayload:
    receipt: str | None = strawberry.field(
        default=None, description="Ask concernStatus with it; nothing else is told by it."
    )
    errors: list[UserError]


@strawberry.input
class ResolveConcernInput:
    concern_id: strawberry.ID
    status: ConcernStatus = strawberry.field(
        description="SUBSTANTIATED (well-founded: it weighs in full in the re-inspection "
        "plan until resolved), RESOLVED or DISMISSED."
    )
    note: str


@strawberry.type
class ResolveConcernPayload:
    concern: Concern | None = None
    errors: list[UserError]


@strawberry.type
class ConcernQueries:
    @strawberry.field(
        description="Public: the status of a concern, by the receipt its reporter "
        "was given; null for an unknown receipt."
    )
    async def concern_status(self, info: Info, receipt: str) -> ConcernReceipt | None:
        found = await info.context.services.concerns.by_receipt(receipt.strip())
        if found is None:
            return None
        return ConcernReceipt(
            receipt=found.receipt, status=found.status, reported_at=found.reported_at
        )

    @strawberry.field(
        permission_classes=[IsBureau],
        description="Guests' concerns in the caller's counties, newest first.",
    )
    async def concerns(
        self,
        info: Info,
        county: str | None = None,
        status: ConcernStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Concern]:
        service = info.context.services.concerns
        page = await service.page(info.context.caller, county, status, check_first(first), after)

        async def count() -> int:
            return await service.count(page.filter)

        return Connection.of(
            [Edge(cursor=c, node=Concern.of(r)) for r, c in page.concerns],
            page.has_next,
            count,
            after,
        )


async def _first(reported: Awaitable[tuple[DomainConcern, bool]]) -> DomainConcern:
    return (await reported)[0]


@strawberry.type
class ConcernMutations:
    @strawberry.mutation(
        description="Public, rate-limited per address and per certificate: a "
        "guest's concern about a certified homestay. The same words about "
        "the same certificate on one day are one concern."
    )
    async def report_concern(self, info: Info, input: ReportConcernInput) -> ReportConcernPayload:
        request = info.context.request
        service = info.context.services.concerns
        number = input.certificate_number
        address = request_address(request) if request is not None else "unknown"

        async def report() -> tuple[DomainConcern, bool]:
            return await service.report(
                number,
                input.category,
                input.description,
                input.contact,
                [str(p) for p in input.photo_ids or []],
                reporter=address,
            )

        limiter = request.app.state.rate_limiter if request is not None else None
        return await payload(
            ReportConcernPayload,
            limiter.report_concern(address, number, report) if limiter else _first(report()),
            lambda record: {"receipt": record.receipt},
        )

    @strawberry.mutation(permission_classes=[IsBureau])
    async def resolve_concern(
        self, info: Info, input: ResolveConcernInput
    ) -> ResolveConcernPayload:
        return await payload(
            ResolveConcernPayload,
            info.context.services.concerns.resolve(
                info.context.caller, key_of(input.concern_id, "Concern"), input.status, input.note
            ),
            lambda record: {"concern": Concern.of(record)},
        )
