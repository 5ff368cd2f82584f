"""The re-inspection plan's rule, case by case (pure: the clock is an argument)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homestay.domain.certificates import Certificate
from homestay.domain.grades import Grade
from homestay.domain.plan import InspectionHistory, PlanSettings, Reason, assess
from homestay.storage import documents

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
THRESHOLDS = {Grade.STANDARD: 240, Grade.PREMIUM: 300, Grade.BOUTIQUE: 350}
S = PlanSettings()


def cert(**overrides) -> Certificate:
    """A certificate as stored (these overrides name stored fields), read as the plan reads
    it: through the storage edge."""
    base = {
        "_id": "330521-2026-00001",
        "county": "330521",
        "homestayId": "h1",
        "status": "VALID",
        "grade": "PREMIUM",
        "totalPoints": 330,
        "issuedAt": NOW - timedelta(days=100),
        "expiresAt": NOW + timedelta(days=900),
        "history": [],
    }
    return documents.certificate({**base, **overrides})


def reasons(c: Certificate, inspections: InspectionHistory | None = None) -> list[Reason]:
    return [f.reason for f in assess(c, inspections, THRESHOLDS, NOW, S)]


def test_a_fresh_comfortable_certificate_has_nothing_to_check():
    assert reasons(cert()) == []


def test_expired_and_expiring_are_exclusive_and_bounded_by_the_setting():
    assert reasons(cert(expiresAt=NOW - timedelta(seconds=1))) == [Reason.EXPIRED]
    assert reasons(cert(expiresAt=NOW + timedelta(days=90))) == [Reason.EXPIRING]
    assert reasons(cert(expiresAt=NOW + timedelta(days=91))) == []
    # a suspended certificate past expiry reads EXPIRED too
    assert Reason.EXPIRED in reasons(cert(status="SUSPENDED", expiresAt=NOW - timedelta(days=1)))


def test_near_threshold_counts_points_above_the_grades_own_threshold():
    assert reasons(cert(totalPoints=300)) == [Reason.NEAR_THRESHOLD]  # exactly at it
    assert reasons(cert(totalPoints=309)) == [Reason.NEAR_THRESHOLD]
    assert reasons(cert(totalPoints=310)) == []
    assert reasons(cert(grade="BOUTIQUE", totalPoints=355)) == [Reason.NEAR_THRESHOLD]
    assert reasons(cert(totalPoints=330), None) == []


def test_the_last_inspection_is_the_later_of_any_inspection_and_the_issue():
    old = cert(issuedAt=NOW - timedelta(days=400))
    assert reasons(old) == [Reason.STALE_INSPECTION]
    assert reasons(old, InspectionHistory(last=NOW - timedelta(days=10))) == []


def test_only_recent_suspensions_and_far_inspections_count():
    event = {
        "action": "SUSPEND",
        "at": NOW - timedelta(days=364),
        "by": {"id": "b1", "name": "李审核", "role": "BUREAU"},
        "from": "VALID",
        "to": "SUSPENDED",
        "reason": "投诉",
    }
    assert reasons(cert(history=[event])) == [Reason.RECENT_SUSPENSION]
    stale = {**event, "at": NOW - timedelta(days=366)}
    assert reasons(cert(history=[stale])) == []
    far = InspectionHistory(NOW - timedelta(days=5), NOW - timedelta(days=5), 2400)
    [finding] = assess(cert(), far, THRESHOLDS, NOW, S)
    assert finding.reason is Reason.FAR_INSPECTION and "2400 m" in finding.message["en"]


def test_priority_is_the_sum_of_the_weights():
    findings = assess(
        cert(
            expiresAt=NOW + timedelta(days=10), totalPoints=301, issuedAt=NOW - timedelta(days=1000)
        ),
        None,
        THRESHOLDS,
        NOW,
        S,
    )
    assert (
        sum(f.weight for f in findings)
        == S.expiring_weight + S.near_threshold_weight + S.stale_weight
    )
