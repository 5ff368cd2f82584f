"""How the schema's fields are executed: graphql-core's executor, with a short road for the
fields most answers are made of.

A search page of 20 stays is about 280 fields, 160 of them plain attributes of a scalar or
enum type (a name, a latitude, a certificate's number). graphql-core executes each as it
executes any field: it builds a ResolveInfo, calls strawberry's resolver for plain fields
(which calls getattr), asks whether the value is awaitable, then completes it through the
generic path, about 30,000 instructions a field. Here a field that strawberry itself resolves
by getattr alone (no resolver, no field extension or permission, the default resolver) and
whose type is a scalar or an enum is read and coerced at once: the same attribute, the same
coercion (`coerce_output_value`, as graphql-core's `complete_leaf_value` calls it). Anything
else, and anything unexpected on the way (None for a non-null field, an exception, a value
that does not coerce), takes graphql-core's own road, which reports it as it always does.
Schema extensions that wrap every resolver (strawberry runs them as middleware) turn the
short road off.

An object read the same way (a stay's `location`, its `county`) whose selected fields are all
such plain fields is answered as a whole on the same road: graphql-core would complete it as
an object (its sub-selection collected, each field executed and completed: ~40 of a page's
~100 objects). Its sub-selection is still collected by graphql-core (fragments, @skip and
@include as always); a sub-field that is not plain, a @defer, or anything unexpected sends
the whole object down graphql-core's road.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
    is_non_null_type,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter


@dataclass(frozen=True, slots=True)
class _Leaf:
    attribute: str
    type: GraphQLLeafType
    nullable: bool


@dataclass(frozen=True, slots=True)
class _Object:
    attribute: str
    type: GraphQLObjectType
    nullable: bool


# what the short road returns for a field it leaves to graphql-core's road
_OFF_ROAD = object()

_LEAVES: WeakKeyDictionary[
    GraphQLSchema, tuple[dict[tuple[str, str], _Leaf], dict[tuple[str, str], _Object]]
] = WeakKeyDictionary()


def plain_leaves(schema: GraphQLSchema) -> dict[tuple[str, str], _Leaf]:
    """(type name, field name) -> the attribute read, for every field strawberry resolves by
    getattr alone whose type is a scalar or an enum."""
    return _plain(schema)[0]


def plain_objects(schema: GraphQLSchema) -> dict[tuple[str, str], _Object]:
    """The same for fields whose type is an object type (not a list, an interface nor a
    union, and without an is_type_of check)."""
    return _plain(schema)[1]


def _plain(
    schema: GraphQLSchema,
) -> tuple[dict[tuple[str, str], _Leaf], dict[tuple[str, str], _Object]]:
    leaves, objects = {}, {}
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if (
                definition is None
                or not getattr(definition, "is_basic_field", False)
                or getattr(definition, "default_resolver", None) is not getattr
                # the resolver strawberry makes for exactly such a field
                or getattr(field.resolve, "__name__", "") != "_get_basic_result"
            ):
                continue
            non_null = is_non_null_type(field.type)
            inner = field.type.of_type if non_null else field.type
            if is_leaf_type(inner):
                leaves[(type_.name, name)] = _Leaf(definition.python_name, inner, not non_null)
            elif isinstance(inner, GraphQLObjectType) and inner.is_type_of is None:
                objects[(type_.name, name)] = _Object(definition.python_name, inner, not non_null)
    return leaves, objects


class Execution(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain = _LEAVES.get(self.schema)
        if plain is None:
            plain = _LEAVES[self.schema] = _plain(self.schema)
        manager = self.middleware_manager
        wrapped = manager is not None and manager.middlewares
        self._leaves, self._objects = ({}, {}) if wrapped else plain

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        key = (parent_type.name, field_details_list[0].node.name.value)
        answer: Any = _OFF_ROAD
        try:
            leaf = self._leaves.get(key)
            if leaf is not None:
                answer = self._leaf(leaf, source)
            elif (plain_object := self._objects.get(key)) is not None:
                answer = self._plain_object(plain_object, source, field_details_list)
        except Exception:  # noqa: S110 - graphql-core's road below reports it, located
            pass
        if answer is not _OFF_ROAD:
            return answer
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _leaf(self, leaf: _Leaf, source: Any) -> Any:
        """The field's value, coerced; _OFF_ROAD when graphql-core must judge it (None for
        a non-null field, an exception, an awaitable, a value that does not coerce)."""
        value = getattr(source, leaf.attribute)
        if value is None:
            return None if leaf.nullable else _OFF_ROAD
        if isinstance(value, Exception) or self.is_awaitable(value):
            return _OFF_ROAD
        coerced = leaf.type.coerce_output_value(value)
        return _OFF_ROAD if coerced is None or coerced is Undefined else coerced

    def _plain_object(self, plain: _Object, source: Any, field_details_list: Any) -> Any:
        """The object's selected fields, when all are plain and read well; else _OFF_ROAD
        (and for the object itself what _leaf says of a leaf)."""
        value = getattr(source, plain.attribute)
        if value is None:
            return None if plain.nullable else _OFF_ROAD
        if isinstance(value, Exception) or self.is_awaitable(value):
            return _OFF_ROAD
        grouped, deferred, _ = self.collect_subfields(plain.type, field_details_list)
        if deferred:
            return _OFF_ROAD
        answer: dict[str, Any] = {}
        for response_key, details in grouped.items():
            leaf = self._leaves.get((plain.type.name, details[0].node.name.value))
            item = _OFF_ROAD if leaf is None else self._leaf(leaf, value)
            if item is _OFF_ROAD:
                return _OFF_ROAD
            answer[response_key] = item
        return answer
