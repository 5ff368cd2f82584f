"""Error codes and masking: a client sees a code and a clear message, never a trace.

Errors raised as ApiError keep their message and code. Errors from parsing or validating the
document are GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED; bad variable values are
BAD_USER_INPUT. A database that does not answer is SERVICE_UNAVAILABLE. Anything else is an
INTERNAL_SERVER_ERROR whose message is replaced, logged with the request id the client gets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import ExecutionResult, GraphQLError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, NetworkTimeout, PyMongoError
from strawberry.extensions import SchemaExtension

from homestay.errors import ApiError, ServiceUnavailable
from homestay.graphql.executor.core import core_schema
from homestay.graphql.scalars import InvalidValue

log = logging.getLogger("homestay.graphql")

_UNAVAILABLE = (ConnectionFailure, NetworkTimeout, ExecutionTimeout)


_VARIABLE = re.compile(r"^Variable '\$(\w+)' (?:got|has) invalid value(?: at \.?([\w.\[\]]+))?")


def _field_of(error: GraphQLError) -> dict:
    """The variable (and the path inside it) that a coercion error is about."""
    match = _VARIABLE.match(error.message)
    if match is None:
        return {}
    variable, path = match.groups()
    return {"field": f"{variable}.{path}" if path else variable}


def classify(error: GraphQLError, executing: bool) -> tuple[str, str, dict]:
    """(code, message for the client, extra extensions) for one error."""
    original: BaseException | None = error.original_error
    while (
        original is not None
        and not isinstance(original, ApiError | PyMongoError)
        and isinstance(getattr(original, "original_error", None), Exception)
    ):
        original = getattr(original, "original_error", None)
    given = (error.extensions or {}).get("code")
    if original is None and given:  # raised with its code by one of our extensions
        return str(given), error.message, {}
    if isinstance(original, ApiError):
        extra = {k: v for k, v in original.extensions.items() if k != "code"}
        return str(original.extensions["code"]), original.message, extra
    if isinstance(original, _UNAVAILABLE) or (
        isinstance(original, PyMongoError) and original.timeout
    ):
        unavailable = ServiceUnavailable("the database is not answering; try again shortly")
        return unavailable.code, unavailable.message, {}
    if isinstance(original, InvalidValue):  # a scalar's own rule, in a literal or a variable
        return "BAD_USER_INPUT", error.message, _field_of(error)
    coercion = error.path is None and error.message.startswith("Variable '$")
    if coercion:
        return "BAD_USER_INPUT", error.message, _field_of(error)
    if original is None or isinstance(original, GraphQLError) or coercion:
        # not raised by a resolver: the document or its variables are wrong
        if not executing:
            code = (
                "GRAPHQL_PARSE_FAILED"
                if error.message.startswith("Syntax Error")
                else "GRAPHQL_VALIDATION_FAILED"
            )
            return code, error.message, {}
        return "BAD_USER_INPUT", error.message, {}
    return "INTERNAL_SERVER_ERROR", "Internal server error", {}


_SUGGESTION = re.compile(r" Did you mean [^?]*\?")


class ErrorCodes(SchemaExtension):
    """Short-circuits a request whose token failed, then codes and masks every error. With
    `hide_suggestions` (introspection off), no message suggests a name of the schema."""

    executing = False

    def __init__(self, hide_suggestions: bool = False) -> None:
        super().__init__()
        self.hide_suggestions = hide_suggestions

    def on_execute(self) -> Iterator[None]:
        self.executing = True
        context = self.execution_context.context
        if getattr(context, "auth_error", None) is not None:
            self.execution_context.result = ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(context.auth_error.message, original_error=context.auth_error)
                ],
            )
        yield

    def on_operation(self) -> Iterator[None]:
        self.executing = False
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        request_id = getattr(self.execution_context.context, "request_id", None)
        masked = []
        for error in result.errors:
            code, message, extra = classify(error, self.executing)
            extensions = {**(error.extensions or {}), **extra, "code": code}
            if code in ("INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE") and request_id:
                extensions["requestId"] = request_id
            if self.hide_suggestions:
                message = _SUGGESTION.sub("", message)
            masked.append(
                GraphQLError(
                    message,
                    nodes=error.nodes,
                    source=error.source,
                    positions=error.positions,
                    path=error.path,
                    extensions=extensions,
                )
            )
        result.errors = masked


def log_errors(errors: list[GraphQLError], request_id: str | None) -> None:
    for error in errors:
        code, _, _ = classify(error, executing=True)
        if code == "INTERNAL_SERVER_ERROR":
            log.error(
                "unexpected error in %s",
                error.path,
                exc_info=error.original_error,
                extra={"request_id": request_id},
            )
        elif code == "SERVICE_UNAVAILABLE":
            log.warning(
                "database unavailable: %s", error.original_error, extra={"request_id": request_id}
            )


class Observed(SchemaExtension):
    """Names the operation for logs and metrics: its type and root fields (names from the
    schema, so the label set stays small whatever clients send), its caller's role, and the
    code of its first error. Listed before ErrorCodes so that it sees the masked codes."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        request = getattr(context, "request", None)
        if request is None:
            return
        state = request.scope.setdefault("state", {})
        state["operation"] = operation_label(self.execution_context)
        state["role"] = context.caller.role.value if context.auth_error is None else "INVALID"
        errors = self.execution_context.result.errors if self.execution_context.result else None
        state["outcome"] = (errors[0].extensions or {}).get("code", "ERROR") if errors else "OK"


def operation_label(execution_context) -> str:
    from graphql import FieldNode, OperationDefinitionNode

    document = execution_context.graphql_document
    if document is None:  # did not parse
        return "invalid"
    schema = core_schema(execution_context.schema)
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        name = execution_context.operation_name
        if name and (definition.name is None or definition.name.value != name):
            continue
        root = schema.get_root_type(definition.operation)
        fields = sorted(
            {
                s.name.value
                for s in definition.selection_set.selections
                if isinstance(s, FieldNode) and root and s.name.value in root.fields
            }
        )
        if not fields:
            return "invalid"
        shown = ",".join(fields[:3]) + (",..." if len(fields) > 3 else "")
        return f"{definition.operation.value} {shown}"
    return "invalid"
