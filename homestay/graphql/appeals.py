"""appealDecision (the operator), decideAppeal and the queue of appeals (the bureau)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from homestay.auth import Role
from homestay.domain import geo
from homestay.domain.appeals import Appeal as DomainAppeal
from homestay.domain.appeals import AppealDecision as DomainDecision
from homestay.domain.appeals import AppealStatus as DomainStatus
from homestay.domain.appeals import AppealSubject as DomainSubject
from homestay.domain.certificates import Certificate as DomainCertificate
from homestay.domain.inspections import Inspection as DomainInspection
from homestay.graphql.certificates import Certificate
from homestay.graphql.common import (
    Actor,
    Connection,
    Edge,
    Info,
    Node,
    UserError,
    check_first,
    global_id,
    key_of,
    payload,
)
from homestay.graphql.homestays import Homestay
from homestay.graphql.inspections import Inspection
from homestay.graphql.permissions import IsBureau, IsBureauOrOperator, IsOperator

strawberry.enum(DomainStatus, name="AppealStatus")
strawberry.enum(DomainDecision, name="AppealDecision")
strawberry.enum(
    DomainSubject,
    name="AppealSubject",
    description="What was appealed: an inspection's rejection, or a certificate's "
    "suspension or revocation.",
)
AppealStatus = DomainStatus
AppealDecision = DomainDecision
AppealSubject = DomainSubject


@strawberry.type
class AppealRuling:
    decision: AppealDecision
    reason: str
    by: Actor
    at: datetime


@strawberry.type
class Appeal(Node):
    subject: AppealSubject
    reason: str = strawberry.field(description="The operator's grounds.")
    status: AppealStatus
    appealed_at: datetime
    appellant: Actor
    decision_at: datetime = strawberry.field(description="When the appealed decision was made.")
    decision_by: Actor = strawberry.field(
        description="Who made it: never the one who decides the appeal."
    )
    ruling: AppealRuling | None = strawberry.field(description="The bureau's decision, once made.")
    certificate_number: str | None
    record: strawberry.Private[DomainAppeal]

    @classmethod
    def of(cls, record: DomainAppeal) -> Appeal:
        ruling = record.ruling
        return cls(
            id=global_id("Appeal", record.id),
            subject=record.subject,
            reason=record.reason,
            status=record.status,
            appealed_at=record.appealed_at,
            appellant=Actor.of_person(record.appellant),
            decision_at=record.decision_at,
            decision_by=Actor.of_person(record.decision_by),
            ruling=AppealRuling(
                decision=ruling.decision,
                reason=ruling.reason,
                by=Actor.of_person(ruling.by),
                at=ruling.at,
            )
            if ruling
            else None,
            certificate_number=record.certificate_number,
            record=record,
        )

    @strawberry.field
    async def homestay(self, info: Info) -> Homestay | None:
        found = await info.context.homestays.load(self.record.homestay_id)
        return Homestay.of(found, geo.CoordSystem.WGS84, info.context.lang) if found else None

    @strawberry.field(description="The inspection whose rejection was appealed.")
    async def inspection(self, info: Info) -> Inspection | None:
        if not self.record.inspection_id:
            return None
        found = await info.context.inspections.load(self.record.inspection_id)
        return Inspection.of(found, geo.CoordSystem.WGS84) if found else None

    @strawberry.field(description="The certificate whose suspension or revocation was appealed.")
    async def certificate(self, info: Info) -> Certificate | None:
        if not self.record.certificate_number:
            return None
        found = await info.context.certificates.load(self.record.certificate_number)
        return Certificate.of(found, geo.CoordSystem.WGS84) if found else None


def sees_appeal(info: Info, county: str, homestay_id: str) -> bool:
    """The county's bureau and the homestay's operator: the same rule as the `appeals` list."""
    caller = info.context.caller
    return (caller.role is Role.BUREAU and caller.can_act_in(county)) or caller.operates(
        homestay_id
    )


@strawberry.input
class AppealDecisionInput:
    inspection_id: strawberry.ID | None = strawberry.field(
        default=None, description="A rejected inspection; or else:"
    )
    certificate_number: str | None = strawberry.field(
        default=None, description="A suspended or revoked certificate."
    )
    reason: str = strawberry.field(description="The operator's grounds (at most 2000 characters).")


@strawberry.type
class AppealDecisionPayload:
    appeal: Appeal | None = None
    errors: list[UserError]


@strawberry.input
class DecideAppealInput:
    appeal_id: strawberry.ID
    decision: AppealDecision
    reason: str


@strawberry.type
class DecideAppealPayload:
    appeal: Appeal | None = None
    certificate: Certificate | None = None
    inspection: Inspection | None = None
    errors: list[UserError]


@strawberry.type
class AppealQueries:
    @strawberry.field(
        permission_classes=[IsBureauOrOperator],
        description="Appeals, oldest first: the bureau sees its counties', an operator its own.",
    )
    async def appeals(
        self,
        info: Info,
        county: str | None = None,
        status: AppealStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Appeal]:
        page, more, count = await info.context.services.appeals.queue(
            info.context.caller, county=county, status=status, first=check_first(first), after=after
        )
        return Connection.of(
            [Edge(cursor=c, node=Appeal.of(a)) for a, c in page], more, count, after
        )


def _decided(
    done: tuple[DomainAppeal, DomainCertificate | None, DomainInspection | None],
) -> dict:
    appeal, cert, inspection = done
    return {
        "appeal": Appeal.of(appeal),
        "certificate": Certificate.of(cert, geo.CoordSystem.WGS84) if cert else None,
        "inspection": Inspection.of(inspection, geo.CoordSystem.WGS84) if inspection else None,
    }


@strawberry.type
class AppealMutations:
    @strawberry.mutation(
        permission_classes=[IsOperator],
        description="The operator contests a rejection, a suspension or a "
        "revocation of its homestay, within 30 days of the decision. Sent "
        "again, it returns the first appeal.",
    )
    async def appeal_decision(
        self, info: Info, input: AppealDecisionInput
    ) -> AppealDecisionPayload:
        return await payload(
            AppealDecisionPayload,
            info.context.services.appeals.appeal(
                info.context.caller,
                key_of(input.inspection_id, "Inspection") if input.inspection_id else None,
                input.certificate_number.strip() if input.certificate_number else None,
                input.reason,
            ),
            lambda record: {"appeal": Appeal.of(record)},
        )

    @strawberry.mutation(
        permission_classes=[IsBureau],
        description="UPHOLD or OVERTURN, by someone other than the person who "
        "made the decision. Overturning reinstates a suspended certificate, "
        "restores a revoked one that has not expired, or sends a rejected "
        "inspection back to review by someone else.",
    )
    async def decide_appeal(self, info: Info, input: DecideAppealInput) -> DecideAppealPayload:
        return await payload(
            DecideAppealPayload,
            info.context.services.appeals.decide(
                info.context.caller, key_of(input.appeal_id, "Appeal"), input.decision, input.reason
            ),
            _decided,
        )
