"""A document the apps send again is parsed and validated once, and answered as the first
time: the same data, the same errors."""

from __future__ import annotations

import uuid

import strawberry.schema.schema as strawberry_schema
from graphql import parse

import homestay.graphql.executor.documents as documents
from homestay.graphql.executor.documents import Known, KnownDocuments


def _unique(document: str) -> str:
    """A text no other test sent (a comment changes the text, not the document)."""
    return f"# {uuid.uuid4()}\n{document}"


async def test_a_document_sent_again_is_neither_parsed_nor_validated_again(api, monkeypatch):
    parsed, validated = [], []
    parse_ = strawberry_schema.parse
    validate_ = documents.validate
    monkeypatch.setattr(
        strawberry_schema, "parse", lambda *a, **k: parsed.append(1) or parse_(*a, **k)
    )
    monkeypatch.setattr(
        documents, "validate", lambda *a, **k: validated.append(1) or validate_(*a, **k)
    )
    text = _unique(
        "query($lat: Float!) { facilities { code } a: __typename "
        "searchStays(near: {lat: $lat, lng: 119.87}, radiusMeters: 1000) { totalCount } }"
    )
    first = await api.query(text, {"lat": 30.6})
    for _ in range(3):
        assert await api.query(text, {"lat": 30.6}) == first
    assert (len(parsed), len(validated)) == (1, 1)
    assert first["a"] == "Query" and "WIFI" in {f["code"] for f in first["facilities"]}


async def test_errors_are_the_same_every_time(api):
    for text, code in [
        ("{ facilities { code }", "GRAPHQL_PARSE_FAILED"),
        ("{ facilities { noSuchField } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ " + " ".join(["__typename"] * 60) + " }", "QUERY_TOO_COMPLEX"),
    ]:
        text = _unique(text)
        answers = [await api.raw(text) for _ in range(3)]
        assert [a["errors"][0]["extensions"]["code"] for a in answers] == [code] * 3
        assert answers[0]["errors"][0]["message"] == answers[2]["errors"][0]["message"]
        assert all(a.get("data") is None for a in answers)


def test_the_cache_keeps_the_texts_within_its_budget_least_recent_out_first():
    known = KnownDocuments(budget_chars=100)
    entry = Known(parse("{ a }"), ())
    texts = [f"{{ a }} # {i:02d} " + "x" * 20 for i in range(8)]  # 30 characters each
    for text in texts[:3]:
        known.put(text, entry)
    assert known.get(texts[0]) is entry  # read: now the most recent
    known.put(texts[3], entry)  # 120 characters: the least recent goes
    assert known.get(texts[1]) is None
    assert known.get(texts[0]) is entry and known.get(texts[3]) is entry
    for text in texts[4:]:
        known.put(text, entry)
    assert len(known) == 3  # 90 of 100 characters, whatever was sent
    known.put("{ a } #" + "x" * 200, entry)  # longer than the budget: not kept, nothing lost
    assert len(known) == 3
