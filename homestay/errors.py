"""The two kinds of failure the API reports.

UserErrors are expected business failures (bad input, conflicts, unknown ids, rule
violations): a mutation returns them in its payload and writes nothing. ApiErrors are about
the request itself (who is calling, malformed arguments, the database being away) and become
GraphQL errors with `extensions.code`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class UserError:
    field: list[str] | None
    code: str
    message: str


class UserErrors(Exception):
    def __init__(self, errors: Sequence[UserError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = list(errors)

    @classmethod
    def one(cls, field: list[str] | str | None, code: str, message: str) -> UserErrors:
        if isinstance(field, str):
            field = field.split(".")
        return cls([UserError(field, code, message)])


class ApiError(Exception):
    code = "INTERNAL_SERVER_ERROR"
    status = 500  # over plain HTTP (downloads, uploads, refusals before GraphQL runs)

    def __init__(self, message: str, **extensions: object) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = {"code": self.code, **extensions}


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"
    status = 401


class Forbidden(ApiError):
    code = "FORBIDDEN"
    status = 403


class NotFound(ApiError):
    code = "NOT_FOUND"
    status = 404


class Gone(ApiError):
    """What was asked existed, and no longer may be had (a revoked certificate's plaque)."""

    code = "GONE"
    status = 410


class FieldError(ApiError):
    """An error about one part of the request, which it names (`extensions.field`)."""

    def __init__(self, field: str, message: str, code: str | None = None) -> None:
        if code:
            self.code = code
        super().__init__(f"{field}: {message}", field=field)


class BadRequest(FieldError):
    """A request that is not of the protocol's form (a body that is no JSON object, ...)."""

    code = "BAD_REQUEST"
    status = 400


class UnsupportedMediaType(FieldError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415


class PayloadTooLarge(FieldError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413


class PersistedQueryNotFound(ApiError):
    """Apollo's protocol: the client sends the document with its hash next."""

    code = "PERSISTED_QUERY_NOT_FOUND"
    status = 200  # a GraphQL answer the client acts on, not a refusal of the request

    def __init__(self) -> None:
        super().__init__("PersistedQueryNotFound")


class RateLimited(ApiError):
    code = "RATE_LIMITED"
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retryAfter=retry_after)
        self.retry_after = retry_after


class BadUserInput(FieldError):
    code = "BAD_USER_INPUT"
    status = 400


class ServiceUnavailable(ApiError):
    code = "SERVICE_UNAVAILABLE"
    status = 503
