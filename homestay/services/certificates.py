"""Review of inspections and the certificate lifecycle.

Each step is one single-document write, idempotent and safe to resume, so nothing here needs
a multi-document transaction (which a sharded cluster would make costly): the inspection is
claimed with its certificate number in one conditional update; the old certificate is
superseded and the new one inserted, a partial unique index guaranteeing at most one current
certificate per homestay whatever runs concurrently. A status change, its history event and
the certificate's visibility in search are one write on one document.
"""

from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from homestay.auth import Caller, Role
from homestay.clock import china_date, utcnow
from homestay.domain.certificates import (
    NUMBER_PATTERN,
    TRANSITIONS,
    Certificate,
    CertificateAction,
    CertificateStatus,
    expiry,
    format_number,
    listed_until,
)
from homestay.domain.disclosure import PublicCertificate
from homestay.domain.grades import Grade
from homestay.domain.inspections import Inspection, InspectionStatus, ReviewDecision
from homestay.domain.text import check_text
from homestay.errors import UserError, UserErrors
from homestay.exports import read_model
from homestay.services.homestays import listing_of
from homestay.storage import documents
from homestay.storage.database import Database, stamp, stamped, update_and_read

MAX_REASON = 500
_ISSUE_ATTEMPTS = 5


def _actor(caller: Caller) -> dict:
    return {"id": caller.account_id, "name": caller.name, "role": caller.role.value}


def _event(
    caller: Caller,
    action: CertificateAction,
    before: str | None,
    after: str,
    reason: str | None,
    at: datetime,
    **extra: object,
) -> dict:
    return {
        "at": at,
        "by": _actor(caller),
        "action": action.value,
        "from": before,
        "to": after,
        "reason": reason,
        **extra,
    }


def status_of(cert: dict, now: datetime) -> CertificateStatus:
    return documents.certificate(cert).status_at(now)


def _record(cert: dict | None) -> Certificate | None:
    return documents.certificate(cert) if cert is not None else None


class CertificateService:
    def __init__(self, db: Database, validity_days: int = 3 * 365) -> None:
        self.db = db
        self.validity_days = validity_days

    # -- review ----------------------------------------------------------------------------

    async def review(
        self,
        caller: Caller,
        inspection_id: str,
        decision: str | ReviewDecision,
        comment: str | None,
    ) -> tuple[Inspection, Certificate | None]:
        """The inspection as reviewed, and the certificate its approval issued (or the one
        a no-grade approval revoked)."""
        caller.require(Role.BUREAU)
        decision = ReviewDecision(decision)
        inspection = await self.db.inspections.find_one({"_id": inspection_id})
        if inspection is None:
            raise UserErrors.one(
                ["input", "inspectionId"], "NOT_FOUND", f"no inspection {inspection_id!r}"
            )
        caller.require_county(inspection["county"])
        inspector = inspection["inspector"]["id"]
        if inspector == caller.account_id:
            raise UserErrors.one(
                ["input", "inspectionId"],
                "SELF_REVIEW",
                "an inspection is reviewed by someone other than its inspector",
            )
        if inspector == caller.created_by:
            raise UserErrors.one(
                ["input", "inspectionId"],
                "SELF_REVIEW",
                "an inspection is not reviewed by an account its inspector made",
            )
        if caller.account_id in inspection.get("barredReviewers", []):
            raise UserErrors.one(
                ["input", "inspectionId"],
                "NOT_IMPARTIAL",
                "your rejection of this inspection was overturned on appeal: "
                "someone else reviews it",
            )
        errors: list[UserError] = []
        comment = check_text(errors, ["input", "comment"], comment, MAX_REASON, multiline=True)
        if errors:
            raise UserErrors(errors)
        if decision is ReviewDecision.REJECT and not comment:
            raise UserErrors.one(
                ["input", "comment"], "REQUIRED", "say why the inspection is rejected"
            )
        if inspection["status"] != InspectionStatus.SUBMITTED:
            return await self._replayed_review(caller, inspection, decision)

        now = utcnow()
        review = {
            "reviewer": {"id": caller.account_id, "name": caller.name},
            "decision": decision.value,
            "comment": comment,
            "at": now,
        }
        changes: dict = {"status": decision.outcome.value, "review": review}
        grade = inspection.get("recommendedGrade")
        if decision is ReviewDecision.APPROVE and grade:
            changes["certificateNumber"] = await self._next_number(inspection["county"], now)
        claimed = await update_and_read(
            self.db.inspections,
            {"_id": inspection_id, "status": InspectionStatus.SUBMITTED.value},
            {"$set": changes},
        )
        if claimed is None:  # another reviewer got there first
            fresh = await self.db.inspections.find_one({"_id": inspection_id})
            assert fresh is not None  # found above; inspections are never deleted
            return await self._replayed_review(caller, fresh, decision)
        return documents.inspection(claimed), _record(await self._apply_decision(caller, claimed))

    async def _replayed_review(
        self, caller: Caller, inspection: dict, decision: ReviewDecision
    ) -> tuple[Inspection, Certificate | None]:
        """A review sent again by its reviewer finishes what the first try began."""
        review = inspection.get("review") or {}
        if (
            review.get("reviewer", {}).get("id") != caller.account_id
            or review.get("decision") != decision
        ):
            raise UserErrors.one(
                ["input", "inspectionId"],
                "ALREADY_REVIEWED",
                f"this inspection is already {inspection['status'].lower()}",
            )
        cert = _record(await self._apply_decision(caller, inspection))
        return documents.inspection(inspection), cert

    async def _apply_decision(self, caller: Caller, inspection: dict) -> dict | None:
        if inspection["status"] != InspectionStatus.APPROVED:
            return None
        if inspection.get("certificateNumber"):
            return await self._issue(caller, inspection)
        return await self._revoke_for_no_grade(caller, inspection)

    async def _next_number(self, county: str, now: datetime) -> str:
        year = china_date(now).year  # the year of issue as the certificate prints it
        key = f"certificate:{county}:{year}"
        for _ in range(5):
            try:
                counter = await self.db.counters.find_one_and_update(
                    {"_id": key},
                    {"$inc": {"seq": 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:  # two first-of-the-year upserts raced (MongoDB)
                continue
            if counter is not None:
                return format_number(county, year, counter["seq"])
            # the embedded server answers some raced upserts with no document although it
            # applied the $inc: that number is lost (a gap), never given twice
        raise RuntimeError(f"could not allocate a certificate number for {key}")

    async def _issue(self, caller: Caller, inspection: dict) -> dict:
        number = inspection["certificateNumber"]
        existing = await self.db.certificates.find_one({"_id": number})
        if existing is not None:
            await self._sync_row(existing)  # a resumed review: the row may lag
            return existing
        homestay = await self.db.homestays.find_one({"_id": inspection["homestayId"]})
        assert homestay is not None  # an inspection names a registered homestay
        issued_at = inspection["review"]["at"]
        grade = Grade(inspection["recommendedGrade"])
        doc = {
            "_id": number,
            "homestayId": homestay["_id"],
            "county": homestay["county"],
            "grade": grade.value,
            "gradeRank": grade.rank,
            "status": CertificateStatus.VALID.value,
            "current": True,
            "issuedAt": issued_at,
            "expiresAt": expiry(issued_at, self.validity_days),
            "inspectionId": inspection["_id"],
            "standard": inspection["standard"],
            "totalPoints": inspection["totalPoints"],
            "listing": listing_of(homestay),
            "history": [
                _event(
                    caller,
                    CertificateAction.ISSUE,
                    None,
                    "VALID",
                    inspection["review"].get("comment"),
                    issued_at,
                    inspectionId=inspection["_id"],
                )
            ],
            # stamped by the database once written (storage.database.stamp): the moment of
            # this write, not of the review it finishes, nor a writer's clock
            "updatedAt": utcnow(),
        }
        for _ in range(_ISSUE_ATTEMPTS):
            await self._supersede_current(caller, homestay["_id"], number)
            try:
                await self.db.certificates.insert_one(doc)
                doc = await stamp(self.db.certificates, number) or doc
                await self._sync_row(doc)
                return doc
            except DuplicateKeyError:
                existing = await self.db.certificates.find_one({"_id": number})
                if existing is not None:  # a resumed review already inserted it
                    await self._sync_row(existing)
                    return existing
                # a concurrent review issued another certificate in between: supersede it too
        raise RuntimeError(f"could not issue {number}: the homestay keeps changing")

    async def _supersede_current(self, caller: Caller, homestay_id: str, number: str) -> None:
        now = utcnow()
        old = await self.db.certificates.find_one(
            {"homestayId": homestay_id, "current": True, "_id": {"$ne": number}}
        )
        if old is None:
            return
        await self._update(
            {"_id": old["_id"], "current": True},
            {
                "$set": {
                    "current": False,
                    "status": CertificateStatus.SUPERSEDED.value,
                    "updatedAt": now,
                },
                "$push": {
                    "history": _event(
                        caller,
                        CertificateAction.SUPERSEDE,
                        old["status"],
                        "SUPERSEDED",
                        f"replaced by {number}",
                        now,
                        replacedBy=number,
                    )
                },
            },
        )

    async def _revoke_for_no_grade(self, caller: Caller, inspection: dict) -> dict | None:
        cert = await self.db.certificates.find_one(
            {"homestayId": inspection["homestayId"], "current": True}
        )
        if cert is None:
            return None
        if cert["status"] == CertificateStatus.REVOKED.value:  # a resumed review
            await self._sync_row(cert)
            return cert
        reason = f"re-inspection {inspection['_id']} reached no grade"
        return await self._transition(
            caller, cert, CertificateAction.REVOKE, reason, inspectionId=inspection["_id"]
        )

    # -- suspend / reinstate / revoke -------------------------------------------------------

    async def change(
        self, caller: Caller, number: str, action: CertificateAction, reason: str | None
    ) -> Certificate:
        caller.require(Role.BUREAU)
        cert = await self.stored(number)
        if cert is None:
            raise UserErrors.one(["input", "number"], "NOT_FOUND", f"no certificate {number!r}")
        caller.require_county(cert["county"])
        errors: list[UserError] = []
        reason = (
            check_text(
                errors, ["input", "reason"], reason or "", MAX_REASON, required=True, multiline=True
            )
            or ""
        )
        if errors:
            raise UserErrors(errors)
        allowed, target = TRANSITIONS[action]
        last = cert["history"][-1]
        if (
            cert["status"] == target.value
            and last["action"] == action.value
            and last["by"]["id"] == caller.account_id
            and last["reason"] == reason
        ):
            await self._sync_row(cert)  # the same change sent again: done; the row too
            return documents.certificate(cert)
        now_status = status_of(cert, utcnow())
        if CertificateStatus(cert["status"]) not in allowed or (
            now_status is CertificateStatus.EXPIRED and action is not CertificateAction.REVOKE
        ):
            raise UserErrors.one(
                ["input", "number"],
                "INVALID_TRANSITION",
                f"a {now_status.value} certificate cannot be {action.value.lower()}d",
            )
        return documents.certificate(await self._transition(caller, cert, action, reason))

    async def _transition(
        self,
        caller: Caller,
        cert: dict,
        action: CertificateAction,
        reason: str,
        also: dict | None = None,
        **extra: object,
    ) -> dict:
        _, target = TRANSITIONS[action]
        now = utcnow()
        change: dict = {
            "$set": {"status": target.value, "updatedAt": now, **(also or {})},
            "$push": {
                "history": _event(
                    caller, action, cert["status"], target.value, reason, now, **extra
                )
            },
        }
        updated = await self._update({"_id": cert["_id"], "status": cert["status"]}, change)
        if updated is None:
            raise UserErrors.one(
                ["input", "number"],
                "CONFLICT",
                "the certificate changed meanwhile; reload and try again",
            )
        return updated

    # -- appeals ---------------------------------------------------------------------------

    async def note_appeal(
        self,
        caller: Caller,
        number: str,
        action: CertificateAction,
        appeal_id: str,
        reason: str | None,
    ) -> dict | None:
        """An appeal's step (filed, upheld, overturned) in the certificate's history: once,
        however often it is sent. The status is left as it is."""
        cert = await self.stored(number)
        if cert is None:
            return None
        now = utcnow()
        return (
            await self._update(
                {
                    "_id": number,
                    "history": {
                        "$not": {"$elemMatch": {"appealId": appeal_id, "action": action.value}}
                    },
                },
                {
                    "$set": {"updatedAt": now},
                    "$push": {
                        "history": _event(
                            caller,
                            action,
                            cert["status"],
                            cert["status"],
                            reason,
                            now,
                            appealId=appeal_id,
                        )
                    },
                },
            )
            or cert
        )

    async def undo_on_appeal(
        self, caller: Caller, cert: dict, action: CertificateAction, appeal_id: str, reason: str
    ) -> dict:
        """An overturned suspension (REINSTATE) or revocation (RESTORE) of `cert`, as just
        read or written: back to VALID if it is still as it was appealed; sent again, or
        changed meanwhile (reinstated by hand, superseded by a new one), it is left as it is
        (its write is conditional on the status read)."""
        allowed, _ = TRANSITIONS[action]
        if CertificateStatus(cert["status"]) not in allowed:
            await self._sync_row(cert)
            return cert
        also = None
        if action is CertificateAction.RESTORE:  # listed again: the listing as it is today
            homestay = await self.db.homestays.find_one({"_id": cert["homestayId"]})
            if homestay is not None:
                also = {"listing": listing_of(homestay)}
        return await self._transition(caller, cert, action, reason, also, appealId=appeal_id)

    async def _sync_row(self, cert: dict) -> None:
        """What follows every write of a certificate (and its retry): its grade-list row, and
        its homestay's `listedUntil`, which the inspector's finder filters on (a superseded
        certificate leaves that to its successor, written right after)."""
        await read_model.sync(self.db, [cert])
        if cert.get("current"):
            record = documents.certificate(cert)
            await self.db.homestays.update_one(
                {"_id": cert["homestayId"]},
                stamped(
                    {"$set": {"listedUntil": listed_until(record.stored_status, record.expires_at)}}
                ),
            )

    async def _update(self, where: dict, change: dict) -> dict | None:
        """Every change to an existing certificate: the write, then its grade-list row."""
        updated = await update_and_read(self.db.certificates, where, stamped(change))
        if updated is not None:
            await self._sync_row(updated)
        return updated

    # -- reads ------------------------------------------------------------------------------

    async def stored(self, number: str) -> dict | None:
        """The stored document, for the services that change it."""
        if not isinstance(number, str) or not NUMBER_PATTERN.match(number):
            return None
        return await self.db.certificates.find_one({"_id": number})

    async def get(self, number: str) -> Certificate | None:
        return _record(await self.stored(number))

    async def get_many(self, numbers: list[str]) -> list[Certificate | None]:
        """By number, in the order asked (for a DataLoader): one read however many."""
        wanted = [n for n in numbers if isinstance(n, str) and NUMBER_PATTERN.match(n)]
        found = {
            c["_id"]: documents.certificate(c)
            async for c in self.db.certificates.find({"_id": {"$in": wanted}})
        }
        return [found.get(n) for n in numbers]

    async def public(self, number: str, now: datetime) -> PublicCertificate | None:
        """What anyone may verify of a certificate. An unknown number costs the same two
        reads as a known one, so that the answer's time does not tell which it is."""
        cert = await self.stored(number)
        inspection = await self.db.inspections.find_one(
            {"_id": cert["inspectionId"] if cert else "-"}, {"inspectedAt": 1}
        )
        if cert is None:
            return None
        return PublicCertificate(
            number=cert["_id"],
            status=status_of(cert, now),
            grade=Grade(cert["grade"]),
            homestay_name=cert["listing"]["name"],
            homestay_name_en=cert["listing"].get("nameEn"),
            county=cert["county"],
            issued_at=cert["issuedAt"],
            expires_at=cert["expiresAt"],
            inspected_at=inspection["inspectedAt"] if inspection else None,
        )

    async def current_for(self, homestay_ids: list[str]) -> list[Certificate | None]:
        found = {
            c["homestayId"]: documents.certificate(c)
            async for c in self.db.certificates.find(
                {"homestayId": {"$in": homestay_ids}, "current": True}
            )
        }
        return [found.get(i) for i in homestay_ids]
