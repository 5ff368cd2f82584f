"""The cost limit: a query that could return more objects than MAX_OBJECTS is refused before
it runs, with the figure in the error.

The count is an upper bound computed from the document and its variables: each object field
counts one, times the size of every list it sits in. A connection's list is as long as its
`first` argument (20 when absent, as in the resolvers); other lists have a known bound
(LIST_BOUNDS) or DEFAULT_LIST_BOUND.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

from homestay.graphql.core import core_schema

MAX_OBJECTS = 5000
DEFAULT_PAGE = 20
MAX_PAGE = 100
DEFAULT_LIST_BOUND = 20
# lists whose length is bounded by the data model, not by an argument
LIST_BOUNDS = {
    ("GradingStandard", "items"): 100,
    ("GradingStandard", "thresholds"): 3,
    ("Inspection", "results"): 100,
    ("Inspection", "blockers"): 3,
    ("Statistics", "certificates"): 150,
    ("Statistics", "monthly"): 120,
    ("Statistics", "inspectors"): 100,
    ("Statistics", "sections"): 20,
    ("Statistics", "concerns"): 200,
    ("Query", "nodes"): 100,  # its ids: more are refused by the field itself
    ("Query", "stayClusters"): 256,  # services/stay_index.MAX_CLUSTERS
    ("StayCluster", "counts"): 6,  # a county or two, three grades: a typical cluster
}


def _is_list(type_: Any) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class _Counter:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def _fields(
        self, selection_set: SelectionSetNode | None, seen: frozenset[str] = frozenset()
    ) -> Iterator[FieldNode]:
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from self._fields(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in self.fragments:
                    yield from self._fields(self.fragments[name].selection_set, seen | {name})

    def _first(self, node: FieldNode) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value == "first":
                value = argument.value
                raw = (
                    self.variables.get(value.name.value)
                    if isinstance(value, VariableNode)
                    else value_from_ast_untyped(value, self.variables)
                )
                # a page over MAX_PAGE is refused by the list itself, with its own error
                return min(raw, MAX_PAGE) if isinstance(raw, int) else DEFAULT_PAGE
        return None

    def count(
        self,
        parent: GraphQLObjectType,
        selection_set: SelectionSetNode | None,
        page: int | None = None,
    ) -> int:
        total = 0
        for node in self._fields(selection_set):
            field = parent.fields.get(node.name.value)
            if field is None:  # __typename and introspection: no objects of ours
                continue
            named = get_named_type(field.type)
            if isinstance(named, GraphQLInterfaceType):  # node(s): the costliest it may be
                kinds = self.schema.get_possible_types(named)
            elif isinstance(named, GraphQLObjectType):
                kinds = [named]
            else:
                continue
            first = self._first(node)
            if first is None and named.name.endswith("Connection"):
                first = DEFAULT_PAGE
            size = 1
            if _is_list(field.type):
                if node.name.value == "edges" and page is not None:
                    size = page
                else:
                    size = LIST_BOUNDS.get((parent.name, node.name.value), DEFAULT_LIST_BOUND)
            total += size * (1 + max(self.count(kind, node.selection_set, first) for kind in kinds))
        return total


def query_cost(
    schema: GraphQLSchema,
    document: Any,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> int:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if not operations:
        return 0
    operation = operations[0]
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    return _Counter(schema, fragments, variables or {}).count(root, operation.selection_set)


class CostLimit(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.result is None and context.graphql_document is not None:
            cost = query_cost(
                core_schema(context.schema),
                context.graphql_document,
                context.operation_name,
                context.variables,
            )
            if cost > MAX_OBJECTS:
                context.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            f"this query could return up to {cost} objects; the limit is "
                            f"{MAX_OBJECTS}: ask for smaller pages or fewer nested lists",
                            extensions={
                                "code": "QUERY_TOO_COSTLY",
                                "cost": cost,
                                "limit": MAX_OBJECTS,
                            },
                        )
                    ],
                )
        yield
