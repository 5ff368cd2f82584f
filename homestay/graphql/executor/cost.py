"""What a query costs, priced before it runs: a budget per caller, and a lane for the costly.

The price is an upper bound computed from the document and its variables: every field the
answer could hold counts one, times the size of every list it sits in (objects x fields).
A connection's list is as long as its `first` argument (20 when absent, as in the
resolvers); other lists have a known bound (LIST_BOUNDS) or DEFAULT_LIST_BOUND; a list of
scalars is one field. A search page of 20 stays with 20 fields each costs ~440.

Budgets (settings): an anonymous caller may spend `cost_public` a query, which no tourist
app reaches (its largest, a map's clusters or a page of 100 stays, cost ~2,500-6,500) but
a dozen aliased searches of 100 stays do; an account `cost_account`. A query over its budget
is refused before anything runs (QUERY_TOO_COSTLY, with `cost` and `limit`).

An anonymous query costing more than HEAVY runs in the costly lane: at most `lane_size` at
once in this process, waiting at most LANE_WAIT_S for a place and refused with
SERVICE_UNAVAILABLE (Retry-After) after that. Whatever many addresses send, the event loop
gives costly anonymous work at most that share, and everyone else's requests go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
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

from homestay.graphql.executor.core import core_schema

DEFAULT_PAGE = 20
MAX_PAGE = 100
DEFAULT_LIST_BOUND = 20
HEAVY = 1_000  # an anonymous query past this runs in the costly lane
LANE_WAIT_S = 5.0
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
    ("Query", "stayClusters"): 256,  # search/clusters.MAX_CLUSTERS
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
        """The fields an answer to `selection_set` on `parent` could hold."""
        total = 0
        for node in self._fields(selection_set):
            field = parent.fields.get(node.name.value)
            if field is None:  # __typename, introspection: one field
                total += 1
                continue
            named = get_named_type(field.type)
            if isinstance(named, GraphQLInterfaceType):  # node(s): the costliest it may be
                kinds = self.schema.get_possible_types(named)
            elif isinstance(named, GraphQLObjectType):
                kinds = [named]
            else:
                total += 1  # a scalar, or a list of them: one field
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


class CostLane:
    """The costly lane of one process: at most `size` costly anonymous queries at once."""

    def __init__(self, size: int) -> None:
        self._places = asyncio.Semaphore(size)

    async def enter(self) -> bool:
        """A place, within LANE_WAIT_S; False when none came free."""
        try:
            await asyncio.wait_for(self._places.acquire(), LANE_WAIT_S)
        except TimeoutError:
            return False
        return True

    def leave(self) -> None:
        self._places.release()


def _refusal(message: str, **extensions: Any) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions=extensions)])


class CostLimit(SchemaExtension):
    """Prices the operation before it runs (QUERY_TOO_COSTLY past the caller's budget) and
    runs a costly anonymous one in the lane."""

    def __init__(self, *, public: int, account: int, lane: CostLane) -> None:
        super().__init__()
        self.public = public
        self.account = account
        self.lane = lane

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.result is not None or context.graphql_document is None:
            yield
            return
        cost = query_cost(
            core_schema(context.schema),
            context.graphql_document,
            context.operation_name,
            context.variables,
        )
        request = getattr(context.context, "request", None)
        if request is not None:  # the view encodes a large answer off the event loop
            request.state.cost = cost
        anonymous = getattr(context.context, "caller", None) is None or (
            context.context.caller.account_id is None
        )
        limit = self.public if anonymous else self.account
        if cost > limit:
            context.result = _refusal(
                f"this query could return up to {cost} fields; the limit is {limit}"
                + (" without a token" if anonymous else "")
                + ": ask for smaller pages, fewer fields or fewer aliases",
                code="QUERY_TOO_COSTLY",
                cost=cost,
                limit=limit,
            )
            yield
            return
        if not anonymous or cost <= HEAVY:
            yield
            return
        if not await self.lane.enter():
            context.result = _refusal(
                "too many costly queries are running; send it again shortly",
                code="SERVICE_UNAVAILABLE",
                retryAfter=2,
            )
            yield
            return
        try:
            yield
        finally:
            self.lane.leave()
