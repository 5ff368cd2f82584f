"""Text from the field is hostile: invisible controls are refused by name, the rest normalized."""

from __future__ import annotations

import pytest

from homestay.domain.text import first_hidden, normalize
from tests.graphql.flows import REGISTER, certify, homestay_input, review, submit

HIDDEN = [
    "\x00",
    "\x07",
    "\x1b[31m",
    "\x85",
    "\u202e",
    "\u2066",
    "\u200b",
    "\u200e",
    "\ufeff",
    "\u2028",
    "\ue000",
]


@pytest.mark.parametrize("char", HIDDEN)
def test_what_a_reader_cannot_see_is_found(char: str) -> None:
    assert first_hidden(f"竹隐{char}山居") == char[0]
    assert first_hidden(f"竹隐{char}山居", multiline=True) == char[0]


def test_a_note_keeps_its_lines_and_is_normalized() -> None:
    assert first_hidden("一楼\n二楼\t三楼", multiline=True) is None
    assert normalize("  一楼\r\n二楼  ", multiline=True) == "一楼\n二楼"
    assert normalize("Cafe\u0301") == "Café" and len(normalize("Cafe\u0301")) == 4


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "竹隐\u202e山居"),
        ("address", "莫干山镇\x00劳岭村"),
        ("town", "莫干山\u200b镇"),
        ("nameEn", "Bamboo\x1b[2J"),
    ],
)
async def test_a_homestay_with_hidden_characters_is_refused_naming_the_field(
    api, inspector, db, field, value
):
    payload = (
        await api.query(REGISTER, {"input": homestay_input(**{field: value})}, inspector.token)
    )["registerHomestay"]
    assert payload["homestay"] is None
    [error] = payload["errors"]
    assert error["field"] == ["input", field] and error["code"] == "INVALID_CHARACTER"
    assert "U+" in error["messageEn"] and "控制字符" in error["message"]
    assert await db.homestays.count_documents({}) == 0


async def test_names_are_stored_normalized_and_trimmed(api, inspector, db):
    payload = (
        await api.query(
            REGISTER, {"input": homestay_input(name="  Cafe\u0301 竹隐  ")}, inspector.token
        )
    )["registerHomestay"]
    assert payload["homestay"]["name"] == "Café 竹隐"
    assert (await db.homestays.find_one({}))["name"] == "Café 竹隐"


async def test_notes_comments_and_reasons_are_checked_too(api, inspector, bureau):
    stay, cert = await certify(api, inspector.token, bureau.token)
    inspection = await submit(api, inspector.token, stay["id"])
    done = await review(api, bureau.token, inspection["id"], "REJECT", "照片\u202e不清")
    assert [(e["field"], e["code"]) for e in done["errors"]] == [
        (["input", "comment"], "INVALID_CHARACTER")
    ]
    suspend = """mutation($n: String!, $r: String!) { suspendCertificate(input:
        {number: $n, reason: $r}) { errors { field code } } }"""
    errors = (await api.query(suspend, {"n": cert["number"], "r": "投诉\x00"}, bureau.token))[
        "suspendCertificate"
    ]["errors"]
    assert errors == [{"field": ["input", "reason"], "code": "INVALID_CHARACTER"}]
