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


_LEAVES: WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], _Leaf]] = WeakKeyDictionary()


def plain_leaves(schema: GraphQLSchema) -> dict[tuple[str, str], _Leaf]:
    """(type name, field name) -> the attribute read, for every field strawberry resolves by
    getattr alone whose type is a scalar or an enum."""
    leaves = {}
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
    return leaves


class Execution(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        leaves = _LEAVES.get(self.schema)
        if leaves is None:
            leaves = _LEAVES[self.schema] = plain_leaves(self.schema)
        manager = self.middleware_manager
        self._leaves = leaves if manager is None or not manager.middlewares else {}

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        leaf = self._leaves.get((parent_type.name, field_details_list[0].node.name.value))
        if leaf is not None:
            try:
                value = getattr(source, leaf.attribute)
                if value is None:
                    if leaf.nullable:
                        return None
                elif not isinstance(value, Exception) and not self.is_awaitable(value):
                    coerced = leaf.type.coerce_output_value(value)
                    if coerced is not None and coerced is not Undefined:
                        return coerced
            except Exception:  # noqa: S110 - graphql-core's road below reports it, located
                pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
