"""What one caller may make the server do: the price of a query, the costly lane, requests in
flight per address, made-up tokens, and what an error tells when introspection is off."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from homestay.graphql.executor import cost
from homestay.http.app import create_app

ALIASED = (
    "{ "
    + " ".join(
        f"""a{i}: searchStays(near: {{lat: 30.6, lng: 119.9}}, radiusMeters: 100000, first: 100,
      coordSystem: BD09) {{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor
      node {{ id name nameZh nameEn address town rooms facilities phone distanceMeters
      location {{ lat lng }} county {{ code name }} grade description
      priceRange {{ min max }} }} }} }}"""
        for i in range(12)
    )
    + " }"
)
SEARCH_PAGE = """query Nearby($near: GeoPointInput!) { searchStays(near: $near, first: 20) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name grade
  distanceMeters location { lat lng } county { name } coverPhoto { url thumbnailUrl(width: 320) }
  priceRange { min max } } } } }"""
MAP = """query Map($bbox: BBoxInput!) { stayClusters(bbox: $bbox, zoom: 9) {
  id point { lat lng } count counts { grade count county { code name } } } }"""


def code_of(body: dict) -> str:
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


async def test_a_dozen_aliased_searches_are_priced_past_the_anonymous_budget(
    api, bureau, settings, db, command_counter
):
    before = command_counter.count(db.db.name)
    body = (await api.http.post("/graphql", json={"query": ALIASED})).json()
    assert code_of(body) == "QUERY_TOO_COSTLY"
    extensions = body["errors"][0]["extensions"]
    assert extensions["cost"] > 12 * 100 * 20 and extensions["limit"] == settings.cost_public
    assert "without a token" in body["errors"][0]["message"]
    assert command_counter.count(db.db.name) == before  # refused before anything ran
    # the bureau's desk, with a token, has a budget of its own
    staff = await api.raw(ALIASED, token=bureau.token)
    assert "errors" not in staff or code_of(staff) != "QUERY_TOO_COSTLY"


async def test_what_a_tourist_app_asks_stays_well_within_the_budget(api, settings):
    near = {"near": {"lat": 30.6, "lng": 119.9}}
    bbox = {"bbox": {"south": 29.9, "west": 119.0, "north": 31.0, "east": 120.6}}
    for query, variables in ((SEARCH_PAGE, near), (MAP, bbox)):
        body = (
            await api.http.post("/graphql", json={"query": query, "variables": variables})
        ).json()
        assert "errors" not in body, body
    schema = api_schema()
    from graphql import parse

    page = cost.query_cost(schema, parse(SEARCH_PAGE), None, near)
    clusters = cost.query_cost(schema, parse(MAP), None, bbox)
    assert page < cost.HEAVY < clusters < settings.cost_public


def api_schema():
    from homestay.graphql.executor.core import core_schema
    from homestay.graphql.schema import schema

    return core_schema(schema)


async def test_costly_anonymous_queries_take_turns_in_one_lane(monkeypatch):
    monkeypatch.setattr(cost, "LANE_WAIT_S", 0.2)
    lane = cost.CostLane(1)
    assert await lane.enter()
    assert not await lane.enter()  # the place is taken, and stays so past the wait
    lane.leave()
    assert await lane.enter()
    lane.leave()


async def test_a_costly_query_waiting_too_long_for_the_lane_is_told_to_come_back(
    settings, services, monkeypatch
):
    from dataclasses import replace

    import homestay.graphql.schema as schema_module

    monkeypatch.setattr(cost, "LANE_WAIT_S", 0.1)
    lane_holder = cost.CostLane(1)
    monkeypatch.setattr(schema_module, "CostLane", lambda size: lane_holder)
    app = create_app(replace(settings, costly_lane=1), services)
    await lane_holder.enter()  # someone else's costly query is running
    bbox = {"bbox": {"south": 29.9, "west": 119.0, "north": 31.0, "east": 120.6}}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        body = (await client.post("/graphql", json={"query": MAP, "variables": bbox})).json()
        assert code_of(body) == "SERVICE_UNAVAILABLE"
        assert body["errors"][0]["extensions"]["retryAfter"] >= 1
        cheap = (await client.post("/graphql", json={"query": "{ __typename }"})).json()
        assert cheap == {"data": {"__typename": "Query"}}  # the cheap go on meanwhile
        lane_holder.leave()
        body = (await client.post("/graphql", json={"query": MAP, "variables": bbox})).json()
        assert "errors" not in body


async def test_one_address_may_have_only_a_few_requests_in_flight(settings, services):
    from dataclasses import replace

    app = create_app(replace(settings, public_in_flight=1), services)
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow_body():
        arrived.set()
        await release.wait()
        yield b'{"query": "{ __typename }"}'

    def client_at(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 1234))
        return httpx.AsyncClient(transport=transport, base_url="http://t")

    async with client_at("10.0.0.1") as one, client_at("10.0.0.2") as other:
        first = asyncio.create_task(
            one.post("/graphql", content=slow_body(), headers={"Content-Type": "application/json"})
        )
        await arrived.wait()
        second = await one.post("/graphql", json={"query": "{ __typename }"})
        assert second.status_code == 429 and second.headers["retry-after"] == "1"
        assert code_of(second.json()) == "RATE_LIMITED"
        elsewhere = await other.post("/graphql", json={"query": "{ __typename }"})
        assert elsewhere.status_code == 200  # another address is another sender
        release.set()
        assert (await first).status_code == 200
        again = await one.post("/graphql", json={"query": "{ __typename }"})
        assert again.status_code == 200  # its place was given back


async def test_made_up_tokens_cost_the_database_nothing(app_with, inspector, db, command_counter):
    async with await app_with(rate_public="2/minute") as client:

        async def me(header: str) -> httpx.Response:
            return await client.post(
                "/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": header}
            )

        assert (await me(f"Bearer {inspector.token}")).status_code == 200  # seen to succeed
        before = command_counter.count(db.db.name)
        for header in ("Basic dXNlcjpwYXNz", "Bearer not-one-of-ours"):
            assert code_of((await me(header)).json()) == "UNAUTHENTICATED"
        assert command_counter.count(db.db.name) == before  # no token of ours: no lookup
        for i in range(3):  # the address is over its public limit now
            refused = await me(f"Bearer hs_made_up_{i}")
            assert refused.status_code == 429
        assert command_counter.count(db.db.name) == before  # not one was looked up
        assert (await me(f"Bearer {inspector.token}")).status_code == 200


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ serchStays { totalCount } }", {}),
        ("query($g: [Grade!]) { searchStays(grades: $g) { totalCount } }", {"g": ["BOUTIQE"]}),
    ],
)
async def test_no_error_suggests_a_name_when_introspection_is_off(api, app_with, query, variables):
    on = (await api.http.post("/graphql", json={"query": query, "variables": variables})).json()
    assert "Did you mean" in on["errors"][0]["message"]
    async with await app_with(introspection=False) as client:
        off = (await client.post("/graphql", json={"query": query, "variables": variables})).json()
    message = off["errors"][0]["message"]
    assert "Did you mean" not in message and "searchStays" not in message.replace(
        "searchStays(", ""
    )
    assert "BOUTIQUE" not in message


async def test_metrics_have_the_process_and_python_collectors(api):
    text = (await api.http.get("/metrics")).text
    for name in (
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "python_gc_objects_collected_total",
        "python_info",
    ):
        assert f"\n{name}" in text, name


async def test_a_large_answer_is_encoded_off_the_event_loop(api, monkeypatch):
    import threading

    from homestay.http import graphql_view

    where: list[str] = []
    real = graphql_view.encode

    def watched(data):
        where.append(threading.current_thread().name)
        return real(data)

    monkeypatch.setattr(graphql_view, "encode", watched)
    bbox = {"bbox": {"south": 29.9, "west": 119.0, "north": 31.0, "east": 120.6}}
    large = (await api.http.post("/graphql", json={"query": MAP, "variables": bbox})).json()
    assert "errors" not in large
    small = (await api.http.post("/graphql", json={"query": "{ __typename }"})).json()
    assert small == {"data": {"__typename": "Query"}}
    main = threading.main_thread().name
    assert where[0] != main and where[1] == main  # the large one in a worker, the small not
