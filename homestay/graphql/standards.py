"""gradingStandard: the published checklist, for the inspector app to download."""

from __future__ import annotations

import strawberry

from homestay.domain.grading import Standard
from homestay.graphql.common import Grade, Info, ItemKind, Node, global_id, localized


@strawberry.type
class ChecklistSection:
    code: str
    title: str


@strawberry.type
class ChecklistItem:
    code: str
    section: str
    title: str
    kind: ItemKind
    max_points: int | None = strawberry.field(description="SCORED items: 0 to maxPoints.")
    required_for: Grade | None = strawberry.field(
        description="MANDATORY items: the lowest grade from which the item must pass."
    )


@strawberry.type
class GradeThreshold:
    grade: Grade
    min_points: int


@strawberry.type
class GradingStandard(Node):
    code: str
    version: int
    title: str
    max_points: int
    sections: list[ChecklistSection]
    items: list[ChecklistItem]
    thresholds: list[GradeThreshold]

    @classmethod
    def of(cls, standard: Standard, lang: str) -> GradingStandard:
        return cls(
            id=global_id("GradingStandard", standard.key),
            code=standard.code,
            version=standard.version,
            title=localized(standard.title, lang),
            max_points=standard.max_points,
            sections=[
                ChecklistSection(code=s.code, title=localized(s.title, lang))
                for s in standard.sections
            ],
            items=[
                ChecklistItem(
                    code=i.code,
                    section=i.section,
                    title=localized(i.title, lang),
                    kind=i.kind,
                    max_points=i.max_points,
                    required_for=i.required_for,
                )
                for i in standard.items
            ],
            thresholds=[
                GradeThreshold(grade=grade, min_points=points)
                for grade, points in standard.thresholds.items()
            ],
        )


@strawberry.type
class StandardQueries:
    @strawberry.field(
        description="A grading standard; the newest version of deqing-homestay by default."
    )
    async def grading_standard(
        self, info: Info, code: str | None = None, version: int | None = None
    ) -> GradingStandard | None:
        found = await info.context.services.standards.find(code, version)
        return GradingStandard.of(found, info.context.lang) if found else None
