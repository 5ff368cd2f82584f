"""me and createAccount."""

from __future__ import annotations

from datetime import datetime

import strawberry

from homestay.auth import Account as DomainAccount
from homestay.auth import Role as DomainRole
from homestay.errors import UserError as DomainUserError
from homestay.graphql.common import (
    AccountRole,
    County,
    Info,
    Node,
    UserError,
    global_id,
    key_of,
    payload,
)
from homestay.graphql.permissions import IsBureau


@strawberry.type
class Account(Node):
    name: str
    role: AccountRole
    county_codes: strawberry.Private[list[str]]
    created_at: datetime | None = None
    homestay_keys: strawberry.Private[list[str]] = strawberry.field(default_factory=list)

    @strawberry.field(description="The homestays an OPERATOR account runs (ids); empty for staff.")
    def homestay_ids(self) -> list[strawberry.ID]:
        return [global_id("Homestay", key) for key in self.homestay_keys]

    @strawberry.field
    def counties(self, info: Info) -> list[County]:
        return [County.of(code, info.context.lang) for code in self.county_codes]

    @classmethod
    def of(cls, account: DomainAccount) -> Account:
        return cls(
            id=global_id("Account", account.id),
            name=account.name,
            role=account.role,
            county_codes=list(account.counties),
            created_at=account.created_at,
            homestay_keys=list(account.homestay_ids),
        )


@strawberry.input
class CreateAccountInput:
    role: AccountRole
    name: str
    counties: list[str] = strawberry.field(
        default_factory=list,
        description="INSPECTOR: the counties it inspects in. An "
        "OPERATOR's county is that of its homestays.",
    )
    homestay_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="OPERATOR: the homestays it runs, in your counties."
    )


@strawberry.type
class CreateAccountPayload:
    account: Account | None = None
    token: str | None = strawberry.field(
        default=None, description="Shown once; only its hash is stored."
    )
    errors: list[UserError]


@strawberry.type
class AccountQueries:
    @strawberry.field(description="The calling account; null for the public.")
    def me(self, info: Info) -> Account | None:
        caller = info.context.caller
        if caller.account_id is None:
            return None
        return Account(
            id=global_id("Account", caller.account_id),
            name=caller.name or "",
            role=caller.role,
            county_codes=sorted(caller.counties),
            homestay_keys=sorted(caller.homestays),
        )


@strawberry.type
class AccountMutations:
    @strawberry.mutation(permission_classes=[IsBureau])
    async def create_account(self, info: Info, input: CreateAccountInput) -> CreateAccountPayload:
        if input.role not in (DomainRole.INSPECTOR, DomainRole.OPERATOR):
            # a bureau account that could make another could approve its own inspections
            # with it: bureau accounts are an administrator's act, at the command line
            return CreateAccountPayload(
                errors=[
                    UserError.of(
                        DomainUserError(
                            ["role"],
                            "NOT_ALLOWED",
                            "an API token creates INSPECTOR and OPERATOR accounts only; "
                            "BUREAU accounts are made by an administrator: "
                            "homestay account create --role bureau",
                        )
                    )
                ]
            )
        return await payload(
            CreateAccountPayload,
            info.context.services.accounts.create(
                info.context.caller,
                role=input.role,
                name=input.name,
                counties=input.counties,
                homestay_ids=[key_of(h, "Homestay") for h in input.homestay_ids],
            ),
            lambda new: {"account": Account.of(new.account), "token": new.token},
        )
