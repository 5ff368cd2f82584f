"""Guests' concerns: reported by anyone at the door, answered by the county's bureau.

A report returns a receipt (random, unguessable) that tells its reporter the status and
nothing else; the contact is seen by the bureau only. The same words about the same
certificate on the same China day are one concern (a unique index on their key: a retried or
doubled send returns the first receipt). Each concern keeps who sent it as a pseudonym (a
digest of the sender's network address, never the address), so that the plan counts a
reporter once (domain/concerns.tally): unreviewed concerns weigh a little, substantiated
ones in full.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bson import ObjectId
from bson.errors import InvalidId
from pymongo.errors import DuplicateKeyError

from homestay.auth import Caller, Role
from homestay.clock import china_date, utcnow
from homestay.domain.concerns import (
    MAX_CONTACT,
    MAX_DESCRIPTION,
    Concern,
    ConcernCategory,
    ConcernStatus,
    ConcernTally,
    same_concern_key,
    tally,
)
from homestay.domain.text import check_text
from homestay.errors import UserError, UserErrors
from homestay.services.pagination import newest_first
from homestay.storage import documents
from homestay.storage.database import Database, update_and_read

RECEIPT_PREFIX = "C-"
MAX_PHOTOS = 5
MAX_NOTE = 1000


@dataclass(frozen=True)
class ConcernPage:
    concerns: list[tuple[Concern, str]]  # (concern, cursor)
    has_next: bool
    filter: dict


class ConcernService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def report(
        self,
        number: str,
        category: ConcernCategory,
        description: str,
        contact: str | None,
        photo_ids: Sequence[str] = (),
        reporter: str = "unknown",
    ) -> tuple[Concern, bool]:
        """The concern (the first one, when the same words came already today), and whether
        this call stored it. `reporter`: the sender's address as the limits count it."""
        errors: list[UserError] = []
        photos = await self._guest_photos(errors, photo_ids)
        text = check_text(
            errors,
            ["input", "description"],
            description,
            MAX_DESCRIPTION,
            required=True,
            multiline=True,
        )
        contact = check_text(errors, ["input", "contact"], contact, MAX_CONTACT)
        cert = await self.db.certificates.find_one(
            {"_id": number.strip()}, {"county": 1, "homestayId": 1, "listing.name": 1}
        )
        if cert is None:
            errors.append(
                UserError(
                    ["input", "certificateNumber"],
                    "NOT_FOUND",
                    "no certificate with this number: check the plaque",
                )
            )
        if errors:
            raise UserErrors(errors)
        assert cert is not None and text is not None
        now = utcnow()
        doc = {
            "_id": secrets.token_hex(12),
            "receipt": RECEIPT_PREFIX + secrets.token_urlsafe(12),
            "sameKey": same_concern_key(cert["_id"], text, china_date(now)),
            "certificateNumber": cert["_id"],
            "county": cert["county"],
            "homestayId": cert["homestayId"],
            "homestayName": cert["listing"]["name"],
            "category": category.value,
            "description": text,
            "contact": contact,
            "status": ConcernStatus.OPEN.value,
            "reportedAt": now,
            "resolution": None,
            "photoIds": [str(p) for p in photos],
            "reporter": reporter_pseudonym(reporter),
        }
        try:
            await self.db.concerns.insert_one(doc)
        except DuplicateKeyError:
            first = await self.db.concerns.find_one({"sameKey": doc["sameKey"]})
            if first is None:
                raise
            return documents.concern(first), False
        if photos:  # now the county's bureau may open them, and no other concern cite them
            await self.db.db["uploads.files"].update_many(
                {"_id": {"$in": photos}, "metadata.counties": []},
                {"$set": {"metadata.counties": [cert["county"]]}},
            )
        return documents.concern(doc), True

    async def _guest_photos(self, errors: list[UserError], ids: Sequence[str]) -> list[ObjectId]:
        if len(ids) > MAX_PHOTOS:
            errors.append(
                UserError(["input", "photoIds"], "TOO_MANY", f"at most {MAX_PHOTOS} photos")
            )
            return []
        wanted = []
        for i, raw in enumerate(ids):
            try:
                wanted.append(ObjectId(str(raw)))
            except InvalidId:
                errors.append(
                    UserError(["input", "photoIds", str(i)], "NOT_FOUND", "no photo with this id")
                )
        if not wanted:
            return []
        usable = {
            d["_id"]
            async for d in self.db.db["uploads.files"].find(
                {"_id": {"$in": wanted}, "metadata.forConcern": True, "metadata.counties": []},
                {"_id": 1},
            )
        }
        for i, photo in enumerate(wanted):
            if photo not in usable:
                errors.append(
                    UserError(
                        ["input", "photoIds", str(i)],
                        "NOT_FOUND",
                        "no guest's photo with this id that no concern cites",
                    )
                )
        return wanted

    async def by_receipt(self, receipt: str) -> Concern | None:
        """The concern a receipt was given for; what its reporter is told of it is the
        API's to choose (its status, when it was reported)."""
        if (
            not isinstance(receipt, str)
            or not receipt.startswith(RECEIPT_PREFIX)
            or len(receipt) > 40
        ):
            return None
        found = await self.db.concerns.find_one({"receipt": receipt})
        return documents.concern(found) if found is not None else None

    async def page(
        self,
        caller: Caller,
        county: str | None,
        status: ConcernStatus | None,
        first: int,
        after: str | None,
    ) -> ConcernPage:
        """Newest first, in the caller's counties."""
        caller.require(Role.BUREAU)
        flt: dict = {"county": {"$in": caller.counties_filter(county)}}
        if status is not None:
            flt["status"] = status.value
        page, more = await newest_first(self.db.concerns, flt, "reportedAt", first, after)
        return ConcernPage([(documents.concern(d), c) for d, c in page], more, flt)

    async def get_many(self, ids: list[str]) -> list[Concern | None]:
        found = {
            c["_id"]: documents.concern(c)
            async for c in self.db.concerns.find({"_id": {"$in": ids}})
        }
        return [found.get(i) for i in ids]

    async def count(self, flt: dict) -> int:
        return await self.db.concerns.count_documents(flt)

    async def resolve(
        self, caller: Caller, concern_id: str, status: ConcernStatus, note: str | None
    ) -> Concern:
        caller.require(Role.BUREAU)
        errors: list[UserError] = []
        if status is ConcernStatus.OPEN:
            errors.append(
                UserError(
                    ["input", "status"],
                    "INVALID",
                    "a concern is substantiated, resolved or dismissed",
                )
            )
        note = check_text(errors, ["input", "note"], note, MAX_NOTE, required=True, multiline=True)
        concern = await self.db.concerns.find_one({"_id": concern_id})
        if concern is None:
            raise UserErrors.one(["input", "concernId"], "NOT_FOUND", "no such concern")
        caller.require_county(concern["county"])
        if errors:
            raise UserErrors(errors)
        resolution = {
            "by": {"id": caller.account_id, "name": caller.name},
            "at": utcnow(),
            "note": note,
        }
        before = ConcernStatus(concern["status"])
        if not before.can_become(status):
            raise UserErrors.one(
                ["input", "concernId"],
                "ALREADY_CLOSED",
                f"this concern is already {before.value.lower()}",
            )
        updated = await update_and_read(
            self.db.concerns,
            {"_id": concern_id, "status": before.value},
            {"$set": {"status": status.value, "resolution": resolution}},
        )
        if updated is None:  # decided by someone else meanwhile
            raise UserErrors.one(
                ["input", "concernId"], "ALREADY_CLOSED", "this concern was decided meanwhile"
            )
        return documents.concern(updated)

    async def tallies(
        self, counties: Sequence[str], seriousness: Callable[[ConcernCategory], int]
    ) -> dict[str, ConcernTally]:
        """What weighs in the plan of each homestay's concerns (open and substantiated ones),
        by homestay: one aggregation, grouped by reporter."""
        rows = await (
            await self.db.concerns.aggregate(
                [
                    {
                        "$match": {
                            "county": {"$in": list(counties)},
                            "status": {"$in": [s.value for s in WEIGHING]},
                        }
                    },
                    {
                        "$group": {
                            "_id": {
                                "h": "$homestayId",
                                "s": "$status",
                                "c": "$category",
                                # a concern kept before reporters were: its own reporter
                                "r": {"$ifNull": ["$reporter", "$_id"]},
                            }
                        }
                    },
                ]
            )
        ).to_list()
        by_homestay: dict[str, list[tuple[str, ConcernStatus, ConcernCategory]]] = {}
        for row in rows:
            key = row["_id"]
            by_homestay.setdefault(key["h"], []).append(
                (key["r"], ConcernStatus(key["s"]), ConcernCategory(key["c"]))
            )
        return {h: tally(found, seriousness) for h, found in by_homestay.items()}


WEIGHING = (ConcernStatus.OPEN, ConcernStatus.SUBSTANTIATED)


def reporter_pseudonym(address: str) -> str:
    """Who sent a concern, for counting senders: a digest of their address."""
    return hashlib.sha256(f"concern-reporter\n{address}".encode()).hexdigest()[:24]
