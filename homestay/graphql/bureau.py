"""The bureau's desk: statistics, the re-inspection plan, certificate history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import strawberry

from homestay.domain import geo
from homestay.domain.concerns import ConcernCategory as DomainConcernCategory
from homestay.domain.concerns import ConcernStatus as DomainConcernStatus
from homestay.domain.disclosure import sees_private_data
from homestay.domain.grades import Grade as DomainGrade
from homestay.domain.listings import Homestay as DomainHomestay
from homestay.domain.plan import Reason
from homestay.errors import BadUserInput, Forbidden
from homestay.graphql.appeals import AppealStatus, AppealSubject
from homestay.graphql.certificates import Certificate, CertificateEvent, events_of
from homestay.graphql.common import (
    Actor,
    CertificateStatus,
    Connection,
    County,
    Edge,
    Grade,
    Info,
    check_first,
    localized,
)
from homestay.graphql.concerns import ConcernCategory, ConcernStatus
from homestay.graphql.homestays import Homestay
from homestay.graphql.permissions import IsBureau, IsStaff, IsStaffOrOperator
from homestay.services import statistics
from homestay.services.plan import cursor_of

strawberry.enum(Reason, name="PlanReasonCode")
PlanReasonCode = Reason
MAX_PERIOD = timedelta(days=5 * 366)


@strawberry.type
class CertificateCount:
    county: County
    grade: Grade
    status: CertificateStatus
    count: int


@strawberry.type
class MonthlyCertificates:
    month: str = strawberry.field(description="YYYY-MM, in China Standard Time.")
    county: County
    issued: int
    suspended: int
    revoked: int


@strawberry.type
class ConcernCount:
    month: str = strawberry.field(description="YYYY-MM of the report, in China Standard Time.")
    county: County
    category: ConcernCategory
    status: ConcernStatus = strawberry.field(description="Its outcome so far.")
    count: int


@strawberry.type
class AppealCount:
    month: str = strawberry.field(description="YYYY-MM of the appeal, in China Standard Time.")
    county: County
    subject: AppealSubject
    status: AppealStatus = strawberry.field(description="Its outcome so far.")
    count: int


@strawberry.type
class InspectorStatistics:
    inspector: Actor
    county: County
    submitted: int
    approved: int
    rejected: int
    pending: int
    far_from_homestay: int = strawberry.field(
        description="Submitted farther from the homestay than HOMESTAY_FAR_METERS."
    )
    average_points: float | None


@strawberry.type
class SectionAverage:
    section: str
    title: str
    max_points: int
    average_points: float | None
    inspections: int


@strawberry.type
class Statistics:
    """Figures for the caller's counties (or the one asked for) over a period; each field is
    one aggregation in the database, run only when asked for."""

    counties: strawberry.Private[list[str]]
    period: strawberry.Private[statistics.Period]
    lang: strawberry.Private[str]
    period_start: datetime
    period_end: datetime

    @strawberry.field(description="Certificates by county, grade and status as of now.")
    async def certificates(self, info: Info) -> list[CertificateCount]:
        rows = await info.context.services.statistics.certificates(self.counties, info.context.now)
        counts = [
            CertificateCount(
                county=County.of(r["county"], self.lang),
                grade=DomainGrade(r["grade"]),
                status=CertificateStatus(r["status"]),
                count=r["count"],
            )
            for r in rows
        ]
        return sorted(counts, key=lambda c: (c.county.code, c.grade.rank, c.status.value))

    @strawberry.field(description="Certificates issued, suspended and revoked per month.")
    async def monthly(self, info: Info) -> list[MonthlyCertificates]:
        rows = await info.context.services.statistics.monthly(self.counties, self.period)
        return [
            MonthlyCertificates(
                month=r["month"],
                county=County.of(r["county"], self.lang),
                issued=r["issued"],
                suspended=r["suspended"],
                revoked=r["revoked"],
            )
            for r in rows
        ]

    @strawberry.field(
        description="Guests' concerns reported in the period, per month, category and outcome."
    )
    async def concerns(self, info: Info) -> list[ConcernCount]:
        rows = await info.context.services.statistics.concerns(self.counties, self.period)
        return [
            ConcernCount(
                month=r["month"],
                county=County.of(r["county"], self.lang),
                category=DomainConcernCategory(r["category"]),
                status=DomainConcernStatus(r["status"]),
                count=r["count"],
            )
            for r in rows
        ]

    @strawberry.field(
        description="Operators' appeals filed in the period, per month, what "
        "was appealed and the outcome."
    )
    async def appeals(self, info: Info) -> list[AppealCount]:
        rows = await info.context.services.statistics.appeals(self.counties, self.period)
        return [
            AppealCount(
                month=r["month"],
                county=County.of(r["county"], self.lang),
                subject=AppealSubject(r["subject"]),
                status=AppealStatus(r["status"]),
                count=r["count"],
            )
            for r in rows
        ]

    @strawberry.field(description="Inspections submitted in the period, per inspector.")
    async def inspectors(self, info: Info) -> list[InspectorStatistics]:
        rows = await info.context.services.statistics.inspectors(self.counties, self.period)
        return [
            InspectorStatistics(
                inspector=Actor(id=r["inspectorId"], name=r["name"]),
                county=County.of(r["county"], self.lang),
                submitted=r["submitted"],
                approved=r["approved"],
                rejected=r["rejected"],
                pending=r["pending"],
                far_from_homestay=r["far"],
                average_points=round(r["averagePoints"], 1)
                if r["averagePoints"] is not None
                else None,
            )
            for r in rows
        ]

    @strawberry.field(
        description="Average points per section of the standard, over the "
        "approved inspections of the period (the current standard by default)."
    )
    async def sections(
        self, info: Info, standard_code: str | None = None, standard_version: int | None = None
    ) -> list[SectionAverage]:
        rows = await info.context.services.statistics.sections(
            self.counties, self.period, standard_code, standard_version
        )
        return [
            SectionAverage(
                section=r["section"],
                title=localized(r["title"], self.lang),
                max_points=r["maxPoints"],
                average_points=r["averagePoints"],
                inspections=r["inspections"],
            )
            for r in rows
        ]


@strawberry.type
class PlanReason:
    code: PlanReasonCode
    weight: int
    message: str = strawberry.field(description="Why, in the language of Accept-Language.")
    at: datetime | None = strawberry.field(description="When the fact behind it happened.")


@strawberry.type
class PlanEntry:
    priority: int = strawberry.field(description="The sum of the weights of the reasons.")
    reasons: list[PlanReason]
    certificate: Certificate | None = strawberry.field(
        description="Null for a homestay with no certificate in service that asked to be inspected."
    )
    homestay_record: strawberry.Private[DomainHomestay | None] = None

    @strawberry.field
    def homestay(self, info: Info) -> Homestay:
        lang = info.context.lang
        if self.certificate is not None:
            return Homestay.from_certificate(self.certificate.record, geo.CoordSystem.WGS84, lang)
        assert self.homestay_record is not None
        return Homestay.of(self.homestay_record, geo.CoordSystem.WGS84, lang)


@strawberry.type
class BureauQueries:
    @strawberry.field(
        permission_classes=[IsBureau],
        description="Figures for the console: `from`/`to` bound the period "
        "(the last 12 months by default).",
    )
    def statistics(
        self,
        info: Info,
        county: str | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> Statistics:
        counties = info.context.caller.counties_filter(county)
        end = to or info.context.now
        start = from_ or end - timedelta(days=365)
        if start >= end:
            raise BadUserInput("from", "from must come before to")
        if end - start > MAX_PERIOD:
            raise BadUserInput("from", "a period may span at most five years")
        return Statistics(
            counties=counties,
            period=statistics.Period(start, end),
            lang=info.context.lang,
            period_start=start,
            period_end=end,
        )

    @strawberry.field(
        permission_classes=[IsStaff],
        description="Homestays to re-inspect first, with the reasons; weights "
        "are the HOMESTAY_PLAN_* settings.",
    )
    async def reinspection_plan(
        self, info: Info, county: str | None = None, first: int = 20, after: str | None = None
    ) -> Connection[PlanEntry]:
        check_first(first)
        counties = info.context.caller.counties_filter(county)
        page = await info.context.services.plan.page(counties, info.context.now, first, after)
        lang = info.context.lang
        edges = [
            Edge(
                cursor=cursor_of(entry),
                node=PlanEntry(
                    priority=entry.priority,
                    reasons=[
                        PlanReason(
                            code=f.reason,
                            weight=f.weight,
                            message=localized(f.message, lang),
                            at=f.at,
                        )
                        for f in entry.findings
                    ],
                    certificate=Certificate.of(entry.certificate, geo.CoordSystem.WGS84)
                    if entry.certificate is not None
                    else None,
                    homestay_record=entry.homestay,
                ),
            )
            for entry in page.entries
        ]

        async def total() -> int:
            return page.total

        return Connection.of(edges, page.has_next, total, after)

    @strawberry.field(
        permission_classes=[IsStaffOrOperator],
        description="Every change of a certificate: who, when, why, from and to. "
        "Staff of its county and the homestay's operator; null when there is "
        "no such certificate.",
    )
    async def certificate_history(self, info: Info, number: str) -> list[CertificateEvent] | None:
        cert = await info.context.services.certificates.get(number.strip())
        if cert is None:
            return None
        if not sees_private_data(info.context.caller, cert.county, cert.homestay_id):
            raise Forbidden(
                "this certificate's history is for its county's staff and its homestay's operator"
            )
        return events_of(cert)
