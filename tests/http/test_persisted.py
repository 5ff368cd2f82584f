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


def _with_hash(query: str) -> dict:
    return {"query": query, "extensions": persisted(hashlib.sha256(query.encode()).hexdigest())}


async def test_only_documents_of_the_schema_are_learnt_and_refusals_spend_no_quota(
    settings, services, db
):
    app = create_app(replace(settings, rate_persisted_queries="1/hour"), services)
    junk = ["x" * 5_000, "{ noSuchField }", "query { searchStays { edges { node { nope } } } }"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        for query in junk:
            body = (await client.post("/graphql", json=_with_hash(query))).json()
            assert body["errors"][0]["extensions"]["code"] in (
                "GRAPHQL_PARSE_FAILED",
                "GRAPHQL_VALIDATION_FAILED",
            )
            hashed = hashlib.sha256(query.encode()).hexdigest()
            again = (await client.post("/graphql", json={"extensions": persisted(hashed)})).json()
            assert again["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert await db.persisted_queries.count_documents({}) == 0
        # the one registration this address may make an hour is still there for a real one
        body = (await client.post("/graphql", json=_with_hash(QUERY))).json()
        assert body["data"]["gradingStandard"]["version"] == 1
    assert await db.persisted_queries.count_documents({}) == 1


async def test_the_store_is_bounded_by_count_and_bytes_least_recently_used_out_first(
    db, monkeypatch
):
    from homestay.services import persisted as store

    queries = [f"{{ a{i}: __typename }}" for i in range(6)]
    monkeypatch.setattr(store, "USE_RESOLUTION", store.timedelta(0))  # every hit counts
    monkeypatch.setattr(store, "MAX_STORED", 4)
    for query in queries[:4]:
        assert await store.learn(db, store.digest(query), query)
    assert await store.find(db, store.digest(queries[0])) == queries[0]  # used: kept
    await store.learn(db, store.digest(queries[4]), queries[4])
    kept = {d["query"] async for d in db.persisted_queries.find()}
    assert kept == {queries[0], queries[2], queries[3], queries[4]}  # the 2nd was least used
    monkeypatch.setattr(store, "MAX_STORED_BYTES", 3 * len(queries[5]))
    await store.learn(db, store.digest(queries[5]), queries[5])
    assert await db.persisted_queries.count_documents({}) == 3
    assert queries[5] in {d["query"] async for d in db.persisted_queries.find()}


async def test_registrations_are_counted_per_ipv6_64(settings, services):
    app = create_app(replace(settings, rate_persisted_queries="2/hour"), services)

    def client_at(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 443))
        return httpx.AsyncClient(transport=transport, base_url="http://t")

    codes = []
    for i, address in enumerate(["2001:db8:5:6::1", "2001:db8:5:6::2", "2001:db8:5:6:ff::9"]):
        async with client_at(address) as client:
            body = (
                await client.post("/graphql", json=_with_hash(f"{{ p{i}: __typename }}"))
            ).json()
            codes.append(body["errors"][0]["extensions"]["code"] if "errors" in body else "OK")
    async with client_at("2001:db8:5:7::1") as client:  # the next /64: another subscriber
        body = (await client.post("/graphql", json=_with_hash("{ q: __typename }"))).json()
        codes.append("OK" if "errors" not in body else body["errors"][0]["extensions"]["code"])
    assert codes == ["OK", "OK", "RATE_LIMITED", "OK"]
