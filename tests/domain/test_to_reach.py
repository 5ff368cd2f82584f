"""The operator's to-do list: fix what it says, and the grading rule gives that grade."""

from __future__ import annotations

import random

from homestay.domain.grades import ALL_GRADES, Grade
from homestay.domain.grading import Answer, ItemKind, grade_checklist, to_reach
from homestay.storage.documents import standard
from tests.graphql.flows import STANDARD

SEED = standard(STANDARD)


def _random_checklist(rng: random.Random) -> list[Answer]:
    answers = []
    for item in SEED.items:
        if item.kind is ItemKind.MANDATORY:
            answers.append(Answer(item.code, passed=rng.random() > 0.15))
        else:
            answers.append(Answer(item.code, points=rng.randint(0, item.max_points or 0)))
    return answers


def _apply(answers: list[Answer], todo) -> list[Answer]:
    fixed = {o.item.code for o in todo.mandatory}
    added = {o.item.code: o.points_open for o in todo.scored}
    return [
        Answer(
            a.item_code,
            passed=True if a.item_code in fixed else a.passed,
            points=(a.points or 0) + added[a.item_code] if a.item_code in added else a.points,
        )
        for a in answers
    ]


def test_doing_what_the_list_says_reaches_each_grade_above_and_no_less_would():
    rng = random.Random(11)
    for _ in range(300):
        answers = _random_checklist(rng)
        reached = grade_checklist(SEED, answers).recommended
        todos = to_reach(SEED, answers)
        assert [t.grade for t in todos] == [g for g in ALL_GRADES if reached is None or g > reached]
        for todo in todos:
            after = grade_checklist(SEED, _apply(answers, todo)).recommended
            assert after is not None and after >= todo.grade
            opens = [o.points_open for o in todo.scored]
            assert opens == sorted(opens, reverse=True)  # the biggest gains first
            # no item more than needed: without the last one, the points fall short
            if todo.scored:
                assert sum(opens) >= todo.missing_points > sum(opens[:-1])
            else:
                assert todo.missing_points == 0


def test_a_boutique_checklist_has_nothing_left_to_do():
    answers = [
        Answer(i.code, passed=True)
        if i.kind is ItemKind.MANDATORY
        else Answer(i.code, points=i.max_points)
        for i in SEED.items
    ]
    assert grade_checklist(SEED, answers).recommended is Grade.BOUTIQUE
    assert to_reach(SEED, answers) == []
