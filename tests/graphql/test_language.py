"""Accept-Language as phones and browsers send it."""

from __future__ import annotations

import pytest

from homestay.graphql.context import language


@pytest.mark.parametrize(("header", "lang"), [
    (None, "zh"), ("", "zh"), ("zh-CN", "zh"), ("en", "en"),
    ("en;q=0.1, zh-CN", "zh"),  # a weight decides, not the order
    ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
    ("zh-TW", "zh"), ("zh-Hans-CN", "zh"), ("en-GB", "en"), ("EN-gb", "en"),
    ("fr, en;q=0.5", "en"),  # French is not ours: the next one that is
    ("fr, de", "zh"), ("*", "zh"), ("en;q=0", "zh"), ("en;q=abc", "zh"),
    ("zh;q=0.5, en;q=0.5", "zh"),  # equals: the first
    ("en ; q = 0.8 , zh ; q=0.9", "zh"),
])
def test_the_preferred_language_among_ours(header: str | None, lang: str) -> None:
    assert language(header) == lang


async def test_labels_follow_the_weighted_preference(api):
    query = '{ verifyCertificate(number: "x") { found } gradingStandard { title } }'
    english = await api.raw(query, headers={"Accept-Language": "fr-FR, en-GB;q=0.8"})
    chinese = await api.raw(query, headers={"Accept-Language": "en;q=0.1, zh-CN"})
    assert english["data"]["gradingStandard"]["title"] != \
        chinese["data"]["gradingStandard"]["title"]
