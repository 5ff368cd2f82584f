"""How the schema's fields are executed: graphql-core's executor, with a short road for the
fields most answers are made of.

A search page of 20 stays is about 280 fields, 160 of them plain attributes of a scalar or
enum type (a name, a latitude, a certificate's number). graphql-core executes each as it
executes any field: it builds a ResolveInfo, calls strawberry's resolver for plain fields
(which calls getattr), asks whether the value is awaitable, then completes it through the
generic path. Here a field that strawberry itself resolves
by getattr alone (no resolver, no field extension or permission, the default resolver) and
whose type is a scalar or an enum is read and coerced at once: the same attribute, the same
coercion (`coerce_output_value`, as graphql-core's `complete_leaf_value` calls it). Anything
else, and anything unexpected on the way (None for a non-null field, an exception, a value
that does not coerce), takes graphql-core's own road, which reports it as it always does.
Schema extensions that wrap every resolver (strawberry runs them as middleware) turn the
short road off.

An object read the same way (a search's `edges`, each edge's `node`, a stay's `location`,
its `county`), or a list of such objects or of scalars, whose selected fields are all on
this road (plain, context-only, plain objects and lists in turn, `__typename`) is answered
as a whole on the same road: graphql-core would complete it as an object (its
sub-selection collected, each field executed and completed: a page of 20 stays is ~100
objects). Its sub-selection is still collected by graphql-core (fragments, @skip and
@include as always); a sub-field that is not on the road, a @defer, any directive on a list
field (@stream), or anything unexpected sends the whole field down graphql-core's road
(docs/performance.md says what each part saves).

A resolver marked `@context_only` (it reads nothing of `info` but `info.context`, takes no
argument, is not async, has no extension or permission) is called at once with the context
alone, and its value answered as a plain field's or a plain object's is: a search hit's
`grade`, `certificate` and the certificate's `status`, 60 of a page's fields, each of which
strawberry's road gave an Info, its arguments parsed, its extensions chained. An object such a
resolver returns may be of a type with strawberry's own is_type_of (an isinstance check),
which is asked as graphql-core would. A resolver that returns an awaitable (the value must
be loaded), reads anything else of `info`, or fails, takes graphql-core's road, which calls
it again as it always does (an unawaited coroutine is closed first): such a resolver must
have no side effect.

Contained: the road reads strawberry's own names (StrawberryGraphQLCoreExecutionContext,
GraphQLCoreConverter.DEFINITION_BACKREF, the basic field resolver `_get_basic_result`, the
resolver `_resolver` and its `field_exception_handlers`), which only a compatible release
of strawberry keeps (pyproject pins one; tests/graphql/executor/test_execution.py names each and
fails when one moves). `HOMESTAY_SHORT_ROAD=off` turns it off (`build_schema(short_road=)`),
and a field that fails on it is logged and counted in /metrics
(homestay_graphql_short_road_fallbacks_total) before graphql-core's road answers it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLLeafType,
    GraphQLList,
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


@dataclass(frozen=True, slots=True)
class _List:
    attribute: str
    item: GraphQLLeafType | GraphQLObjectType
    nullable: bool
    items_nullable: bool


@dataclass(frozen=True, slots=True)
class _Resolved:
    resolver: Callable[..., Any]
    type: GraphQLLeafType | GraphQLObjectType
    nullable: bool


@dataclass(frozen=True, slots=True)
class _Roads:
    leaves: dict[tuple[str, str], _Leaf]
    objects: dict[tuple[str, str], _Object]
    lists: dict[tuple[str, str], _List]
    resolved: dict[tuple[str, str], _Resolved]


log = logging.getLogger("homestay.graphql")

# what the short road returns for a field it leaves to graphql-core's road
_OFF_ROAD = object()
_NO_ROADS = _Roads({}, {}, {}, {})

_ROADS: WeakKeyDictionary[GraphQLSchema, _Roads] = WeakKeyDictionary()

R = TypeVar("R", bound=Callable[..., Any])


def context_only(resolver: R) -> R:
    """Marks a resolver that reads nothing of its `info` but `info.context` (put it under
    @strawberry.field): the short road calls it with the request's context alone."""
    resolver._context_only = True  # type: ignore[attr-defined]
    return resolver


class _ContextInfo:
    """What a context-only resolver is given as `info` on the short road: the request's
    context; any other attribute is an AttributeError, which sends the field down
    graphql-core's road with a real Info."""

    __slots__ = ("context",)

    def __init__(self, context: Any) -> None:
        self.context = context


def plain_leaves(schema: GraphQLSchema) -> dict[tuple[str, str], _Leaf]:
    """(type name, field name) -> the attribute read, for every field strawberry resolves by
    getattr alone whose type is a scalar or an enum."""
    return _roads(schema).leaves


def plain_objects(schema: GraphQLSchema) -> dict[tuple[str, str], _Object]:
    """The same for fields whose type is an object type (not an interface nor a union, and
    without an is_type_of check but strawberry's own)."""
    return _roads(schema).objects


def plain_lists(schema: GraphQLSchema) -> dict[tuple[str, str], _List]:
    """The same for fields whose type is a list of such objects, or of scalars or enums."""
    return _roads(schema).lists


def context_only_fields(schema: GraphQLSchema) -> dict[tuple[str, str], _Resolved]:
    """(type name, field name) -> the resolver, for the fields the short road resolves."""
    return _roads(schema).resolved


def _roads(schema: GraphQLSchema) -> _Roads:
    roads = _ROADS.get(schema)
    if roads is None:
        roads = _ROADS[schema] = _find_roads(schema)
    return roads


def _find_roads(schema: GraphQLSchema) -> _Roads:
    roads = _Roads({}, {}, {}, {})
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if definition is None:
                continue
            non_null = is_non_null_type(field.type)
            inner = field.type.of_type if non_null else field.type
            key = (type_.name, name)
            if _plain_field(definition, field.resolve):
                attribute = definition.python_name
                if is_leaf_type(inner):
                    roads.leaves[key] = _Leaf(attribute, inner, not non_null)
                elif _plain_object_type(inner):
                    roads.objects[key] = _Object(attribute, inner, not non_null)
                elif isinstance(inner, GraphQLList):
                    items_non_null = is_non_null_type(inner.of_type)
                    item = inner.of_type.of_type if items_non_null else inner.of_type
                    if is_leaf_type(item) or _plain_object_type(item):
                        roads.lists[key] = _List(attribute, item, not non_null, not items_non_null)
            elif (resolver := _context_only_resolver(definition, field.resolve)) is not None:
                if is_leaf_type(inner) or _plain_object_type(inner):
                    roads.resolved[key] = _Resolved(resolver, inner, not non_null)
    return roads


def _plain_field(definition: Any, resolve: Any) -> bool:
    """A field strawberry resolves by getattr alone."""
    return (
        getattr(definition, "is_basic_field", False)
        and getattr(definition, "default_resolver", None) is getattr
        # the resolver strawberry makes for exactly such a field
        and getattr(resolve, "__name__", "") == "_get_basic_result"
    )


def _context_only_resolver(definition: Any, resolve: Any) -> Callable[..., Any] | None:
    """The function of a field marked @context_only, when strawberry would only have called
    it: no argument, not async, no extension (permissions are one), no exception handler."""
    base = getattr(definition, "base_resolver", None)
    if base is None or not getattr(base.wrapped_func, "_context_only", False):
        return None
    if base.is_async or definition.extensions or definition.arguments:
        return None
    if getattr(resolve, "__name__", "") != "_resolver":
        return None
    handlers = dict(zip(resolve.__code__.co_freevars, resolve.__closure__ or (), strict=True))
    cell = handlers.get("field_exception_handlers")
    if cell is None or cell.cell_contents:
        return None
    return base.wrapped_func


def _plain_object_type(type_: Any) -> bool:
    return isinstance(type_, GraphQLObjectType) and _plain_type_check(type_)


def _plain_type_check(type_: GraphQLObjectType) -> bool:
    """The type has no is_type_of, or strawberry's own (an isinstance check that reads
    nothing of its info)."""
    check = type_.is_type_of
    return check is None or (
        getattr(check, "__module__", "") == GraphQLCoreConverter.__module__
        and getattr(check, "__name__", "") == "is_type_of"
    )


class Execution(StrawberryGraphQLCoreExecutionContext):
    short_road = True  # build_schema(short_road=False) makes a class with it off

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        wrapped = manager is not None and manager.middlewares
        self._roads = _NO_ROADS if wrapped or not self.short_road else _roads(self.schema)
        self._info = _ContextInfo(self.context_value)

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
            answer = self._field(key, source, field_details_list)
        except Exception as exc:  # graphql-core's road below answers it, and reports it located
            self._fell_back(key, exc)
        if answer is not _OFF_ROAD:
            return answer
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _fell_back(self, key: tuple[str, str], exc: Exception) -> None:
        log.warning(
            "the short road failed on %s.%s (%s: %s); graphql-core's road answers it",
            *key,
            type(exc).__name__,
            exc,
        )
        request = getattr(self.context_value, "request", None)
        metrics = getattr(getattr(getattr(request, "app", None), "state", None), "metrics", None)
        if metrics is not None:
            metrics.short_road_fallbacks.labels(f"{key[0]}.{key[1]}").inc()

    def _leaf(self, leaf: _Leaf, source: Any) -> Any:
        return self._leaf_value(leaf.type, leaf.nullable, getattr(source, leaf.attribute))

    def _leaf_value(self, type_: GraphQLLeafType, nullable: bool, value: Any) -> Any:
        """The value, coerced; _OFF_ROAD when graphql-core must judge it (None for a
        non-null field, an exception, an awaitable, a value that does not coerce)."""
        if value is None:
            return None if nullable else _OFF_ROAD
        if isinstance(value, Exception) or self.is_awaitable(value):
            return _OFF_ROAD
        coerced = type_.coerce_output_value(value)
        return _OFF_ROAD if coerced is None or coerced is Undefined else coerced

    def _resolved(self, resolved: _Resolved, source: Any, field_details_list: Any) -> Any:
        value = resolved.resolver(source, info=self._info)
        if self.is_awaitable(value):  # to be loaded: graphql-core's road calls it again
            if inspect.iscoroutine(value):
                value.close()
            return _OFF_ROAD
        if isinstance(resolved.type, GraphQLObjectType):
            return self._object(resolved.type, resolved.nullable, value, field_details_list)
        return self._leaf_value(resolved.type, resolved.nullable, value)

    def _object(
        self, type_: GraphQLObjectType, nullable: bool, value: Any, field_details_list: Any
    ) -> Any:
        """The object's selected fields, when each is on the short road (a plain leaf, object
        or list, a context-only resolver, `__typename`) and reads well; else _OFF_ROAD (and
        for the object itself what _leaf_value says of a leaf, and its type's is_type_of as
        graphql-core asks it)."""
        if value is None:
            return None if nullable else _OFF_ROAD
        if isinstance(value, Exception) or self.is_awaitable(value):
            return _OFF_ROAD
        # strawberry's own is_type_of reads nothing of its info (_plain_type_check)
        if type_.is_type_of is not None and not type_.is_type_of(value, None):  # type: ignore[arg-type]
            return _OFF_ROAD
        grouped, deferred, _ = self.collect_subfields(type_, field_details_list)
        if deferred:
            return _OFF_ROAD
        answer: dict[str, Any] = {}
        for response_key, details in grouped.items():
            item = self._field((type_.name, details[0].node.name.value), value, details)
            if item is _OFF_ROAD:
                return _OFF_ROAD
            answer[response_key] = item
        return answer

    def _field(self, key: tuple[str, str], source: Any, field_details_list: Any) -> Any:
        """The field (type name, field name) of `source` on the short road: a plain leaf,
        `__typename`, a plain object, a plain list, a context-only resolver; _OFF_ROAD for
        any other."""
        roads = self._roads
        if (leaf := roads.leaves.get(key)) is not None:
            return self._leaf(leaf, source)
        if key[1] == "__typename":
            return key[0]
        if (plain := roads.objects.get(key)) is not None:
            value = getattr(source, plain.attribute)
            return self._object(plain.type, plain.nullable, value, field_details_list)
        if (many := roads.lists.get(key)) is not None:
            return self._list(many, getattr(source, many.attribute), field_details_list)
        if (resolved := roads.resolved.get(key)) is not None:
            return self._resolved(resolved, source, field_details_list)
        return _OFF_ROAD

    def _list(self, many: _List, value: Any, field_details_list: Any) -> Any:
        """Each item answered as a plain leaf or object is; _OFF_ROAD if any is not, or
        for what graphql-core must judge: None where not allowed, a value not a list or a
        tuple, a directive on the field (@stream, or any)."""
        if value is None:
            return None if many.nullable else _OFF_ROAD
        if not isinstance(value, list | tuple) or field_details_list[0].node.directives:
            return _OFF_ROAD
        item_type, nullable = many.item, many.items_nullable
        answer = []
        for each in value:
            if isinstance(item_type, GraphQLObjectType):
                item = self._object(item_type, nullable, each, field_details_list)
            else:
                item = self._leaf_value(item_type, nullable, each)
            if item is _OFF_ROAD:
                return _OFF_ROAD
            answer.append(item)
        return answer
