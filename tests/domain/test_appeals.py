"""The appeal rules: the 30-day window, who may not decide, what overturning undoes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homestay.domain.appeals import AppealSubject, Decision, Remedy, may_decide, remedy

DECIDED = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 2026-03-02 00:00 in China


def _decision(subject=AppealSubject.SUSPENSION) -> Decision:
    return Decision(subject, DECIDED, "officer-1", "Reviewer Li", "certificate:x:1")


def test_an_appeal_is_open_for_thirty_days_to_the_second():
    decision = _decision()
    assert decision.appealable_at(DECIDED + timedelta(days=30) - timedelta(seconds=1))
    assert not decision.appealable_at(DECIDED + timedelta(days=30))


def test_the_maker_of_the_decision_never_decides_its_appeal():
    assert not may_decide("officer-1", _decision())
    assert may_decide("officer-2", _decision())
    assert not may_decide(None, _decision())


def test_overturning_undoes_what_there_is_left_to_undo():
    now = DECIDED + timedelta(days=3)
    later = now + timedelta(days=100)
    assert remedy(AppealSubject.SUSPENSION, later, now) is Remedy.REINSTATE
    assert remedy(AppealSubject.REVOCATION, later, now) is Remedy.RESTORE
    assert remedy(AppealSubject.REVOCATION, now, now) is Remedy.NONE  # expired at this instant
    assert remedy(AppealSubject.SUSPENSION, now - timedelta(days=1), now) is Remedy.NONE
    assert remedy(AppealSubject.REJECTION, None, now) is Remedy.REVIEW_AGAIN
