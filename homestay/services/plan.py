"""The re-inspection plan: where inspectors should go next, and why (risk-based thinking).

Each homestay holding a certificate (VALID or SUSPENDED, expired or not) is given the reasons
that apply to it; its priority is the sum of their weights, which are settings. Homestays with
no reason are not in the plan. The order is priority, then the nearest expiry, then the
certificate number, so the same data always gives the same plan and a cursor stays stable.

A plan is per county: it reads the county's current certificates (one indexed find), one
aggregation of its inspections and one of its open concerns, so its cost grows with a
county's size (thousands), never with the province's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from homestay.domain.certificates import LAPSING_VALUES, Certificate
from homestay.domain.listings import Homestay
from homestay.domain.plan import (
    Finding,
    InspectionHistory,
    PlanSettings,
    assess,
    request_waiting,
)
from homestay.errors import BadUserInput
from homestay.services.concerns import ConcernService
from homestay.services.pagination import decode_cursor, encode_cursor
from homestay.services.requests import open_requests_since
from homestay.storage import documents
from homestay.storage.database import Database

# where a homestay with no certificate sorts among equals: after every expiry
_NO_EXPIRY = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass
class PlanEntry:
    certificate: Certificate | None  # None: a homestay never certified (or no longer) that asked
    findings: list[Finding] = field(default_factory=list)
    homestay: Homestay | None = None  # when there is no certificate to carry its listing

    @property
    def priority(self) -> int:
        return sum(f.weight for f in self.findings)

    @property
    def key(self) -> tuple:
        if self.certificate is None:
            assert self.homestay is not None
            return (-self.priority, _NO_EXPIRY, self.homestay.id)
        return (-self.priority, self.certificate.expires_at, self.certificate.number)


@dataclass(frozen=True)
class PlanPage:
    entries: list[PlanEntry]
    has_next: bool
    total: int


def cursor_of(entry: PlanEntry) -> str:
    priority, expires, number = entry.key
    return encode_cursor([priority, expires.isoformat(), number])


def _decode(after: str) -> tuple:
    priority, expires, number = decode_cursor(after, (int, str, str))
    try:
        return (priority, datetime.fromisoformat(expires), number)
    except ValueError:
        raise BadUserInput("after", "not a cursor from this list") from None


class PlanService:
    def __init__(self, db: Database, settings: PlanSettings) -> None:
        self.db = db
        self.settings = settings

    async def plan(self, counties: Sequence[str], now: datetime) -> list[PlanEntry]:
        certificates = await self.db.certificates.find(
            {"county": {"$in": list(counties)}, "current": True, "status": {"$in": LAPSING_VALUES}}
        ).to_list()
        far_since = now - timedelta(days=self.settings.far_days)
        recent_far = {
            "$and": [{"$eq": ["$farFromHomestay", True]}, {"$gte": ["$inspectedAt", far_since]}]
        }
        by_homestay = {
            r["_id"]: InspectionHistory(r["last"], r["lastFar"], r["farthest"])
            for r in await (
                await self.db.inspections.aggregate(
                    [
                        {"$match": {"county": {"$in": list(counties)}}},
                        {
                            "$group": {
                                "_id": "$homestayId",
                                "last": {"$max": "$inspectedAt"},
                                "lastFar": {"$max": {"$cond": [recent_far, "$inspectedAt", None]}},
                                "farthest": {
                                    "$max": {
                                        "$cond": [recent_far, "$distanceFromHomestayMeters", None]
                                    }
                                },
                            }
                        },
                    ]
                )
            ).to_list()
        }
        codes = sorted({c["standard"]["code"] for c in certificates})
        thresholds = {  # a handful of standard versions, read as the domain reads them
            (standard.code, standard.version): standard.thresholds
            for standard in map(
                documents.standard,
                await self.db.standards.find({"code": {"$in": codes}}).to_list(),
            )
        }
        concerns = await ConcernService(self.db).tallies(counties, self.settings.concern_weight)
        waiting = await open_requests_since(self.db, counties)
        entries = []
        for cert in certificates:
            record = documents.certificate(cert)
            findings = assess(
                record,
                by_homestay.get(cert["homestayId"]),
                thresholds.get((record.standard_code, record.standard_version)),
                now,
                self.settings,
                concerns.get(cert["homestayId"]),
                waiting.get(cert["homestayId"]),
            )
            if findings:
                entries.append(PlanEntry(record, findings))
        # a homestay with no certificate in service that asked and waits: the plan too
        covered = {c["homestayId"] for c in certificates}
        overdue = {
            h: f
            for h, at in waiting.items()
            if h not in covered and (f := request_waiting(at, now, self.settings)) is not None
        }
        async for doc in self.db.homestays.find({"_id": {"$in": sorted(overdue)}}):
            entries.append(PlanEntry(None, [overdue[doc["_id"]]], documents.homestay(doc)))
        entries.sort(key=lambda e: e.key)
        return entries

    async def page(
        self, counties: Sequence[str], now: datetime, first: int, after: str | None
    ) -> PlanPage:
        entries = await self.plan(counties, now)
        start = 0
        if after:
            mark = _decode(after)
            start = next((i for i, e in enumerate(entries) if e.key > mark), len(entries))
        chosen = entries[start : start + first]
        return PlanPage(chosen, start + first < len(entries), len(entries))
