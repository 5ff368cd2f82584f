"""Automatic persisted queries, as Apollo's clients send them, by POST and by GET."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import httpx

from homestay.http.app import create_app

QUERY = "{ gradingStandard { code version } }"
SHA = hashlib.sha256(QUERY.encode()).hexdigest()


def persisted(sha: str = SHA) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha}}


async def test_a_hash_alone_works_once_the_query_was_sent_with_it(api, db):
    unknown = await api.http.post("/graphql", json={"extensions": persisted()})
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert unknown.headers["cache-control"] == "no-store"
    learnt = await api.http.post("/graphql", json={"query": QUERY, "extensions": persisted()})
    assert learnt.json()["data"]["gradingStandard"]["version"] == 1
    by_post = await api.http.post("/graphql", json={"extensions": persisted()})
    assert by_post.json() == learnt.json()
    by_get = await api.http.get("/graphql", params={"extensions": json.dumps(persisted())})
    assert by_get.json() == learnt.json()
    assert by_get.headers["cache-control"] == "public, max-age=30"  # a CDN keeps it by URL
    assert await db.persisted_queries.count_documents({}) == 1


async def test_a_hash_that_is_not_the_querys_is_refused_and_not_learnt(api, db):
    wrong = await api.http.post(
        "/graphql", json={"query": QUERY, "extensions": persisted("0" * 64)}
    )
    assert wrong.status_code == 400
    assert (
        wrong.json()["errors"][0]["extensions"]["field"] == "extensions.persistedQuery.sha256Hash"
    )
    bad = await api.http.post("/graphql", json={"extensions": persisted("nope")})
    assert bad.status_code == 400
    assert await db.persisted_queries.count_documents({}) == 0


async def test_an_anonymous_flood_cannot_fill_the_store(settings, services, db):
    app = create_app(replace(settings, rate_persisted_queries="3/hour"), services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        codes = []
        for i in range(5):
            query = f"{{ q{i}: __typename }}"
            body = (
                await client.post(
                    "/graphql",
                    json={
                        "query": query,
                        "extensions": persisted(hashlib.sha256(query.encode()).hexdigest()),
                    },
                )
            ).json()
            codes.append(body["errors"][0]["extensions"]["code"] if "errors" in body else "OK")
    assert codes == ["OK", "OK", "OK", "RATE_LIMITED", "RATE_LIMITED"]
    assert await db.persisted_queries.count_documents({}) == 3
