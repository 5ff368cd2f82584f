"""The short road for plain fields and context-only resolvers answers exactly what
graphql-core's own road answers: the same values, the same errors at the same paths, and never
for a field with an unmarked resolver, an argument, an async resolver or a permission."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.permission import BasePermission

from homestay.graphql.executor.execution import (
    Execution,
    context_only,
    context_only_fields,
    plain_leaves,
    plain_lists,
    plain_objects,
)
from homestay.graphql.schema import schema as homestay_schema


@strawberry.enum
class Colour(Enum):
    RED = "RED"
    GREEN = "GREEN"


class Never(BasePermission):
    message = "not for you"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.interface
class Badged:
    badge: str


@strawberry.type
class Medal(Badged):
    """Of a type with strawberry's own is_type_of (it implements an interface)."""

    metal: str

    @strawberry.field
    @context_only
    def shown(self, info: strawberry.Info) -> str:
        return f"{info.context['lang']}:{self.metal}"


@strawberry.type
class Spot:
    lat: float
    lng: float
    label: str | None = None

    @strawberry.field
    def twice(self) -> float:
        return self.lat * 2


@strawberry.type
class Pair:
    """Plain objects and lists inside a plain object."""

    left: Spot
    right: Spot | None
    spots: list[Spot]
    maybe: list[Spot | None] | None
    medals: list[Medal]
    numbers: list[int]


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
    spot: Spot | None = None
    home: Spot = strawberry.field(default_factory=lambda: Spot(lat=1.0, lng=2.0))
    pair: Pair | None = None

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    @context_only
    def greeting(self, info: strawberry.Info) -> str:
        return f"{info.context['hello']} {self.name.upper()}"  # fails where name is None

    @strawberry.field
    @context_only
    def medal(self, info: strawberry.Info) -> Medal | None:
        return Medal(badge="b", metal=info.context["metal"]) if self.count == 3 else None

    @strawberry.field
    @context_only
    def where(self, info: strawberry.Info) -> str:
        return str(info.path.key)  # more than the context: graphql-core's road answers

    @strawberry.field
    @context_only
    def later(self, info: strawberry.Info) -> Colour:
        async def loaded() -> Colour:
            return Colour.GREEN

        return loaded()  # type: ignore[return-value]  # an awaitable: graphql-core's road

    @strawberry.field
    @context_only
    def asked(self, info: strawberry.Info, twice: bool = False) -> str:
        return self.name * (2 if twice else 1)  # an argument: never on the short road

    @strawberry.field(permission_classes=[Never])
    @context_only
    def guarded(self, info: strawberry.Info) -> str | None:
        return "never shown"


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
                spot=Spot(lat=30.6, lng=119.87, label="竹"),
                pair=Pair(
                    left=Spot(lat=1.0, lng=2.0),
                    right=None,
                    spots=[Spot(lat=3.0, lng=4.0, label="a"), Spot(lat=5.0, lng=6.0)],
                    maybe=[None, Spot(lat=7.0, lng=8.0)],
                    medals=[Medal(badge="b", metal="silver")],
                    numbers=[1, 2],
                ),
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
                # a non-null lat that is None, a home whose lng is not a number
                spot=Spot(lat=None, lng=1.0),  # type: ignore[arg-type]
                home=Spot(lat=1.0, lng="east"),  # type: ignore[arg-type]
                # a list item that is None where none may be, a number that is not one
                pair=Pair(
                    left=Spot(lat=1.0, lng=2.0),
                    right=Spot(lat=1.0, lng=2.0),
                    spots=[Spot(lat=3.0, lng=4.0), None],  # type: ignore[list-item]
                    maybe=None,
                    medals=[],
                    numbers=[1, "two"],  # type: ignore[list-item]
                ),
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


DOCUMENT = """query($no: Boolean = false) {
  things { name nickname colour shade count ratio when tags shout secret alias: name }
  resolved: things {
    greeting medal { badge shown metal } m2: medal { ... on Badged { badge } __typename }
    where later asked(twice: true) guarded
  }
  spots: things {
    spot { lat lng label }
    home { lat where: lng }
    s2: spot { ...Place __typename }
    s3: spot { lat twice }
    s4: spot { lat label @skip(if: true) lng @include(if: $no) }
    home { label }
  }
  pairs: things {
    pair {
      __typename left { lat lng __typename } right { lat }
      spots { lat label twice } maybe { lng }
      medals { badge shown __typename ... on Badged { badge } }
    }
    p2: pair { spots { lat } }
    p3: pair { numbers }
    p4: pair { maybe { lat } left { ...Place } }
  }
  broken { nickname shade ratio }
  b2: broken { colour }
  b3: broken { when }
}
fragment Place on Spot { lat ... on Spot { lng } }"""


async def answer(execution_context_class: Any) -> tuple[Any, list[tuple[str, Any]]]:
    schema = strawberry.Schema(query=Query, execution_context_class=execution_context_class)
    context = {"hello": "你好", "metal": "gold", "lang": "zh"}
    result = await schema.execute(DOCUMENT, context_value=context)
    errors = sorted((e.message, e.path) for e in result.errors or [])
    return result.data, errors


async def test_plain_fields_answer_what_graphql_cores_own_road_answers():
    fast, stock = await answer(Execution), await answer(None)
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
    # plain objects: answered whole, merged selections, fragments, directives; a resolver
    # or __typename inside takes graphql-core's road; bad values fail as they always do
    first = data["spots"][0]
    assert first["spot"] == {"lat": 30.6, "lng": 119.87, "label": "竹"}
    assert first["home"] == {"lat": 1.0, "where": 2.0, "label": None}
    assert first["s2"] == {"lat": 30.6, "lng": 119.87, "__typename": "Spot"}
    assert first["s3"] == {"lat": 30.6, "twice": 61.2} and first["s4"] == {"lat": 30.6}
    assert data["spots"][1] is None  # its home's lng is not a Float
    assert ["spots", 1, "spot", "lat"] in paths and ["spots", 1, "home", "where"] in paths
    # context-only resolvers: their values, objects of is_type_of types, and whatever they
    # cannot answer (more of info, an awaitable, an argument, a permission) as before
    resolved = data["resolved"][0]
    assert resolved["greeting"] == "你好 竹隐"
    assert resolved["medal"] == {"badge": "b", "shown": "zh:gold", "metal": "gold"}
    assert resolved["m2"] == {"badge": "b", "__typename": "Medal"}
    assert resolved["where"] == "where" and resolved["later"] == "GREEN"
    assert resolved["asked"] == "竹隐竹隐" and resolved["guarded"] is None
    assert data["resolved"][1] is None  # its name is None: greeting failed
    assert ["resolved", 1, "greeting"] in paths and ["resolved", 0, "guarded"] in paths
    # plain objects and lists inside plain objects, with __typename and fragments; an item
    # that fails fails as it always does
    pair = data["pairs"][0]["pair"]
    assert pair["__typename"] == "Pair" and pair["right"] is None
    assert pair["left"] == {"lat": 1.0, "lng": 2.0, "__typename": "Spot"}
    assert pair["spots"] == [
        {"lat": 3.0, "label": "a", "twice": 6.0},
        {"lat": 5.0, "label": None, "twice": 10.0},
    ]
    assert pair["maybe"] == [None, {"lng": 8.0}]
    assert pair["medals"] == [{"badge": "b", "shown": "zh:silver", "__typename": "Medal"}]
    assert data["pairs"][0]["p3"] == {"numbers": [1, 2]}
    assert data["pairs"][0]["p4"] == {
        "maybe": [None, {"lat": 7.0}],
        "left": {"lat": 1.0, "lng": 2.0},
    }
    second = data["pairs"][1]  # a pair is nullable: the failures null it, not the thing
    assert second["p2"] is None and second["p3"] is None and second["p4"]["maybe"] is None
    assert ["pairs", 1, "p2", "spots", 1] in paths and ["pairs", 1, "p3", "numbers", 1] in paths


def test_only_fields_strawberry_resolves_by_getattr_take_the_short_road():
    leaves = plain_leaves(strawberry.Schema(query=Query)._schema)
    assert ("Thing", "name") in leaves and ("Thing", "colour") in leaves
    assert ("Thing", "shout") not in leaves  # a resolver
    assert ("Thing", "secret") not in leaves  # a permission
    assert ("Thing", "tags") not in leaves  # a list
    objects = plain_objects(strawberry.Schema(query=Query)._schema)
    assert ("Thing", "spot") in objects and ("Thing", "home") in objects
    assert ("Query", "things") not in objects  # a resolver, and a list
    lists = plain_lists(strawberry.Schema(query=Query)._schema)
    assert ("Pair", "spots") in lists and ("Pair", "medals") in lists
    assert ("Thing", "tags") in lists and ("Query", "things") not in lists
    resolved = context_only_fields(strawberry.Schema(query=Query)._schema)
    assert ("Thing", "greeting") in resolved and ("Thing", "medal") in resolved
    assert ("Medal", "shown") in resolved
    assert ("Thing", "shout") not in resolved  # not marked
    assert ("Thing", "asked") not in resolved  # an argument
    assert ("Thing", "guarded") not in resolved  # a permission
    # in the product's schema: a stay's name is plain, its grade context-only
    ours = plain_leaves(homestay_schema._schema)
    assert ("Homestay", "name") in ours and ("Homestay", "grade") not in ours
    assert ("Homestay", "grade") in context_only_fields(homestay_schema._schema)


def graphql_cores_road(monkeypatch) -> list[list[str | int]]:
    """The paths of the fields graphql-core's own road executes, as they are executed."""
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext as Stock

    executed: list[list[str | int]] = []
    stock = Stock.execute_field

    def recorded(self: Any, parent_type: Any, source: Any, details: Any, path: Any, *rest: Any):
        executed.append(path.as_list())
        return stock(self, parent_type, source, details, path, *rest)

    monkeypatch.setattr(Stock, "execute_field", recorded)
    return executed


async def test_a_page_of_plain_objects_and_lists_is_answered_without_graphql_cores_road(
    monkeypatch,
):
    """What the short road is for: below a resolver's value, plain objects, lists of them
    and context-only resolvers are answered without one field through graphql-core's
    road."""
    executed = graphql_cores_road(monkeypatch)
    schema = strawberry.Schema(query=Query, execution_context_class=Execution)
    result = await schema.execute(
        "{ things { pair { __typename left { lat } spots { lat label } medals { shown } } } }",
        context_value={"lang": "zh"},
    )
    assert result.data["things"][0]["pair"]["medals"] == [{"shown": "zh:silver"}]
    # the first thing's pair on the short road whole; the second's has a None where a spot
    # must be: graphql-core's road answers it, and locates the error
    assert ["things"] in executed and ["things", 0, "pair"] not in executed
    assert not [path for path in executed if path[:2] == ["things", 0]]
    assert ["things", 1, "pair", "spots"] in executed
    assert [e.path for e in result.errors or []] == [["things", 1, "pair", "spots", 1]]


def test_the_private_names_the_short_road_reads_are_where_it_reads_them():
    """Each name of strawberry's that the road relies on, by name: a strawberry release that
    moves one fails here, not in production."""
    import strawberry.schema.schema as strawberry_schema
    from strawberry.schema.schema_converter import GraphQLCoreConverter

    assert hasattr(strawberry_schema, "StrawberryGraphQLCoreExecutionContext")
    assert isinstance(GraphQLCoreConverter.DEFINITION_BACKREF, str)
    graphql_schema = homestay_schema._schema
    name = graphql_schema.type_map["Homestay"].fields["name"]
    assert name.resolve.__name__ == "_get_basic_result"  # strawberry's basic field resolver
    definition = name.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
    assert definition.is_basic_field and definition.default_resolver is getattr
    grade = graphql_schema.type_map["Homestay"].fields["grade"]
    assert grade.resolve.__name__ == "_resolver"
    assert "field_exception_handlers" in grade.resolve.__code__.co_freevars
    is_type_of = graphql_schema.type_map["Homestay"].is_type_of
    assert is_type_of is None or (
        is_type_of.__module__ == GraphQLCoreConverter.__module__
        and is_type_of.__name__ == "is_type_of"
    )


async def test_a_field_that_fails_on_the_short_road_is_counted_and_logged(caplog):
    from types import SimpleNamespace

    from homestay.http.observability import Metrics

    metrics = Metrics()
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(metrics=metrics)))
    context = SimpleNamespace(request=request, lang="zh")
    schema = strawberry.Schema(query=Query, execution_context_class=Execution)
    caplog.set_level(logging.WARNING, logger="homestay.graphql")
    result = await schema.execute("{ things { where } }", context_value=context)
    assert result.errors is None and result.data["things"][0]["where"] == "where"
    counted = metrics.registry.get_sample_value(
        "homestay_graphql_short_road_fallbacks_total", {"field": "Thing.where"}
    )
    assert counted == len(result.data["things"])
    assert any("Thing.where" in r.getMessage() for r in caplog.records)


async def test_a_setting_turns_the_short_road_off(app_with, monkeypatch):
    executed = graphql_cores_road(monkeypatch)
    query = {"query": "{ gradingStandard { code version sections { code } } }"}
    answers = []
    for on in (True, False):
        executed.clear()
        async with await app_with(short_road=on) as client:
            answers.append((await client.post("/graphql", json=query)).json())
        plain = [p for p in executed if p[-1] in ("code", "version")]
        assert bool(plain) is not on  # off: every plain field through graphql-core's road
    assert answers[0] == answers[1] and "errors" not in answers[0]
