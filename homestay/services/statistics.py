"""Figures for the bureau console, each one aggregation in the database.

Every pipeline starts with a $match on county (and a period where it applies) that an index
serves; what comes back to Python is already grouped: a few rows per county, month, inspector
or checklist item, never the documents themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from homestay.domain.certificates import LAPSING_VALUES, Listed
from homestay.domain.grades import Grade
from homestay.domain.grading import ItemKind, Standard
from homestay.domain.inspections import InspectionStatus
from homestay.errors import BadUserInput
from homestay.services import standards
from homestay.storage.database import Database

TIMEZONE = "+08:00"  # months are counted in China Standard Time, as the bureau counts them


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive

    def match(self, field: str) -> dict:
        return {field: {"$gte": self.start, "$lt": self.end}}


async def listed_counts(db: Database, counties: Sequence[str], now: datetime) -> list[dict]:
    """Listed certificates (the public's rule) by county and grade, in that order."""
    rows = await (
        await db.certificates.aggregate(
            [
                {"$match": {**Listed(now).mongo(), "county": {"$in": list(counties)}}},
                {"$group": {"_id": {"county": "$county", "grade": "$grade"}, "count": {"$sum": 1}}},
            ]
        )
    ).to_list()
    counts = [{**r["_id"], "count": r["count"]} for r in rows]
    return sorted(counts, key=lambda c: (c["county"], Grade(c["grade"]).rank))


async def certificate_counts(db: Database, counties: Sequence[str], now: datetime) -> list[dict]:
    """County x grade x status as of now (a VALID or SUSPENDED one past expiry is EXPIRED)."""
    status_now = {
        "$cond": [
            {"$and": [{"$in": ["$status", LAPSING_VALUES]}, {"$lte": ["$expiresAt", now]}]},
            "EXPIRED",
            "$status",
        ]
    }
    rows = await (
        await db.certificates.aggregate(
            [
                {"$match": {"county": {"$in": list(counties)}}},
                {
                    "$group": {
                        "_id": {"county": "$county", "grade": "$grade", "status": status_now},
                        "count": {"$sum": 1},
                    }
                },
            ]
        )
    ).to_list()
    return [{**r["_id"], "count": r["count"]} for r in rows]


def _month(field: str) -> dict:
    return {"$dateToString": {"format": "%Y-%m", "date": field, "timezone": TIMEZONE}}


async def monthly_changes(db: Database, counties: Sequence[str], period: Period) -> list[dict]:
    """Per county and month: certificates issued, suspended and revoked."""
    issued = await (
        await db.certificates.aggregate(
            [
                {"$match": {"county": {"$in": list(counties)}, **period.match("issuedAt")}},
                {
                    "$group": {
                        "_id": {"county": "$county", "month": _month("$issuedAt")},
                        "n": {"$sum": 1},
                    }
                },
            ]
        )
    ).to_list()
    events = await (
        await db.certificates.aggregate(
            [
                {
                    "$match": {
                        "county": {"$in": list(counties)},
                        "history.action": {"$in": ["SUSPEND", "REVOKE"]},
                    }
                },
                {"$unwind": "$history"},
                {
                    "$match": {
                        "history.action": {"$in": ["SUSPEND", "REVOKE"]},
                        **period.match("history.at"),
                    }
                },
                {
                    "$group": {
                        "_id": {
                            "county": "$county",
                            "month": _month("$history.at"),
                            "action": "$history.action",
                        },
                        "n": {"$sum": 1},
                    }
                },
            ]
        )
    ).to_list()
    table: dict[tuple[str, str], dict] = defaultdict(
        lambda: {"issued": 0, "suspended": 0, "revoked": 0}
    )
    for r in issued:
        table[r["_id"]["county"], r["_id"]["month"]]["issued"] = r["n"]
    for r in events:
        column = "revoked" if r["_id"]["action"] == "REVOKE" else "suspended"
        table[r["_id"]["county"], r["_id"]["month"]][column] = r["n"]
    return [
        {"county": county, "month": month, **counts}
        for (county, month), counts in sorted(table.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]


async def inspector_counts(db: Database, counties: Sequence[str], period: Period) -> list[dict]:
    """Per inspector and county: inspections submitted, approved, rejected, awaiting review,
    their average total points, and how many were submitted far from the homestay."""

    def count_if(condition: dict) -> dict:
        return {"$sum": {"$cond": [condition, 1, 0]}}

    rows = await (
        await db.inspections.aggregate(
            [
                {"$match": {"county": {"$in": list(counties)}, **period.match("submittedAt")}},
                {
                    "$group": {
                        "_id": {"inspector": "$inspector.id", "county": "$county"},
                        "name": {"$last": "$inspector.name"},
                        "submitted": {"$sum": 1},
                        "approved": count_if({"$eq": ["$status", InspectionStatus.APPROVED.value]}),
                        "rejected": count_if({"$eq": ["$status", InspectionStatus.REJECTED.value]}),
                        "pending": count_if({"$eq": ["$status", InspectionStatus.SUBMITTED.value]}),
                        "far": count_if({"$eq": ["$farFromHomestay", True]}),
                        "averagePoints": {"$avg": "$totalPoints"},
                    }
                },
            ]
        )
    ).to_list()
    out = [
        {
            "inspectorId": r["_id"]["inspector"],
            "county": r["_id"]["county"],
            **{
                k: r[k]
                for k in (
                    "name",
                    "submitted",
                    "approved",
                    "rejected",
                    "pending",
                    "far",
                    "averagePoints",
                )
            },
        }
        for r in rows
    ]
    return sorted(out, key=lambda r: (r["county"], -r["submitted"], r["name"]))


async def section_averages(
    db: Database, counties: Sequence[str], period: Period, standard: Standard
) -> list[dict]:
    """Average points per section over the APPROVED inspections made under `standard`.

    The database sums points per checklist item; the item-to-section map (a few dozen
    items) is applied here."""
    rows = await (
        await db.inspections.aggregate(
            [
                {
                    "$match": {
                        "county": {"$in": list(counties)},
                        **period.match("submittedAt"),
                        "status": InspectionStatus.APPROVED.value,
                        "standard.code": standard.code,
                        "standard.version": standard.version,
                    }
                },
                {"$unwind": "$results"},
                {"$match": {"results.points": {"$type": "number"}}},
                {
                    "$group": {
                        "_id": "$results.itemCode",
                        "points": {"$sum": "$results.points"},
                        "answers": {"$sum": 1},
                    }
                },
            ]
        )
    ).to_list()
    by_item = {r["_id"]: r for r in rows}
    inspections = max((r["answers"] for r in rows), default=0)
    sections = []
    for section in standard.sections:
        items = [
            i for i in standard.items if i.section == section.code and i.kind is ItemKind.SCORED
        ]
        if not items:
            continue
        total = sum(by_item.get(i.code, {}).get("points", 0) for i in items)
        sections.append(
            {
                "section": section.code,
                "title": section.title,
                "maxPoints": sum(i.max_points or 0 for i in items),
                "inspections": inspections,
                "averagePoints": round(total / inspections, 2) if inspections else None,
            }
        )
    return sections


async def concern_counts(db: Database, counties: Sequence[str], period: Period) -> list[dict]:
    """Guests' concerns reported in the period, per county, month, category and outcome."""
    rows = await (
        await db.concerns.aggregate(
            [
                {"$match": {"county": {"$in": list(counties)}, **period.match("reportedAt")}},
                {
                    "$group": {
                        "_id": {
                            "county": "$county",
                            "month": _month("$reportedAt"),
                            "category": "$category",
                            "status": "$status",
                        },
                        "count": {"$sum": 1},
                    }
                },
            ]
        )
    ).to_list()
    return sorted(
        ({**r["_id"], "count": r["count"]} for r in rows),
        key=lambda r: (r["month"], r["county"], r["category"], r["status"]),
    )


async def appeal_counts(db: Database, counties: Sequence[str], period: Period) -> list[dict]:
    """Operators' appeals filed in the period, per county, month, what was appealed and its
    outcome so far (OPEN, UPHELD, OVERTURNED)."""
    rows = await (
        await db.appeals.aggregate(
            [
                {"$match": {"county": {"$in": list(counties)}, **period.match("appealedAt")}},
                {
                    "$group": {
                        "_id": {
                            "county": "$county",
                            "month": _month("$appealedAt"),
                            "subject": "$subject",
                            "status": "$status",
                        },
                        "count": {"$sum": 1},
                    }
                },
            ]
        )
    ).to_list()
    return sorted(
        ({**r["_id"], "count": r["count"]} for r in rows),
        key=lambda r: (r["month"], r["county"], r["subject"], r["status"]),
    )


class StatisticsService:
    """The figures above, for the resolvers: one aggregation each, run only when asked."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def listed(self, counties: Sequence[str], now: datetime) -> list[dict]:
        return await listed_counts(self.db, counties, now)

    async def certificates(self, counties: Sequence[str], now: datetime) -> list[dict]:
        return await certificate_counts(self.db, counties, now)

    async def monthly(self, counties: Sequence[str], period: Period) -> list[dict]:
        return await monthly_changes(self.db, counties, period)

    async def inspectors(self, counties: Sequence[str], period: Period) -> list[dict]:
        return await inspector_counts(self.db, counties, period)

    async def concerns(self, counties: Sequence[str], period: Period) -> list[dict]:
        return await concern_counts(self.db, counties, period)

    async def appeals(self, counties: Sequence[str], period: Period) -> list[dict]:
        return await appeal_counts(self.db, counties, period)

    async def sections(
        self, counties: Sequence[str], period: Period, code: str | None, version: int | None
    ) -> list[dict]:
        """Section averages under a standard (the current one by default)."""
        standard = await standards.find(self.db, code, version)
        if standard is None:
            raise BadUserInput("standardVersion", "no such grading standard or version")
        return await section_averages(self.db, counties, period, standard)
