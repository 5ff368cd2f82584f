"""The grading rule and the checks on a filled-in checklist. Pure: no I/O, no clock.

The recommended grade is the highest grade g such that every MANDATORY item with
requiredFor <= g passed and the total points reach g's threshold; None when even STANDARD is
not reached. For every grade above the result, the blockers say what kept the homestay from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from homestay.domain.grades import ALL_GRADES, Grade


class ItemKind(Enum):
    MANDATORY = "MANDATORY"
    SCORED = "SCORED"


@dataclass(frozen=True)
class ChecklistItem:
    code: str
    section: str
    kind: ItemKind
    title: Mapping[str, str]
    max_points: int | None = None
    required_for: Grade | None = None


@dataclass(frozen=True)
class Section:
    code: str
    title: Mapping[str, str]


@dataclass(frozen=True)
class Standard:
    code: str
    version: int
    items: Sequence[ChecklistItem]
    thresholds: Mapping[Grade, int]
    title: Mapping[str, str] = field(default_factory=dict)
    sections: Sequence[Section] = ()

    @property
    def key(self) -> str:
        """How inspections name the version they were filled in against."""
        return f"{self.code}@{self.version}"

    @property
    def max_points(self) -> int:
        return sum(item.max_points or 0 for item in self.items if item.kind is ItemKind.SCORED)

    def section_title(self, code: str) -> Mapping[str, str] | None:
        return next((s.title for s in self.sections if s.code == code), None)

    def item(self, code: str) -> ChecklistItem | None:
        return next((item for item in self.items if item.code == code), None)


@dataclass(frozen=True)
class Answer:
    item_code: str
    passed: bool | None = None
    points: int | None = None


class BlockerKind(Enum):
    MANDATORY_FAILED = "MANDATORY_FAILED"
    POINTS_SHORT = "POINTS_SHORT"


@dataclass(frozen=True)
class Blocker:
    grade: Grade
    kind: BlockerKind
    item_code: str | None = None
    missing_points: int | None = None


@dataclass(frozen=True)
class Outcome:
    total_points: int
    max_points: int
    recommended: Grade | None
    blockers: tuple[Blocker, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submitted checklist; `index` is the position in `results`."""

    code: str
    message: str
    index: int | None = None
    field: str | None = None


def _form_problems(item: ChecklistItem, answer: Answer, index: int) -> list[Problem]:
    """A pass/fail item takes `passed` only; a scored item takes points within its range."""
    problems: list[Problem] = []
    if item.kind is ItemKind.MANDATORY:
        if answer.passed is None:
            problems.append(
                Problem("REQUIRED", f"item {item.code} is pass/fail: give passed", index, "passed")
            )
        if answer.points is not None:
            problems.append(
                Problem(
                    "NOT_SCORED",
                    f"item {item.code} is pass/fail and takes no points",
                    index,
                    "points",
                )
            )
    else:
        assert item.max_points is not None
        if answer.points is None:
            problems.append(
                Problem(
                    "REQUIRED",
                    f"item {item.code} is scored: give points from 0 to {item.max_points}",
                    index,
                    "points",
                )
            )
        elif not 0 <= answer.points <= item.max_points:
            problems.append(
                Problem(
                    "OUT_OF_RANGE",
                    f"item {item.code} takes 0 to {item.max_points} points, not {answer.points}",
                    index,
                    "points",
                )
            )
        if answer.passed is not None:
            problems.append(
                Problem(
                    "NOT_MANDATORY",
                    f"item {item.code} is scored and takes no pass/fail",
                    index,
                    "passed",
                )
            )
    return problems


def check_answers(standard: Standard, answers: Sequence[Answer]) -> list[Problem]:
    """Every item answered exactly once, in the right form, points within range."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, answer in enumerate(answers):
        item = standard.item(answer.item_code)
        if item is None:
            problems.append(
                Problem(
                    "UNKNOWN_ITEM",
                    f"no item {answer.item_code!r} in {standard.code} v{standard.version}",
                    index,
                    "itemCode",
                )
            )
            continue
        if answer.item_code in seen:
            problems.append(
                Problem(
                    "DUPLICATE_ITEM",
                    f"item {answer.item_code} is answered more than once",
                    index,
                    "itemCode",
                )
            )
        seen.add(answer.item_code)
        problems += _form_problems(item, answer, index)
    missing = [item.code for item in standard.items if item.code not in seen]
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        problems.append(
            Problem(
                "MISSING_ITEMS",
                f"{len(missing)} item(s) of {standard.code} "
                f"v{standard.version} not answered: {shown}",
            )
        )
    return problems


def grade_checklist(standard: Standard, answers: Iterable[Answer]) -> Outcome:
    """Apply the rule to a checklist that passed check_answers()."""
    by_code = {answer.item_code: answer for answer in answers}
    total = sum(
        by_code[item.code].points or 0
        for item in standard.items
        if item.kind is ItemKind.SCORED and item.code in by_code
    )
    failed = [
        item
        for item in standard.items
        if item.kind is ItemKind.MANDATORY
        and not (item.code in by_code and by_code[item.code].passed)
    ]

    def blockers_for(grade: Grade) -> list[Blocker]:
        found = [
            Blocker(grade, BlockerKind.MANDATORY_FAILED, item_code=item.code)
            for item in failed
            if item.required_for is not None and item.required_for <= grade
        ]
        threshold = standard.thresholds[grade]
        if total < threshold:
            found.append(Blocker(grade, BlockerKind.POINTS_SHORT, missing_points=threshold - total))
        return found

    recommended: Grade | None = None
    blockers: list[Blocker] = []
    for grade in ALL_GRADES:
        reasons = blockers_for(grade)
        if reasons:
            blockers.extend(reasons)
        elif not blockers:
            # grades are cumulative: a grade counts only when every grade below it is reached
            recommended = grade
    return Outcome(total, standard.max_points, recommended, tuple(blockers))


@dataclass(frozen=True)
class OpenItem:
    """An item still to fix: a failed mandatory one, or a scored one with points open."""

    item: ChecklistItem
    points_open: int | None = None  # SCORED only


@dataclass(frozen=True)
class GradeTodo:
    """What stands between a checklist and one grade above the one it reached."""

    grade: Grade
    missing_points: int  # to the grade's threshold; 0 when the points suffice
    mandatory: tuple[OpenItem, ...]  # failed, required for this grade
    scored: tuple[OpenItem, ...]  # the most points open first, enough to cover missing_points


def to_reach(standard: Standard, answers: Iterable[Answer]) -> list[GradeTodo]:
    """For every grade above the one the checklist reaches, the to-do list: the failed
    mandatory items it requires, and the scored items with the most points still open, as
    many as it takes to make up the points missing (in the standard's order among equals).
    Derived from the same rule as grade_checklist, never by hand."""
    answers = list(answers)
    outcome = grade_checklist(standard, answers)
    by_code = {answer.item_code: answer for answer in answers}
    open_scored = sorted(
        (
            OpenItem(
                item,
                (item.max_points or 0)
                - (by_code[item.code].points or 0 if item.code in by_code else 0),
            )
            for item in standard.items
            if item.kind is ItemKind.SCORED
        ),
        key=lambda o: -(o.points_open or 0),
    )
    todos = []
    for grade in ALL_GRADES:
        if outcome.recommended is not None and grade <= outcome.recommended:
            continue
        missing = max(0, standard.thresholds[grade] - outcome.total_points)
        mandatory = tuple(
            OpenItem(item)
            for item in standard.items
            if item.kind is ItemKind.MANDATORY
            and item.required_for is not None
            and item.required_for <= grade
            and not (item.code in by_code and by_code[item.code].passed)
        )
        chosen: list[OpenItem] = []
        covered = 0
        for candidate in open_scored:
            if covered >= missing or not candidate.points_open:
                break
            chosen.append(candidate)
            covered += candidate.points_open
        todos.append(GradeTodo(grade, missing, mandatory, tuple(chosen)))
    return todos
