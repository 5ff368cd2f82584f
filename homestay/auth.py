"""Who is calling: roles, counties, and the opaque bearer tokens that prove it.

A token is shown once when its account is made and stored only as a SHA-256 hash; tokens
carry 256 bits of randomness, so a plain hash (not a slow password hash) is the right tool.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from homestay.errors import Forbidden, Unauthenticated

TOKEN_PREFIX = "hs_"


class Role(Enum):
    PUBLIC = "PUBLIC"
    INSPECTOR = "INSPECTOR"
    BUREAU = "BUREAU"
    # the homestay's own operator: its listing, its requests and appeals, its own records
    OPERATOR = "OPERATOR"


STAFF = frozenset({Role.INSPECTOR, Role.BUREAU})


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Account:
    """An account as stored, without its token's hash: who it is, what it may act on."""

    id: str
    role: Role
    name: str
    counties: tuple[str, ...]
    homestay_ids: tuple[str, ...] = ()  # an OPERATOR's homestays
    created_at: datetime | None = None
    created_by: str | None = None

    def caller(self) -> Caller:
        return Caller(
            self.role,
            self.id,
            self.name,
            frozenset(self.counties),
            self.created_by,
            frozenset(self.homestay_ids),
        )


@dataclass(frozen=True)
class Caller:
    role: Role = Role.PUBLIC
    account_id: str | None = None
    name: str | None = None
    counties: frozenset[str] = field(default_factory=frozenset)
    # the account that made this one (None: an administrator at the command line)
    created_by: str | None = None
    # an OPERATOR's homestays: the only ones it may act on or read privately
    homestays: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    def require(self, *roles: Role) -> None:
        if self.role in roles:
            return
        if self.role is Role.PUBLIC:
            raise Unauthenticated(
                "this operation needs an account's token (Authorization: Bearer ...)"
            )
        wanted = " or ".join(r.value for r in roles)
        raise Forbidden(f"this operation is for {wanted} accounts")

    def operates(self, homestay_id: str) -> bool:
        """The operator of this homestay (staff never are: their power is by county)."""
        return self.role is Role.OPERATOR and homestay_id in self.homestays

    def require_operator_of(self, homestay_id: str) -> None:
        if not self.operates(homestay_id):
            raise Forbidden("your account does not operate this homestay")

    def require_runs_in(self, county: str | None) -> None:
        """An operator's list narrowed to a county: one of its homestays' counties."""
        if county is not None and county not in self.counties:
            raise Forbidden(f"your account runs no homestay in county {county}")

    def can_act_in(self, county: str) -> bool:
        return self.is_staff and county in self.counties

    def require_county(self, county: str) -> None:
        if not self.can_act_in(county):
            raise Forbidden(f"your account does not act for county {county}")

    def counties_filter(self, county: str | None) -> list[str]:
        """The counties a staff list may show: the one asked for (if it is ours) or all ours."""
        if county is not None:
            self.require_county(county)
            return [county]
        return sorted(self.counties)


PUBLIC = Caller()
