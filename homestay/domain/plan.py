"""The re-inspection plan's rule: which reasons apply to a certificated homestay. Pure.

Risk-based thinking (ISO 9001:2015): check more often where risk is higher. Each reason has a
weight, a setting; a homestay's priority is the sum of the weights of its reasons.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from homestay.clock import china_date
from homestay.domain.certificates import Certificate, CertificateStatus
from homestay.domain.concerns import ConcernCategory, ConcernTally
from homestay.domain.grades import Grade


class Reason(Enum):
    EXPIRED = "EXPIRED"
    EXPIRING = "EXPIRING"
    STALE_INSPECTION = "STALE_INSPECTION"
    NEAR_THRESHOLD = "NEAR_THRESHOLD"
    RECENT_SUSPENSION = "RECENT_SUSPENSION"
    FAR_INSPECTION = "FAR_INSPECTION"
    OPEN_CONCERNS = "OPEN_CONCERNS"
    REQUEST_WAITING = "REQUEST_WAITING"


@dataclass(frozen=True)
class PlanSettings:
    """Weights (points of priority) and the limits that trigger each reason."""

    expired_weight: int = 100
    expiring_weight: int = 60
    expiring_days: int = 90
    stale_weight: int = 30
    stale_days: int = 365
    near_threshold_weight: int = 40
    near_threshold_points: int = 10
    suspension_weight: int = 50
    suspension_days: int = 365
    far_weight: int = 35
    far_days: int = 365
    # a concern the bureau substantiated adds its category's weight, up to concern_max_weight;
    # an unreviewed one concern_unreviewed_percent of it, once per reporter, and all of them
    # together at most concern_unreviewed_max_weight (below an expired certificate's)
    concern_safety_weight: int = 60
    concern_hygiene_weight: int = 30
    concern_misrepresentation_weight: int = 25
    concern_price_weight: int = 10
    concern_service_weight: int = 10
    concern_other_weight: int = 5
    concern_max_weight: int = 150
    concern_unreviewed_percent: int = 25
    concern_unreviewed_max_weight: int = 45
    # a spot check's weight for every certificate in service, before the plan's priority:
    # none is ever out of reach of a draw (domain/spot_checks.py)
    spot_check_floor_weight: int = 10
    # the operator asked to be inspected, and has waited this long
    request_waiting_weight: int = 40
    request_waiting_days: int = 30

    def concern_weight(self, category: ConcernCategory) -> int:
        return int(getattr(self, f"concern_{category.value.lower()}_weight"))

    def unreviewed_concern_weight(self, category: ConcernCategory) -> int:
        return math.ceil(self.concern_weight(category) * self.concern_unreviewed_percent / 100)


@dataclass(frozen=True)
class Finding:
    reason: Reason
    weight: int
    message: dict[str, str]
    at: datetime | None = None


def _day(moment: datetime) -> str:
    return china_date(moment).isoformat()


@dataclass(frozen=True)
class InspectionHistory:
    """What the plan needs of a homestay's inspections: the last one, and the last one (and
    the farthest distance) submitted far from the homestay within far_days."""

    last: datetime | None = None
    last_far: datetime | None = None
    farthest_m: float | None = None


def assess(
    cert: Certificate,
    inspections: InspectionHistory | None,
    thresholds: Mapping[Grade, int] | None,
    now: datetime,
    s: PlanSettings,
    concerns: ConcernTally | None = None,
    requested_at: datetime | None = None,
) -> list[Finding]:
    """Every reason to re-inspect the homestay behind `cert`. Pure. `concerns`: what its
    guests' concerns weigh (domain/concerns.tally)."""
    history = inspections or InspectionHistory()
    found = [
        _expiry(cert, now, s),
        _stale(cert, history, now, s),
        _near_threshold(cert, thresholds, s),
        _recent_suspension(cert, now, s),
        _far_inspection(history, now, s),
        _concerns_finding(concerns, s) if concerns else None,
        request_waiting(requested_at, now, s),
    ]
    return [f for f in found if f is not None]


def _expiry(cert: Certificate, now: datetime, s: PlanSettings) -> Finding | None:
    expires = cert.expires_at
    if cert.status_at(now) is CertificateStatus.EXPIRED:
        return Finding(
            Reason.EXPIRED,
            s.expired_weight,
            {
                "zh": f"证书已于 {_day(expires)} 过期",
                "en": f"the certificate expired on {_day(expires)}",
            },
            expires,
        )
    if expires - now <= timedelta(days=s.expiring_days):
        days = (expires - now).days
        return Finding(
            Reason.EXPIRING,
            s.expiring_weight,
            {
                "zh": f"证书将于 {_day(expires)} 到期(还有 {days} 天)",
                "en": f"the certificate expires on {_day(expires)}, in {days} days",
            },
            expires,
        )
    return None


def _stale(
    cert: Certificate, history: InspectionHistory, now: datetime, s: PlanSettings
) -> Finding | None:
    """The last inspection is the later of any inspection and the certificate's issue."""
    last = max(history.last or cert.issued_at, cert.issued_at)
    if now - last <= timedelta(days=s.stale_days):
        return None
    days = (now - last).days
    return Finding(
        Reason.STALE_INSPECTION,
        s.stale_weight,
        {
            "zh": f"上次检查在 {_day(last)},已过 {days} 天",
            "en": f"last inspected on {_day(last)}, {days} days ago",
        },
        last,
    )


def _near_threshold(
    cert: Certificate, thresholds: Mapping[Grade, int] | None, s: PlanSettings
) -> Finding | None:
    threshold = (thresholds or {}).get(cert.grade)
    points = cert.total_points
    if threshold is None or points is None or not 0 <= points - threshold < s.near_threshold_points:
        return None
    margin = points - threshold
    return Finding(
        Reason.NEAR_THRESHOLD,
        s.near_threshold_weight,
        {
            "zh": f"{points} 分,仅高出{cert.grade.label['zh']}门槛({threshold} 分){margin} 分",
            "en": f"{points} points, only {margin} above the {cert.grade.value.lower()} "
            f"threshold of {threshold}",
        },
    )


def _recent_suspension(cert: Certificate, now: datetime, s: PlanSettings) -> Finding | None:
    recent = [
        (at, why) for at, why in cert.suspensions if now - at <= timedelta(days=s.suspension_days)
    ]
    if not recent:
        return None
    at, why = recent[-1]
    return Finding(
        Reason.RECENT_SUSPENSION,
        s.suspension_weight,
        {"zh": f"{_day(at)} 曾被暂停:{why}", "en": f"suspended on {_day(at)}: {why}"},
        at,
    )


def _far_inspection(history: InspectionHistory, now: datetime, s: PlanSettings) -> Finding | None:
    far_at = history.last_far
    if far_at is None or now - far_at > timedelta(days=s.far_days):
        return None
    meters = round(history.farthest_m or 0)
    return Finding(
        Reason.FAR_INSPECTION,
        s.far_weight,
        {
            "zh": f"{_day(far_at)} 的检查提交地点距民宿 {meters} 米",
            "en": f"an inspection of {_day(far_at)} was submitted {meters} m from the homestay",
        },
        far_at,
    )


def request_waiting(
    requested_at: datetime | None, now: datetime, s: PlanSettings
) -> Finding | None:
    """The operator's request to be inspected, once it has waited too long: a reason for a
    certified homestay and for one that has never been (the most usual asker)."""
    if requested_at is None or now - requested_at < timedelta(days=s.request_waiting_days):
        return None
    days = (now - requested_at).days
    return Finding(
        Reason.REQUEST_WAITING,
        s.request_waiting_weight,
        {
            "zh": f"经营者于 {_day(requested_at)} 申请检查，已等待 {days} 天",
            "en": f"the operator asked to be inspected on {_day(requested_at)}, {days} days ago",
        },
        requested_at,
    )


def _concerns_finding(tally: ConcernTally, s: PlanSettings) -> Finding:
    """Substantiated concerns at their category's weight; unreviewed ones at a share of it,
    once per reporter, capped below an expired certificate: a few anonymous reports cannot
    put a stay at the top of the plan, the bureau's review of them can."""
    unreviewed = min(
        s.concern_unreviewed_max_weight,
        sum(s.unreviewed_concern_weight(c) * n for c, n in tally.unreviewed.items()),
    )
    substantiated = sum(s.concern_weight(c) * n for c, n in tally.substantiated.items())
    zh: list[str] = []
    en: list[str] = []
    if tally.substantiated:
        total = sum(tally.substantiated.values())
        zh.append(f"经文旅局核实的游客反映 {total} 件（{_listed(tally.substantiated, 'zh', s)}）")
        en.append(
            f"{total} concern{'s' if total > 1 else ''} substantiated by the bureau "
            f"({_listed(tally.substantiated, 'en', s)})"
        )
    if tally.unreviewed:
        guests = sum(tally.unreviewed.values())
        zh.append(
            f"{guests} 位游客的反映待核实（{_listed(tally.unreviewed, 'zh', s)}），"
            f"核实前按类别权重的 {s.concern_unreviewed_percent}% 计、每位游客计一次、"
            f"合计不超过 {s.concern_unreviewed_max_weight} 分"
        )
        en.append(
            f"unreviewed concerns from {guests} guest{'s' if guests > 1 else ''} "
            f"({_listed(tally.unreviewed, 'en', s)}), weighed at "
            f"{s.concern_unreviewed_percent}% of their category, once per guest, at most "
            f"{s.concern_unreviewed_max_weight} points until the bureau reviews them"
        )
    return Finding(
        Reason.OPEN_CONCERNS,
        min(s.concern_max_weight, unreviewed + substantiated),
        {"zh": "；".join(zh), "en": "; ".join(en)},
    )


def _listed(counts: Mapping[ConcernCategory, int], lang: str, s: PlanSettings) -> str:
    ordered = sorted(counts.items(), key=lambda cn: (-s.concern_weight(cn[0]), cn[0].value))
    if lang == "zh":
        return "、".join(f"{c.label['zh']} {n} 件" for c, n in ordered)
    return ", ".join(f"{n} {c.label['en']}" for c, n in ordered)
