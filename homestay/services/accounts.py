"""Staff accounts: creation (CLI and createAccount), token authentication, revocation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bson import ObjectId

from homestay.auth import PUBLIC, Caller, Role, hash_token, new_token
from homestay.clock import utcnow
from homestay.domain.gazetteer import gazetteer
from homestay.domain.text import check_text, normalize
from homestay.errors import Unauthenticated, UserError, UserErrors
from homestay.storage.database import Database

_BEARER = re.compile(r"^Bearer\s+(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class NewAccount:
    account: dict
    token: str


def validate_account(role: str, name: str, counties: Sequence[str]) -> list[UserError]:
    errors: list[UserError] = []
    if role not in (Role.INSPECTOR.value, Role.BUREAU.value):
        errors.append(UserError(["role"], "INVALID", "role must be INSPECTOR or BUREAU"))
    check_text(errors, ["name"], name, 100, required=True)
    if not counties:
        errors.append(UserError(["counties"], "REQUIRED", "give at least one county code"))
    for i, code in enumerate(counties):
        if gazetteer().county(code) is None:
            errors.append(UserError(["counties", str(i)], "UNKNOWN_COUNTY",
                                    f"no county with code {code!r}"))
    return errors


# who made an account that no account made: recorded as its creator
ADMINISTRATOR = "administrator (command line)"


async def create_account(db: Database, *, role: str, name: str, counties: Sequence[str],
                         created_by: str = ADMINISTRATOR) -> NewAccount:
    """An account. Made by `created_by`: another account's id, or ADMINISTRATOR."""
    errors = validate_account(role, name, counties)
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
    await db.accounts.insert_one(doc)
    return NewAccount(doc, token)


async def revoke_account(db: Database, account_id: str) -> bool:
    result = await db.accounts.update_one(
        {"_id": account_id, "revokedAt": None}, {"$set": {"revokedAt": utcnow()}}
    )
    return result.modified_count == 1


async def accounts_by_id(db: Database, ids: Sequence[str]) -> list[dict | None]:
    """By id, in the order asked (for a DataLoader); the token's hash is never read."""
    found = {a["_id"]: a async for a in db.accounts.find({"_id": {"$in": list(ids)}},
                                                         {"tokenHash": 0})}
    return [found.get(i) for i in ids]


def caller_of(account: dict) -> Caller:
    return Caller(Role(account["role"]), account["_id"], account["name"],
                  frozenset(account["counties"]), account.get("createdBy"))


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
    return caller_of(doc)
