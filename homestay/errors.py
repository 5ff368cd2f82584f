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

    def __init__(self, message: str, **extensions: object) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = {"code": self.code, **extensions}


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class BadUserInput(ApiError):
    code = "BAD_USER_INPUT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


class ServiceUnavailable(ApiError):
    code = "SERVICE_UNAVAILABLE"
