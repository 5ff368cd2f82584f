"""Certificates: public verification and reads; review, suspension, reinstatement, revocation."""

from __future__ import annotations

from datetime import datetime

import strawberry

from homestay.domain import geo
from homestay.domain.certificates import CertificateAction
from homestay.graphql.common import (
    CertificateStatus,
    CoordSystem,
    County,
    Grade,
    Info,
    ReviewDecision,
    UserError,
    key_of,
    localized,
    payload,
)
from homestay.graphql.permissions import IsBureau
from homestay.graphql.types import Certificate, Inspection
from homestay.storage import documents


@strawberry.type
class CertificateVerification:
    found: bool
    number: str
    status: CertificateStatus | None = None
    grade: Grade | None = None
    grade_label: str | None = None
    homestay_name: str | None = None
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
    @strawberry.field(description="Public: is the certificate shown at a door or on a listing "
                      "genuine, and what is its status now? Exact number only.")
    async def verify_certificate(self, info: Info, number: str) -> CertificateVerification:
        number = number.strip()
        cert = await info.context.services.certificates.get(number)
        if cert is None:
            return CertificateVerification(found=False, number=number)
        record = documents.certificate(cert)
        grade = record.grade
        return CertificateVerification(
            found=True, number=record.number, status=record.status_at(info.context.now),
            grade=grade,
            grade_label=localized(grade.label, info.context.lang),
            homestay_name=cert["listing"]["name"],
            county=County.of(cert["county"], info.context.lang),
            issued_at=cert["issuedAt"], expires_at=cert["expiresAt"])

    @strawberry.field
    async def certificate(self, info: Info, number: str,
                          coord_system: CoordSystem = geo.CoordSystem.WGS84) -> Certificate | None:
        cert = await info.context.services.certificates.get(number.strip())
        return Certificate.from_doc(cert, coord_system) if cert else None


def _certificate_fields(cert: dict | None) -> dict:
    return {"certificate": Certificate.from_doc(cert, geo.CoordSystem.WGS84) if cert else None}


@strawberry.type
class CertificateMutations:
    @strawberry.mutation(permission_classes=[IsBureau])
    async def review_inspection(self, info: Info,
                                input: ReviewInspectionInput) -> ReviewInspectionPayload:
        return await payload(
            ReviewInspectionPayload,
            info.context.services.certificates.review(
                info.context.caller, key_of(input.inspection_id, "Inspection"),
                input.decision.value, input.comment),
            lambda done: {"inspection": Inspection.from_doc(done[0], geo.CoordSystem.WGS84),
                          **_certificate_fields(done[1])})

    @strawberry.mutation(permission_classes=[IsBureau])
    async def suspend_certificate(self, info: Info,
                                  input: SuspendCertificateInput) -> SuspendCertificatePayload:
        return await payload(
            SuspendCertificatePayload,
            info.context.services.certificates.change(
                info.context.caller, input.number.strip(), CertificateAction.SUSPEND,
                input.reason),
            _certificate_fields)

    @strawberry.mutation(permission_classes=[IsBureau])
    async def reinstate_certificate(
            self, info: Info, input: ReinstateCertificateInput) -> ReinstateCertificatePayload:
        return await payload(
            ReinstateCertificatePayload,
            info.context.services.certificates.change(
                info.context.caller, input.number.strip(), CertificateAction.REINSTATE,
                input.reason),
            _certificate_fields)

    @strawberry.mutation(permission_classes=[IsBureau])
    async def revoke_certificate(self, info: Info,
                                 input: RevokeCertificateInput) -> RevokeCertificatePayload:
        return await payload(
            RevokeCertificatePayload,
            info.context.services.certificates.change(
                info.context.caller, input.number.strip(), CertificateAction.REVOKE,
                input.reason),
            _certificate_fields)
