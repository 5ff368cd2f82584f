"""Certificates: the Certificate type and its history, public verification and reads;
review, suspension, reinstatement, revocation. What a certificate shows anyone and what only
its county's staff and its operator see is domain/disclosure.py's rule."""

from __future__ import annotations

from datetime import datetime

import strawberry

from homestay.domain import geo
from homestay.domain.certificates import Certificate as DomainCertificate
from homestay.domain.certificates import CertificateAction
from homestay.domain.disclosure import sees_homestay, sees_private_data
from homestay.graphql.common import (
    Actor,
    CertificateStatus,
    CoordSystem,
    County,
    Grade,
    Info,
    Node,
    ReviewDecision,
    StandardRef,
    UserError,
    global_id,
    key_of,
    localized,
    payload,
)
from homestay.graphql.executor.execution import context_only
from homestay.graphql.homestays import Homestay
from homestay.graphql.inspections import Inspection
from homestay.graphql.permissions import IsBureau


@strawberry.type
class CertificateEvent:
    at: datetime
    by: Actor
    by_role: str | None = strawberry.field(description="INSPECTOR or BUREAU at the time.")
    action: str
    from_status: CertificateStatus | None = strawberry.field(name="from")
    to_status: CertificateStatus = strawberry.field(name="to")
    reason: str | None


@strawberry.type
class Certificate(Node):
    number: str
    grade: Grade
    issued_at: datetime
    expires_at: datetime
    standard: StandardRef
    record: strawberry.Private[DomainCertificate]
    coord: strawberry.Private[geo.CoordSystem]

    @classmethod
    def of(cls, record: DomainCertificate, coord: geo.CoordSystem) -> Certificate:
        return cls(
            id=global_id("Certificate", record.number),
            number=record.number,
            grade=record.grade,
            issued_at=record.issued_at,
            expires_at=record.expires_at,
            standard=StandardRef(code=record.standard_code, version=record.standard_version),
            record=record,
            coord=coord,
        )

    def _private(self, info: Info) -> bool:
        return sees_private_data(info.context.caller, self.record.county, self.record.homestay_id)

    @strawberry.field(description="As of now: EXPIRED once past expiresAt.")
    @context_only
    def status(self, info: Info) -> CertificateStatus:
        return self.record.status_at(info.context.now)

    @strawberry.field
    def grade_label(self, info: Info) -> str:
        return localized(self.record.grade.label, info.context.lang)

    @strawberry.field(
        description="The points of the inspection behind it. Staff of the county "
        "and the homestay's operator only; null for anyone else."
    )
    def total_points(self, info: Info) -> int | None:
        if not self._private(info):
            return None
        return self.record.total_points

    @strawberry.field(
        description="The stay as certified. For the public, only while this "
        "certificate is VALID; null otherwise."
    )
    def homestay(self, info: Info) -> Homestay | None:
        if not sees_homestay(
            info.context.caller,
            self.record.county,
            self.record.homestay_id,
            self.record.status_at(info.context.now),
        ):
            return None
        return Homestay.from_certificate(self.record, self.coord, info.context.lang)

    @strawberry.field(
        description="Staff of the county and the homestay's operator only; null for anyone else."
    )
    async def inspection(self, info: Info) -> Inspection | None:
        if not self._private(info):
            return None
        if self.record.inspection_id is None:
            return None
        found = await info.context.inspections.load(self.record.inspection_id)
        return Inspection.of(found, self.coord) if found else None

    @strawberry.field(
        description="Every change with who, when and why. Staff of the county and "
        "the homestay's operator only."
    )
    def history(self, info: Info) -> list[CertificateEvent] | None:
        if not self._private(info):
            return None
        return events_of(self.record)


def events_of(record: DomainCertificate) -> list[CertificateEvent]:
    return [
        CertificateEvent(
            at=e.at,
            by=Actor.of_person(e.by),
            by_role=e.by_role,
            action=e.action,
            from_status=e.from_status,
            to_status=e.to_status,
            reason=e.reason,
        )
        for e in record.history
    ]


@strawberry.type
class CertificateVerification:
    found: bool
    number: str
    status: CertificateStatus | None = None
    grade: Grade | None = None
    grade_label: str | None = None
    homestay_name: str | None = strawberry.field(
        default=None,
        description="In the language of Accept-Language, as Homestay.name: nameEn for "
        "English when there is one, the Chinese name otherwise.",
    )
    county: County | None = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None


@strawberry.input
class ReviewInspectionInput:
    inspection_id: strawberry.ID
    decision: ReviewDecision
    comment: str | None = strawberry.field(default=None, description="Required to REJECT.")


@strawberry.type
class ReviewInspectionPayload:
    inspection: Inspection | None = None
    certificate: Certificate | None = None
    errors: list[UserError]


@strawberry.input
class SuspendCertificateInput:
    number: str
    reason: str


@strawberry.input
class ReinstateCertificateInput:
    number: str
    reason: str


@strawberry.input
class RevokeCertificateInput:
    number: str
    reason: str


@strawberry.type
class SuspendCertificatePayload:
    certificate: Certificate | None = None
    errors: list[UserError]


@strawberry.type
class ReinstateCertificatePayload:
    certificate: Certificate | None = None
    errors: list[UserError]


@strawberry.type
class RevokeCertificatePayload:
    certificate: Certificate | None = None
    errors: list[UserError]


@strawberry.type
class CertificateQueries:
    @strawberry.field(
        description="Public: is the certificate shown at a door or on a listing "
        "genuine, and what is its status now? Exact number only."
    )
    async def verify_certificate(self, info: Info, number: str) -> CertificateVerification:
        number = number.strip()
        # what anyone may verify, by the same rule as the plaque's page and the feed
        shown = await info.context.services.certificates.public(number, info.context.now)
        if shown is None:
            return CertificateVerification(found=False, number=number)
        return CertificateVerification(
            found=True,
            number=shown.number,
            status=shown.status,
            grade=shown.grade,
            grade_label=localized(shown.grade.label, info.context.lang),
            homestay_name=shown.homestay_name_in(info.context.lang),
            county=County.of(shown.county, info.context.lang),
            issued_at=shown.issued_at,
            expires_at=shown.expires_at,
        )

    @strawberry.field
    async def certificate(
        self, info: Info, number: str, coord_system: CoordSystem = geo.CoordSystem.WGS84
    ) -> Certificate | None:
        cert = await info.context.services.certificates.get(number.strip())
        return Certificate.of(cert, coord_system) if cert else None


def _certificate_fields(cert: DomainCertificate | None) -> dict:
    return {"certificate": Certificate.of(cert, geo.CoordSystem.WGS84) if cert else None}


@strawberry.type
class CertificateMutations:
    @strawberry.mutation(permission_classes=[IsBureau])
    async def review_inspection(
        self, info: Info, input: ReviewInspectionInput
    ) -> ReviewInspectionPayload:
        return await payload(
            ReviewInspectionPayload,
            info.context.services.certificates.review(
                info.context.caller,
                key_of(input.inspection_id, "Inspection"),
                input.decision.value,
                input.comment,
            ),
            lambda done: {
                "inspection": Inspection.of(done[0], geo.CoordSystem.WGS84),
                **_certificate_fields(done[1]),
            },
        )

    @strawberry.mutation(permission_classes=[IsBureau])
    async def suspend_certificate(
        self, info: Info, input: SuspendCertificateInput
    ) -> SuspendCertificatePayload:
        return await payload(
            SuspendCertificatePayload,
            info.context.services.certificates.change(
                info.context.caller, input.number.strip(), CertificateAction.SUSPEND, input.reason
            ),
            _certificate_fields,
        )

    @strawberry.mutation(permission_classes=[IsBureau])
    async def reinstate_certificate(
        self, info: Info, input: ReinstateCertificateInput
    ) -> ReinstateCertificatePayload:
        return await payload(
            ReinstateCertificatePayload,
            info.context.services.certificates.change(
                info.context.caller, input.number.strip(), CertificateAction.REINSTATE, input.reason
            ),
            _certificate_fields,
        )

    @strawberry.mutation(permission_classes=[IsBureau])
    async def revoke_certificate(
        self, info: Info, input: RevokeCertificateInput
    ) -> RevokeCertificatePayload:
        return await payload(
            RevokeCertificatePayload,
            info.context.services.certificates.change(
                info.context.caller, input.number.strip(), CertificateAction.REVOKE, input.reason
            ),
            _certificate_fields,
        )
