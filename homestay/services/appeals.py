"""Appeals: an operator contests a rejection, a suspension or a revocation within 30 days; the
bureau upholds or overturns it, never the person who made the decision.

One appeal per decision (a unique index on the key naming the decision): an appeal sent again
on a flaky network returns the first. Each step is a single-document write that is safe to
repeat, in the same order as a review's (the appeal is claimed first, its consequences
follow), so a decision sent again finishes what the first try began.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from homestay.auth import Caller, Role
from homestay.clock import china_date, utcnow
from homestay.domain.appeals import (
    Appeal,
    AppealDecision,
    AppealStatus,
    AppealSubject,
    Decision,
    Remedy,
    may_decide,
    remedy,
)
from homestay.domain.certificates import Certificate, CertificateAction, CertificateStatus
from homestay.domain.inspections import Inspection, InspectionStatus
from homestay.domain.text import check_text
from homestay.errors import UserError, UserErrors
from homestay.services.certificates import CertificateService
from homestay.services.pagination import oldest_first
from homestay.services.scope import records_of
from homestay.storage import documents
from homestay.storage.database import Database, update_and_read

MAX_REASON = 2000

# the certificate action an appealed certificate decision was recorded with
_APPEALED_ACTION = {
    CertificateStatus.SUSPENDED: ("SUSPEND", AppealSubject.SUSPENSION),
    CertificateStatus.REVOKED: ("REVOKE", AppealSubject.REVOCATION),
}
_UNDO = {Remedy.REINSTATE: CertificateAction.REINSTATE, Remedy.RESTORE: CertificateAction.RESTORE}


def _rejection(inspection: dict) -> Decision:
    if inspection["status"] != InspectionStatus.REJECTED.value or not inspection.get("review"):
        raise UserErrors.one(
            ["input", "inspectionId"],
            "NOT_APPEALABLE",
            f"only a rejected inspection can be appealed; this one is "
            f"{inspection['status'].lower()}",
        )
    review = inspection["review"]
    return Decision(
        AppealSubject.REJECTION,
        review["at"],
        review["reviewer"]["id"],
        review["reviewer"].get("name"),
        f"inspection:{inspection['_id']}:{review['at'].isoformat()}",
    )


def _taken_out_of_service(cert: dict) -> Decision:
    appealed = _APPEALED_ACTION.get(CertificateStatus(cert["status"]))
    events = [
        (i, e) for i, e in enumerate(cert["history"]) if appealed and e["action"] == appealed[0]
    ]
    if appealed is None or not events:
        raise UserErrors.one(
            ["input", "certificateNumber"],
            "NOT_APPEALABLE",
            f"only a suspended or revoked certificate can be appealed; this "
            f"one is {cert['status'].lower()}",
        )
    index, event = events[-1]
    return Decision(
        appealed[1],
        event["at"],
        event["by"].get("id"),
        event["by"].get("name"),
        f"certificate:{cert['_id']}:{index}",
    )


class AppealService:
    def __init__(self, db: Database, certificates: CertificateService) -> None:
        self.db = db
        self.certificates = certificates

    # -- the operator appeals ---------------------------------------------------------------

    async def appeal(
        self,
        caller: Caller,
        inspection_id: str | None,
        certificate_number: str | None,
        reason: str | None,
    ) -> Appeal:
        caller.require(Role.OPERATOR)
        if (inspection_id is None) == (certificate_number is None):
            raise UserErrors.one(
                ["input"],
                "INVALID",
                "name the decision appealed: an inspectionId (a rejection) or "
                "a certificateNumber (a suspension or revocation), not both",
            )
        errors: list[UserError] = []
        reason = check_text(
            errors, ["input", "reason"], reason, MAX_REASON, required=True, multiline=True
        )
        if errors:
            raise UserErrors(errors)
        assert reason is not None
        homestay_id, county, decision, number = await self._appealed(
            caller, inspection_id, certificate_number
        )
        now = utcnow()
        if not decision.appealable_at(now):
            field = "inspectionId" if inspection_id is not None else "certificateNumber"
            raise UserErrors.one(
                ["input", field],
                "TOO_LATE",
                f"the decision of {china_date(decision.at)} could be appealed "
                f"until {china_date(decision.open_until())}",
            )
        doc = {
            "_id": str(ObjectId()),
            "decisionKey": decision.key,
            "homestayId": homestay_id,
            "county": county,
            "subject": decision.subject.value,
            "inspectionId": inspection_id,
            "certificateNumber": number,
            "appealed": {"at": decision.at, "by": {"id": decision.by_id, "name": decision.by_name}},
            "reason": reason,
            "status": AppealStatus.OPEN.value,
            "appealedAt": now,
            "appellant": {"id": caller.account_id, "name": caller.name},
            "ruling": None,
        }
        try:
            await self.db.appeals.insert_one(doc)
        except DuplicateKeyError:  # this decision is already appealed
            doc = await self._again(caller, decision.key, reason)
        await self._filed(caller, doc)
        return documents.appeal(doc)

    async def _appealed(
        self, caller: Caller, inspection_id: str | None, certificate_number: str | None
    ) -> tuple[str, str, Decision, str | None]:
        """The homestay, county and decision appealed, once the caller is its operator."""
        if inspection_id is not None:
            inspection = await self.db.inspections.find_one({"_id": inspection_id})
            if inspection is None:
                raise UserErrors.one(
                    ["input", "inspectionId"], "NOT_FOUND", f"no inspection {inspection_id!r}"
                )
            caller.require_operator_of(inspection["homestayId"])
            return inspection["homestayId"], inspection["county"], _rejection(inspection), None
        assert certificate_number is not None
        cert = await self.certificates.stored(certificate_number)
        if cert is None:
            raise UserErrors.one(
                ["input", "certificateNumber"],
                "NOT_FOUND",
                f"no certificate {certificate_number!r}",
            )
        caller.require_operator_of(cert["homestayId"])
        return cert["homestayId"], cert["county"], _taken_out_of_service(cert), cert["_id"]

    async def _again(self, caller: Caller, key: str, reason: str) -> dict:
        """The same appeal sent again is the first one; another appeal of the same decision
        is refused (one appeal per decision)."""
        existing = await self.db.appeals.find_one({"decisionKey": key})
        assert existing is not None  # the unique index said it is there; appeals stay
        if existing["appellant"]["id"] != caller.account_id or existing["reason"] != reason:
            raise UserErrors.one(
                ["input"],
                "ALREADY_APPEALED",
                f"this decision was appealed on "
                f"{china_date(existing['appealedAt'])} (appeal "
                f"{existing['_id']}, {existing['status'].lower()})",
            )
        return existing

    async def _filed(self, caller: Caller, appeal: dict) -> None:
        if appeal["certificateNumber"]:
            await self.certificates.note_appeal(
                caller,
                appeal["certificateNumber"],
                CertificateAction.APPEAL,
                appeal["_id"],
                appeal["reason"],
            )

    # -- the bureau decides -----------------------------------------------------------------

    async def decide(
        self, caller: Caller, appeal_id: str, decision: AppealDecision, reason: str | None
    ) -> tuple[Appeal, Certificate | None, Inspection | None]:
        """The appeal as decided, and the certificate and inspection it concerns as they are
        after it."""
        caller.require(Role.BUREAU)
        appeal = await self.db.appeals.find_one({"_id": appeal_id})
        if appeal is None:
            raise UserErrors.one(["input", "appealId"], "NOT_FOUND", f"no appeal {appeal_id!r}")
        caller.require_county(appeal["county"])
        if not may_decide(caller.account_id, _decision_of(appeal)):
            raise UserErrors.one(
                ["input", "appealId"],
                "NOT_IMPARTIAL",
                "an appeal is decided by someone other than the person who "
                "made the decision appealed",
            )
        errors: list[UserError] = []
        reason = check_text(
            errors, ["input", "reason"], reason, MAX_REASON, required=True, multiline=True
        )
        if errors:
            raise UserErrors(errors)
        if appeal["status"] == AppealStatus.OPEN.value:
            ruling = {
                "decision": decision.value,
                "reason": reason,
                "at": utcnow(),
                "by": {"id": caller.account_id, "name": caller.name},
            }
            claimed = await update_and_read(
                self.db.appeals,
                {"_id": appeal_id, "status": AppealStatus.OPEN.value},
                {"$set": {"status": decision.outcome.value, "ruling": ruling}},
            )
            appeal = claimed or await self.db.appeals.find_one({"_id": appeal_id})
            assert appeal is not None
        ruling = appeal["ruling"]
        if ruling["by"]["id"] != caller.account_id or ruling["decision"] != decision.value:
            raise UserErrors.one(
                ["input", "appealId"],
                "ALREADY_DECIDED",
                f"this appeal was already {appeal['status'].lower()}",
            )
        cert, inspection = await self._consequences(caller, appeal)
        return (
            documents.appeal(appeal),
            documents.certificate(cert) if cert else None,
            documents.inspection(inspection) if inspection else None,
        )

    async def _consequences(self, caller: Caller, appeal: dict) -> tuple[dict | None, dict | None]:
        """What the ruling does; each step safe to repeat."""
        ruling = appeal["ruling"]
        overturned = appeal["status"] == AppealStatus.OVERTURNED.value
        words = f"appeal {appeal['_id']}: {ruling['reason']}"
        subject = AppealSubject(appeal["subject"])
        inspection = (
            await self.db.inspections.find_one({"_id": appeal["inspectionId"]})
            if appeal["inspectionId"]
            else None
        )
        number = appeal["certificateNumber"]
        if subject is AppealSubject.REJECTION:
            if overturned:
                inspection = await self._review_again(appeal, inspection)
            cert = await self.certificates.stored(number) if number else None
            return cert, inspection
        action = (
            CertificateAction.APPEAL_OVERTURNED if overturned else CertificateAction.APPEAL_UPHELD
        )
        cert = await self.certificates.note_appeal(caller, number, action, appeal["_id"], words)
        if overturned and cert is not None:
            undo = _UNDO.get(remedy(subject, cert["expiresAt"], ruling["at"]))
            if undo is not None:
                cert = await self.certificates.undo_on_appeal(
                    caller, cert, undo, appeal["_id"], words
                )
        return cert, inspection

    async def _review_again(self, appeal: dict, inspection: dict | None) -> dict | None:
        """The rejected inspection back in the review queue, barred to the reviewer who
        rejected it; its review kept among the earlier ones."""
        if inspection is None or inspection["status"] != InspectionStatus.REJECTED.value:
            return inspection  # sent again: already back in review
        return (
            await update_and_read(
                self.db.inspections,
                {
                    "_id": inspection["_id"],
                    "status": InspectionStatus.REJECTED.value,
                    "review.at": appeal["appealed"]["at"],
                },
                {
                    "$set": {"status": InspectionStatus.SUBMITTED.value},
                    "$addToSet": {"barredReviewers": appeal["appealed"]["by"]["id"]},
                    "$push": {
                        "earlierReviews": {**inspection["review"], "appealId": appeal["_id"]}
                    },
                    "$unset": {"review": ""},
                },
            )
            or inspection
        )

    # -- reads ------------------------------------------------------------------------------

    async def queue(
        self,
        caller: Caller,
        *,
        county: str | None,
        status: AppealStatus | None,
        first: int,
        after: str | None,
    ) -> tuple[list[tuple[Appeal, str]], bool, Callable[[], Awaitable[int]]]:
        """Appeals, oldest first (a queue): the bureau its counties', an operator its own."""
        caller.require(Role.BUREAU, Role.OPERATOR)
        flt = records_of(caller, county)
        if status is not None:
            flt["status"] = status.value
        page, more = await oldest_first(self.db.appeals, flt, "appealedAt", first, after)

        async def count() -> int:
            return await self.db.appeals.count_documents(flt)

        return [(documents.appeal(d), c) for d, c in page], more, count

    async def get_many(self, ids: list[str]) -> list[Appeal | None]:
        """By id, in the order asked (for a DataLoader): one read however many."""
        found = {
            a["_id"]: documents.appeal(a) async for a in self.db.appeals.find({"_id": {"$in": ids}})
        }
        return [found.get(i) for i in ids]

    async def of_inspections(self, ids: list[str]) -> list[list[Appeal]]:
        """The appeals of each inspection (a DataLoader's batch): one read however many."""
        found: dict[str, list[Appeal]] = {i: [] for i in ids}
        async for a in self.db.appeals.find({"inspectionId": {"$in": ids}}).sort("appealedAt", 1):
            found.setdefault(a["inspectionId"], []).append(documents.appeal(a))
        return [found[i] for i in ids]


def _decision_of(appeal: dict) -> Decision:
    appealed = appeal["appealed"]
    return Decision(
        AppealSubject(appeal["subject"]),
        appealed["at"],
        appealed["by"]["id"],
        appealed["by"].get("name"),
        appeal["decisionKey"],
    )
