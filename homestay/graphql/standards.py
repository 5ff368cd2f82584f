"""gradingStandard: the published checklist, for the inspector app to download."""

from __future__ import annotations

import strawberry

from homestay.domain.grades import Grade as DomainGrade
from homestay.domain.grading import ItemKind as DomainItemKind
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
    def from_doc(cls, doc: dict, lang: str) -> GradingStandard:
        return cls(
            id=global_id("GradingStandard", doc["_id"]),
            code=doc["code"],
            version=doc["version"],
            title=localized(doc["title"], lang),
            max_points=doc["maxPoints"],
            sections=[
                ChecklistSection(code=s["code"], title=localized(s["title"], lang))
                for s in doc["sections"]
            ],
            items=[
                ChecklistItem(
                    code=i["code"],
                    section=i["section"],
                    title=localized(i["title"], lang),
                    kind=DomainItemKind(i["kind"]),
                    max_points=i.get("maxPoints"),
                    required_for=DomainGrade(i["requiredFor"]) if i.get("requiredFor") else None,
                )
                for i in doc["items"]
            ],
            thresholds=[
                GradeThreshold(grade=DomainGrade(t["grade"]), min_points=t["minPoints"])
                for t in doc["thresholds"]
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
        doc = await info.context.services.standards.find(code, version)
        return GradingStandard.from_doc(doc, info.context.lang) if doc else None
