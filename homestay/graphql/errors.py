"""Error codes and masking: a client sees a code and a clear message, never a trace.

Errors raised as ApiError keep their message and code. Errors from parsing or validating the
document are GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED; bad variable values are
BAD_USER_INPUT. A database that does not answer is SERVICE_UNAVAILABLE. Anything else is an
INTERNAL_SERVER_ERROR whose message is replaced, logged with the request id the client gets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import ExecutionResult, GraphQLError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, NetworkTimeout, PyMongoError
from strawberry.extensions import SchemaExtension

from homestay.errors import ApiError, ServiceUnavailable

log = logging.getLogger("homestay.graphql")

_UNAVAILABLE = (ConnectionFailure, NetworkTimeout, ExecutionTimeout)


def classify(error: GraphQLError, executing: bool) -> tuple[str, str, dict]:
    """(code, message for the client, extra extensions) for one error."""
    original = error.original_error
    while original is not None and not isinstance(original, ApiError | PyMongoError) and \
            isinstance(getattr(original, "original_error", None), Exception):
        original = original.original_error  # type: ignore[union-attr]
    if isinstance(original, ApiError):
        extra = {k: v for k, v in original.extensions.items() if k != "code"}
        return original.extensions["code"], original.message, extra
    if isinstance(original, _UNAVAILABLE) or (
            isinstance(original, PyMongoError) and original.timeout):
        unavailable = ServiceUnavailable("the database is not answering; try again shortly")
        return unavailable.code, unavailable.message, {}
    coercion = error.path is None and error.message.startswith("Variable '$")
    if original is None or isinstance(original, GraphQLError) or coercion:
        # not raised by a resolver: the document or its variables are wrong
        if not executing:
            code = "GRAPHQL_PARSE_FAILED" if error.message.startswith("Syntax Error") \
                else "GRAPHQL_VALIDATION_FAILED"
            return code, error.message, {}
        return "BAD_USER_INPUT", error.message, {}
    return "INTERNAL_SERVER_ERROR", "Internal server error", {}


class ErrorCodes(SchemaExtension):
    """Short-circuits a request whose token failed, then codes and masks every error."""

    executing = False

    def on_execute(self) -> Iterator[None]:
        self.executing = True
        context = self.execution_context.context
        if getattr(context, "auth_error", None) is not None:
            self.execution_context.result = ExecutionResult(
                data=None, errors=[GraphQLError(context.auth_error.message,
                                                original_error=context.auth_error)])
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
            masked.append(GraphQLError(message, nodes=error.nodes, source=error.source,
                                       positions=error.positions, path=error.path,
                                       extensions=extensions))
        result.errors = masked


def log_errors(errors: list[GraphQLError], request_id: str | None) -> None:
    for error in errors:
        code, _, _ = classify(error, executing=True)
        if code == "INTERNAL_SERVER_ERROR":
            log.error("unexpected error in %s", error.path, exc_info=error.original_error,
                      extra={"request_id": request_id})
        elif code == "SERVICE_UNAVAILABLE":
            log.warning("database unavailable: %s", error.original_error,
                        extra={"request_id": request_id})
