"""Staff accounts: creation (CLI and createAccount), token authentication, revocation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bson import ObjectId

from homestay.auth import PUBLIC, Account, Caller, Role, hash_token, new_token
from homestay.clock import utcnow
from homestay.domain.gazetteer import gazetteer
from homestay.domain.text import check_text, normalize
from homestay.errors import Unauthenticated, UserError, UserErrors
from homestay.storage import documents
from homestay.storage.database import Database

_BEARER = re.compile(r"^Bearer\s+(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class NewAccount:
    account: Account
    token: str


MAX_OPERATED = 20  # homestays one operator account runs


def validate_account(
    role: str, name: str, counties: Sequence[str], homestay_ids: Sequence[str] = ()
) -> list[UserError]:
    errors: list[UserError] = []
    if role not in (Role.INSPECTOR.value, Role.BUREAU.value, Role.OPERATOR.value):
        errors.append(UserError(["role"], "INVALID", "role must be INSPECTOR, BUREAU or OPERATOR"))
    check_text(errors, ["name"], name, 100, required=True)
    if role == Role.OPERATOR.value:
        if not homestay_ids:
            errors.append(
                UserError(
                    ["homestayIds"], "REQUIRED", "an OPERATOR account runs at least one homestay"
                )
            )
        elif len(homestay_ids) > MAX_OPERATED:
            errors.append(
                UserError(
                    ["homestayIds"], "TOO_MANY", f"at most {MAX_OPERATED} homestays per account"
                )
            )
    elif homestay_ids:
        errors.append(
            UserError(["homestayIds"], "NOT_ALLOWED", "homestayIds are for OPERATOR accounts only")
        )
    if not counties and role != Role.OPERATOR.value:
        errors.append(UserError(["counties"], "REQUIRED", "give at least one county code"))
    for i, code in enumerate(counties):
        if gazetteer().county(code) is None:
            errors.append(
                UserError(["counties", str(i)], "UNKNOWN_COUNTY", f"no county with code {code!r}")
            )
    return errors


# who made an account that no account made: recorded as its creator
ADMINISTRATOR = "administrator (command line)"


async def operated_counties(db: Database, homestay_ids: Sequence[str]) -> list[str]:
    """The counties of the homestays an operator account is to run; UserErrors naming each id
    that is no registered homestay."""
    ids = list(dict.fromkeys(homestay_ids))
    found = {
        d["_id"]: d["county"] async for d in db.homestays.find({"_id": {"$in": ids}}, {"county": 1})
    }
    missing = [
        UserError(["homestayIds", str(i)], "NOT_FOUND", f"no homestay {hid!r}")
        for i, hid in enumerate(homestay_ids)
        if hid not in found
    ]
    if missing:
        raise UserErrors(missing)
    return sorted(set(found.values()))


async def create_account(
    db: Database,
    *,
    role: str,
    name: str,
    counties: Sequence[str] = (),
    homestay_ids: Sequence[str] = (),
    created_by: str = ADMINISTRATOR,
) -> NewAccount:
    """An account. Made by `created_by`: another account's id, or ADMINISTRATOR. An OPERATOR's
    counties are those of its homestays."""
    if role == Role.OPERATOR.value and homestay_ids:
        counties = await operated_counties(db, homestay_ids)
    errors = validate_account(role, name, counties, homestay_ids)
    if errors:
        raise UserErrors(errors)
    token = new_token()
    doc = {
        "_id": str(ObjectId()),
        "name": normalize(name),
        "role": role,
        "counties": sorted(set(counties)),
        "tokenHash": hash_token(token),
        "createdAt": utcnow(),
        "createdBy": created_by,
        "revokedAt": None,
    }
    if role == Role.OPERATOR.value:
        doc["homestayIds"] = list(dict.fromkeys(homestay_ids))
    await db.accounts.insert_one(doc)
    return NewAccount(documents.account(doc), token)


async def revoke_account(db: Database, account_id: str) -> bool:
    result = await db.accounts.update_one(
        {"_id": account_id, "revokedAt": None}, {"$set": {"revokedAt": utcnow()}}
    )
    return result.modified_count == 1


async def accounts_by_id(db: Database, ids: Sequence[str]) -> list[Account | None]:
    """By id, in the order asked (for a DataLoader); the token's hash is never read."""
    found = {
        a["_id"]: documents.account(a)
        async for a in db.accounts.find({"_id": {"$in": list(ids)}}, {"tokenHash": 0})
    }
    return [found.get(i) for i in ids]


def token_of(authorization: str | None) -> str | None:
    """The token an Authorization header carries; None when it carries none (absent or
    blank: the caller is PUBLIC); Unauthenticated when it is not 'Bearer <token>'."""
    if authorization is None or not authorization.strip():
        return None
    match = _BEARER.match(authorization)
    if not match:
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return match.group(1)


async def authenticate(db: Database, authorization: str | None) -> Caller:
    """The caller behind an Authorization header; PUBLIC when it carries no token."""
    token = token_of(authorization)
    if token is None:
        return PUBLIC
    doc = await db.accounts.find_one({"tokenHash": hash_token(token)})
    if doc is None or doc.get("revokedAt") is not None:
        raise Unauthenticated("this token is not valid (unknown or revoked)")
    return documents.account(doc).caller()


class AccountService:
    """Accounts as the API makes them: a bureau account makes INSPECTOR accounts for its
    counties and OPERATOR accounts for homestays of its counties."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def authenticate(self, authorization: str | None) -> Caller:
        """The caller behind an Authorization header; PUBLIC when it carries no token."""
        return await authenticate(self.db, authorization)

    async def create(
        self,
        caller: Caller,
        *,
        role: Role,
        name: str,
        counties: Sequence[str],
        homestay_ids: Sequence[str],
    ) -> NewAccount:
        caller.require(Role.BUREAU)
        if role is Role.OPERATOR:
            if counties:
                raise UserErrors.one(
                    ["counties"],
                    "NOT_ALLOWED",
                    "an OPERATOR's county is that of its homestays; give homestayIds only",
                )
            for code in await operated_counties(self.db, homestay_ids):
                caller.require_county(code)
        else:
            for code in counties:
                caller.require_county(code)
        return await create_account(
            self.db,
            role=role.value,
            name=name,
            counties=counties,
            homestay_ids=homestay_ids,
            created_by=caller.account_id or "",
        )

    async def by_id(self, ids: Sequence[str]) -> list[Account | None]:
        return await accounts_by_id(self.db, ids)
