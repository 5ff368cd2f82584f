"""Accept-Language as phones and browsers send it."""

from __future__ import annotations

import re

import pytest

from homestay.domain.messages import CHINESE
from homestay.graphql.context import language
from homestay.settings import ROOT
from tests.graphql.flows import homestay_input, register


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "zh"),
        ("", "zh"),
        ("zh-CN", "zh"),
        ("en", "en"),
        ("en;q=0.1, zh-CN", "zh"),  # a weight decides, not the order
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("zh-TW", "zh"),
        ("zh-Hans-CN", "zh"),
        ("en-GB", "en"),
        ("EN-gb", "en"),
        ("fr, en;q=0.5", "en"),  # French is not ours: the next one that is
        ("fr, de", "zh"),
        ("*", "zh"),
        ("en;q=0", "zh"),
        ("en;q=abc", "zh"),
        ("zh;q=0.5, en;q=0.5", "zh"),  # equals: the first
        ("en ; q = 0.8 , zh ; q=0.9", "zh"),
    ],
)
def test_the_preferred_language_among_ours(header: str | None, lang: str) -> None:
    assert language(header) == lang


async def test_labels_follow_the_weighted_preference(api):
    query = '{ verifyCertificate(number: "x") { found } gradingStandard { title } }'
    english = await api.raw(query, headers={"Accept-Language": "fr-FR, en-GB;q=0.8"})
    chinese = await api.raw(query, headers={"Accept-Language": "en;q=0.1, zh-CN"})
    assert (
        english["data"]["gradingStandard"]["title"] != chinese["data"]["gradingStandard"]["title"]
    )


async def test_a_user_error_speaks_the_users_language_and_keeps_both(api, inspector):
    query = """mutation($input: RegisterHomestayInput!) { registerHomestay(input: $input) {
        errors { field code message messageZh messageEn } } }"""
    bad = {"input": homestay_input(rooms=0, county="999999")}
    zh = (await api.raw(query, bad, inspector.token))["data"]["registerHomestay"]["errors"]
    en = (await api.raw(query, bad, inspector.token, headers={"Accept-Language": "en"}))["data"][
        "registerHomestay"
    ]["errors"]
    assert zh and [e["code"] for e in zh] == [e["code"] for e in en]
    for chinese, english in zip(zh, en, strict=True):
        assert chinese["message"] == chinese["messageZh"] == english["messageZh"]
        assert english["message"] == english["messageEn"] == chinese["messageEn"]
        assert re.search(r"[\u4e00-\u9fff]", chinese["message"])
        assert not re.search(r"[\u4e00-\u9fff]", english["message"])
        assert ".".join(chinese["field"]) in chinese["message"]


async def test_the_name_follows_the_language_beside_the_explicit_ones(api, inspector):
    stay = await register(api, inspector.token, name="竹隐山居", nameEn="Bamboo Hideaway")
    query = "query($h: ID!) { homestay(id: $h) { name nameZh nameEn county { name } } }"
    zh = (await api.query(query, {"h": stay["id"]}, inspector.token))["homestay"]
    en = (
        await api.query(
            query, {"h": stay["id"]}, inspector.token, headers={"Accept-Language": "en-GB"}
        )
    )["homestay"]
    assert zh == {
        "name": "竹隐山居",
        "nameZh": "竹隐山居",
        "nameEn": "Bamboo Hideaway",
        "county": {"name": "德清县"},
    }
    assert en["name"] == "Bamboo Hideaway" and en["county"]["name"] == "Deqing County"


def test_every_code_a_service_raises_has_its_chinese_message():
    """A new code without a sentence would reach a Chinese user in English."""
    source = "\n".join(p.read_text() for p in (ROOT / "homestay").rglob("*.py"))
    raised = set(re.findall(r"UserError(?:s\.one)?\(\s*[^,]+,\s*\"([A-Z_]+)\"", source))
    raised |= set(re.findall(r"Problem\(\s*\"([A-Z_]+)\"", source))
    assert raised and raised <= set(CHINESE), raised - set(CHINESE)
