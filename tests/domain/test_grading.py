"""The grading rule as a table of cases, on a small standard whose numbers are easy to follow."""

from __future__ import annotations

import pytest

from homestay.domain.grades import Grade
from homestay.domain.grading import (
    Answer,
    BlockerKind,
    ChecklistItem,
    ItemKind,
    Standard,
    check_answers,
    grade_checklist,
)

S, P, B = Grade.STANDARD, Grade.PREMIUM, Grade.BOUTIQUE

STANDARD = Standard(
    code="t",
    version=1,
    items=(
        ChecklistItem("FIRE", "safety", ItemKind.MANDATORY, {"en": "fire"}, required_for=S),
        ChecklistItem("BATH", "rooms", ItemKind.MANDATORY, {"en": "bath"}, required_for=P),
        ChecklistItem("LANG", "service", ItemKind.MANDATORY, {"en": "lang"}, required_for=B),
        ChecklistItem("ROOM", "rooms", ItemKind.SCORED, {"en": "room"}, max_points=60),
        ChecklistItem("CULT", "culture", ItemKind.SCORED, {"en": "culture"}, max_points=40),
    ),
    thresholds={S: 60, P: 75, B: 90},
)


def answers(fire=True, bath=True, lang=True, room=60, cult=40) -> list[Answer]:
    return [
        Answer("FIRE", passed=fire),
        Answer("BATH", passed=bath),
        Answer("LANG", passed=lang),
        Answer("ROOM", points=room),
        Answer("CULT", points=cult),
    ]


def blockers(outcome) -> list[tuple]:
    return [(b.grade, b.kind, b.item_code, b.missing_points) for b in outcome.blockers]


@pytest.mark.parametrize(
    ("checklist", "grade", "expected_blockers"),
    [
        # everything passed, full points
        (answers(), B, []),
        # thresholds are inclusive
        (answers(room=50, cult=40), B, []),
        (answers(room=50, cult=39), P, [(B, BlockerKind.POINTS_SHORT, None, 1)]),
        (answers(room=45, cult=30), P, [(B, BlockerKind.POINTS_SHORT, None, 15)]),
        (
            answers(room=35, cult=25),
            S,
            [(P, BlockerKind.POINTS_SHORT, None, 15), (B, BlockerKind.POINTS_SHORT, None, 30)],
        ),
        (
            answers(room=30, cult=29),
            None,
            [
                (S, BlockerKind.POINTS_SHORT, None, 1),
                (P, BlockerKind.POINTS_SHORT, None, 16),
                (B, BlockerKind.POINTS_SHORT, None, 31),
            ],
        ),
        # a failed mandatory item caps the grade below its requiredFor, whatever the points
        (answers(lang=False), P, [(B, BlockerKind.MANDATORY_FAILED, "LANG", None)]),
        (
            answers(bath=False),
            S,
            [
                (P, BlockerKind.MANDATORY_FAILED, "BATH", None),
                (B, BlockerKind.MANDATORY_FAILED, "BATH", None),
            ],
        ),
        (
            answers(fire=False),
            None,
            [
                (S, BlockerKind.MANDATORY_FAILED, "FIRE", None),
                (P, BlockerKind.MANDATORY_FAILED, "FIRE", None),
                (B, BlockerKind.MANDATORY_FAILED, "FIRE", None),
            ],
        ),
        # both at once: each grade above the result lists every reason
        (
            answers(bath=False, room=40, cult=30),
            S,
            [
                (P, BlockerKind.MANDATORY_FAILED, "BATH", None),
                (P, BlockerKind.POINTS_SHORT, None, 5),
                (B, BlockerKind.MANDATORY_FAILED, "BATH", None),
                (B, BlockerKind.POINTS_SHORT, None, 20),
            ],
        ),
        (
            answers(fire=False, room=0, cult=0),
            None,
            [
                (S, BlockerKind.MANDATORY_FAILED, "FIRE", None),
                (S, BlockerKind.POINTS_SHORT, None, 60),
                (P, BlockerKind.MANDATORY_FAILED, "FIRE", None),
                (P, BlockerKind.POINTS_SHORT, None, 75),
                (B, BlockerKind.MANDATORY_FAILED, "FIRE", None),
                (B, BlockerKind.POINTS_SHORT, None, 90),
            ],
        ),
    ],
)
def test_grading_rule(checklist, grade, expected_blockers):
    assert check_answers(STANDARD, checklist) == []
    outcome = grade_checklist(STANDARD, checklist)
    assert outcome.recommended == grade
    assert blockers(outcome) == expected_blockers
    assert outcome.max_points == 100
    assert outcome.total_points == sum(a.points or 0 for a in checklist)


def test_same_checklist_always_gives_the_same_grade():
    checklist = answers(bath=False, room=41, cult=33)
    assert {grade_checklist(STANDARD, checklist) for _ in range(5)} == {
        grade_checklist(STANDARD, list(reversed(checklist)))
    }


@pytest.mark.parametrize(
    ("checklist", "codes"),
    [
        (answers()[:-1], ["MISSING_ITEMS"]),
        ([*answers(), Answer("FIRE", passed=True)], ["DUPLICATE_ITEM"]),
        ([*answers(), Answer("NOPE", passed=True)], ["UNKNOWN_ITEM"]),
        (answers(room=61), ["OUT_OF_RANGE"]),
        (answers(room=-1), ["OUT_OF_RANGE"]),
        ([Answer("FIRE"), *answers()[1:]], ["REQUIRED"]),
        ([Answer("FIRE", passed=True, points=3), *answers()[1:]], ["NOT_SCORED"]),
        ([*answers()[:3], Answer("ROOM"), answers()[4]], ["REQUIRED"]),
        ([*answers()[:3], Answer("ROOM", passed=True, points=3), answers()[4]], ["NOT_MANDATORY"]),
    ],
)
def test_bad_checklists_are_named(checklist, codes):
    assert [p.code for p in check_answers(STANDARD, checklist)] == codes


def test_problems_point_at_the_result_and_field():
    problems = check_answers(STANDARD, answers(cult=41))
    assert [(p.index, p.field) for p in problems] == [(4, "points")]
    assert "0 to 40" in problems[0].message
