from __future__ import annotations

import pytest

from homestay.services.accounts import revoke_account
from tests.conftest import gid, key

ME = "{ me { id name role counties { code name } } }"
CREATE = """mutation($input: CreateAccountInput!) { createAccount(input: $input) {
  account { id name role counties { code } } token errors { field code message } } }"""


async def test_me_is_the_calling_account_and_null_for_the_public(api, inspector):
    me = (await api.query(ME, token=inspector.token))["me"]
    assert me == {
        "id": gid("Account", inspector.id),
        "name": "Inspector Wang",
        "role": "INSPECTOR",
        "counties": [{"code": "330521", "name": "德清县"}],
    }
    assert (await api.query(ME))["me"] is None


@pytest.mark.parametrize("header", ["Bearer hs_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer"])
async def test_a_bad_token_is_unauthenticated_even_for_public_queries(api, header):
    body = await api.raw("{ gradingStandard { code } }", headers={"Authorization": header})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_revoked_token_stops_working_at_once(api, db, inspector):
    assert (await api.query(ME, token=inspector.token))["me"]["id"] == gid("Account", inspector.id)
    assert await revoke_account(db, inspector.id)
    assert await api.error_code(ME, token=inspector.token) == "UNAUTHENTICATED"


async def test_tokens_are_stored_only_as_hashes(db, inspector):
    stored = await db.accounts.find_one({"_id": inspector.id})
    assert inspector.token not in str(stored)
    assert len(stored["tokenHash"]) == 64


async def test_the_bureau_creates_accounts_for_its_county_only(api, bureau):
    made = (
        await api.query(
            CREATE,
            {"input": {"role": "INSPECTOR", "name": "New Inspector", "counties": ["330521"]}},
            bureau.token,
        )
    )["createAccount"]
    assert made["errors"] == [] and made["token"].startswith("hs_")
    me = (await api.query(ME, token=made["token"]))["me"]
    assert me["name"] == "New Inspector" and me["role"] == "INSPECTOR"
    code = await api.error_code(
        CREATE, {"input": {"role": "INSPECTOR", "name": "x", "counties": ["330523"]}}, bureau.token
    )
    assert code == "FORBIDDEN"


async def test_only_the_bureau_creates_accounts(api, inspector):
    variables = {"input": {"role": "INSPECTOR", "name": "x", "counties": ["330521"]}}
    assert await api.error_code(CREATE, variables) == "UNAUTHENTICATED"
    assert await api.error_code(CREATE, variables, inspector.token) == "FORBIDDEN"


@pytest.mark.parametrize(
    ("input", "field", "code"),
    [
        ({"role": "PUBLIC", "name": "x", "counties": ["330521"]}, ["role"], "NOT_ALLOWED"),
        ({"role": "BUREAU", "name": "x", "counties": ["330521"]}, ["role"], "NOT_ALLOWED"),
        ({"role": "INSPECTOR", "name": " ", "counties": ["330521"]}, ["name"], "REQUIRED"),
        (
            {"role": "INSPECTOR", "name": "王\u202e五", "counties": ["330521"]},
            ["name"],
            "INVALID_CHARACTER",
        ),
        ({"role": "INSPECTOR", "name": "x", "counties": []}, ["counties"], "REQUIRED"),
    ],
)
async def test_bad_accounts_are_named(api, bureau, db, input, field, code):
    before = await db.accounts.count_documents({})
    made = (await api.query(CREATE, {"input": input}, bureau.token))["createAccount"]
    assert [(e["field"], e["code"]) for e in made["errors"]] == [(field, code)]
    assert made["token"] is None
    assert await db.accounts.count_documents({}) == before


async def test_every_account_records_who_made_it(api, db, bureau):
    made = (
        await api.query(
            CREATE,
            {"input": {"role": "INSPECTOR", "name": "New", "counties": ["330521"]}},
            bureau.token,
        )
    )["createAccount"]
    stored = await db.accounts.find_one({"_id": key(made["account"]["id"])})
    assert stored["createdBy"] == bureau.id
    assert (await db.accounts.find_one({"_id": bureau.id}))[
        "createdBy"
    ] == "administrator (command line)"
