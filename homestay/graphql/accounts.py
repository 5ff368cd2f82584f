"""me and createAccount."""

from __future__ import annotations

from datetime import datetime

import strawberry

from homestay.auth import Role as DomainRole
from homestay.errors import UserError as DomainUserError
from homestay.graphql.common import AccountRole, County, Info, Node, UserError, global_id, payload
from homestay.graphql.permissions import IsBureau
from homestay.services.accounts import create_account


@strawberry.type
class Account(Node):
    name: str
    role: AccountRole
    county_codes: strawberry.Private[list[str]]
    created_at: datetime | None = None

    @strawberry.field
    def counties(self, info: Info) -> list[County]:
        return [County.of(code, info.context.lang) for code in self.county_codes]

    @classmethod
    def from_doc(cls, doc: dict) -> Account:
        return cls(id=global_id("Account", doc["_id"]), name=doc["name"],
                   role=DomainRole(doc["role"]),
                   county_codes=doc["counties"], created_at=doc.get("createdAt"))


@strawberry.input
class CreateAccountInput:
    role: AccountRole
    name: str
    counties: list[str]


@strawberry.type
class CreateAccountPayload:
    account: Account | None = None
    token: str | None = strawberry.field(
        default=None, description="Shown once; only its hash is stored.")
    errors: list[UserError]


@strawberry.type
class AccountQueries:
    @strawberry.field(description="The calling account; null for the public.")
    def me(self, info: Info) -> Account | None:
        caller = info.context.caller
        if not caller.is_staff or caller.account_id is None:
            return None
        return Account(id=global_id("Account", caller.account_id), name=caller.name or "",
                       role=caller.role,
                       county_codes=sorted(caller.counties))


@strawberry.type
class AccountMutations:
    @strawberry.mutation(permission_classes=[IsBureau])
    async def create_account(self, info: Info, input: CreateAccountInput) -> CreateAccountPayload:
        caller = info.context.caller
        for code in input.counties:
            caller.require_county(code)
        if input.role is not DomainRole.INSPECTOR:
            # a bureau account that could make another could approve its own inspections
            # with it: bureau accounts are an administrator's act, at the command line
            return CreateAccountPayload(errors=[UserError.of(DomainUserError(
                ["role"], "NOT_ALLOWED",
                "an API token creates INSPECTOR accounts only; BUREAU accounts are made "
                "by an administrator: homestay account create --role bureau"))])
        return await payload(
            CreateAccountPayload,
            create_account(info.context.services.db, role=input.role.value, name=input.name,
                           counties=input.counties, created_by=caller.account_id or ""),
            lambda new: {"account": Account.from_doc(new.account), "token": new.token})
