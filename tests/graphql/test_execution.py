"""The short road for plain fields answers exactly what graphql-core's own road answers: the
same values, the same errors at the same paths, and never for a field with a resolver or a
permission."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.permission import BasePermission

from homestay.graphql.execution import Execution, plain_leaves
from homestay.graphql.schema import schema as homestay_schema


@strawberry.enum
class Colour(Enum):
    RED = "RED"
    GREEN = "GREEN"


class Never(BasePermission):
    message = "not for you"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Thing:
    name: str
    nickname: str | None
    colour: Colour
    shade: Colour | None
    count: int
    ratio: float
    when: datetime
    tags: list[str]
    secret: str | None = strawberry.field(permission_classes=[Never], default="hidden")

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


class ExplodingThing(Thing):
    """Its nickname fails when read."""

    @property  # type: ignore[override]
    def nickname(self) -> str | None:
        raise ValueError("the attribute itself failed")

    @nickname.setter
    def nickname(self, value: str | None) -> None:
        pass


@strawberry.type
class Query:
    @strawberry.field
    def things(self) -> list[Thing | None]:
        at = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
        return [
            Thing(
                name="竹隐",
                nickname=None,
                colour=Colour.RED,
                shade=None,
                count=3,
                ratio=0.5,
                when=at,
                tags=["a"],
            ),
            # wrong on purpose: a non-null name that is None, an int that is not one
            Thing(
                name=None,
                nickname="x",
                colour=Colour.GREEN,
                shade=Colour.RED,  # type: ignore[arg-type]
                count="many",
                ratio=1.0,
                when=at,
                tags=[],  # type: ignore[arg-type]
            ),
        ]

    @strawberry.field
    def broken(self) -> list[Thing | None] | None:
        return [
            ExplodingThing(
                name="n",
                nickname=None,
                colour="PURPLE",
                shade="PURPLE",  # type: ignore[arg-type]
                count=1,
                ratio=float("nan"),
                when="yesterday",
                tags=[],  # type: ignore[arg-type]
            )
        ]


DOCUMENT = """{
  things { name nickname colour shade count ratio when tags shout secret alias: name }
  broken { nickname shade ratio }
  b2: broken { colour }
  b3: broken { when }
}"""


def answer(execution_context_class: Any) -> tuple[Any, list[tuple[str, Any]]]:
    schema = strawberry.Schema(query=Query, execution_context_class=execution_context_class)
    result = schema.execute_sync(DOCUMENT)
    errors = sorted((e.message, e.path) for e in result.errors or [])
    return result.data, errors


def test_plain_fields_answer_what_graphql_cores_own_road_answers():
    fast, stock = answer(Execution), answer(None)
    assert fast == stock
    data, errors = fast
    # and what both answer is what a client expects: values, nulls, located errors
    assert data["things"][0]["name"] == "竹隐" and data["things"][0]["alias"] == "竹隐"
    assert data["things"][0]["colour"] == "RED" and data["things"][0]["shade"] is None
    assert data["things"][0]["secret"] is None
    assert data["things"][1] is None  # its non-null name was None
    paths = [path for _, path in errors]
    assert ["things", 1, "name"] in paths and ["things", 0, "secret"] in paths
    assert any(path[:1] == ["broken"] for path in paths)


def test_only_fields_strawberry_resolves_by_getattr_take_the_short_road():
    leaves = plain_leaves(strawberry.Schema(query=Query)._schema)
    assert ("Thing", "name") in leaves and ("Thing", "colour") in leaves
    assert ("Thing", "shout") not in leaves  # a resolver
    assert ("Thing", "secret") not in leaves  # a permission
    assert ("Thing", "tags") not in leaves  # a list
    # in the product's schema: a stay's name is plain, its grade is resolved
    ours = plain_leaves(homestay_schema._schema)
    assert ("Homestay", "name") in ours and ("Homestay", "grade") not in ours
