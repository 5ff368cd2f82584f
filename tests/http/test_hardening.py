"""Limits, hostile and malformed input, rate limits, operations: what a public API must bear."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import gid
from tests.graphql.flows import VERIFY, certify, register

SEARCH = """query($near: GeoPointInput, $first: Int, $after: String, $text: String,
                  $r: Int) {
  searchStays(near: $near, first: $first, after: $after, text: $text, radiusMeters: $r) {
    totalCount edges { node { name } } } }"""


def code_of(body: dict) -> str:
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


# -- cost and size limits ---------------------------------------------------------------------


async def test_a_query_that_could_return_thousands_of_objects_is_refused_before_it_runs(
    api, db, command_counter, settings
):
    nested = """{ searchStays(first: 100) { edges { node { name
        certificate { inspection { results { itemCode } } } } } } }"""
    before = command_counter.count(db.db.name)
    body = (await api.http.post("/graphql", json={"query": nested})).json()
    assert code_of(body) == "QUERY_TOO_COSTLY"
    extensions = body["errors"][0]["extensions"]
    assert extensions["cost"] > extensions["limit"] == settings.cost_public
    assert command_counter.count(db.db.name) == before  # nothing reached the database
    # the same through a variable, and a fragment, is counted the same way
    via_variable = """query($n: Int) { searchStays(first: $n) { ...page } }
        fragment page on HomestayConnection { edges { node {
            certificate { inspection { results { itemCode } } } } } }"""
    body = (
        await api.http.post("/graphql", json={"query": via_variable, "variables": {"n": 100}})
    ).json()
    assert code_of(body) == "QUERY_TOO_COSTLY"
    # a full page of an ordinary search is fine
    body = (
        await api.http.post(
            "/graphql",
            json={
                "query": SEARCH,
                "variables": {"first": 100, "near": {"lat": 30.6, "lng": 119.9}},
            },
        )
    ).json()
    assert "errors" not in body


async def test_oversized_bodies_are_refused_with_413(api):
    big = {"query": "{ me { id } }", "variables": {"pad": "x" * 1_100_000}}
    response = await api.http.post("/graphql", json=big)
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "field": "body"}

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"query": "{ me { id } }", "variables": {"pad": "'
        for _ in range(12):
            yield b"x" * 100_000
        yield b'"}}'

    response = await api.http.post(
        "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


async def test_an_overlong_query_is_refused_before_parsing(api):
    long = "{ " + " ".join(["__typename"] * 3000) + " }"
    for response in (
        await api.http.post("/graphql", json={"query": long}),
        await api.http.get("/graphql", params={"query": long[:20_010] + " }"}),
    ):
        assert response.status_code == 413
        error = response.json()["errors"][0]
        assert error["extensions"] == {"code": "QUERY_TOO_LONG", "field": "query"}


@pytest.mark.parametrize(
    "content, content_type, status, code, field",
    [
        (b"{not json", "application/json", 400, "BAD_REQUEST", "body"),
        (
            b'{"query": "{ me { id } }"}',
            "text/plain",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "Content-Type",
        ),
        (b'{"query": 42}', "application/json", 400, "BAD_REQUEST", "body"),
        (b'{"variables": {}}', "application/json", 400, "BAD_REQUEST", "query"),
        (b"[1, 2]", "application/json", 400, "BAD_REQUEST", "body"),
    ],
)
async def test_malformed_requests_get_a_json_error_naming_the_part(
    api, content, content_type, status, code, field
):
    response = await api.http.post(
        "/graphql", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": code, "field": field}
    assert field in error["message"]


# -- hostile input ----------------------------------------------------------------------------


async def test_operator_shaped_values_never_reach_the_database_as_operators(api, inspector, bureau):
    _, cert = await certify(api, inspector.token, bureau.token, name="竹隐山居")
    for hostile in ({"$ne": None}, {"$gt": ""}, ["330521-2026-00001"]):
        body = (
            await api.http.post("/graphql", json={"query": VERIFY, "variables": {"n": hostile}})
        ).json()
        assert code_of(body) == "BAD_USER_INPUT"
    # as strings they are just strings: nothing matches them
    for text in ('{"$ne": null}', ".*", "^", "(a+)+$", "\\", "'; db.dropDatabase(); '"):
        found = (await api.query(VERIFY, {"n": text}))["verifyCertificate"]
        assert found["found"] is False
        stays = (
            await api.query(SEARCH, {"near": {"lat": 30.5751, "lng": 119.8779}, "text": text})
        )["searchStays"]
        assert stays["totalCount"] == 0
    # and the real one still answers
    assert (await api.query(VERIFY, {"n": cert["number"]}))["verifyCertificate"]["found"]


@pytest.mark.parametrize("raw", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
async def test_nan_and_infinite_numbers_are_bad_input(api, raw):
    body = (
        b'{"query": "query($p: GeoPointInput) { searchStays(near: $p) { totalCount } }",'
        b' "variables": {"p": {"lat": ' + raw + b', "lng": 119.9}}}'
    )
    response = await api.http.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert code_of(response.json()) == "BAD_USER_INPUT"
    assert "$p" in response.json()["errors"][0]["message"]
    assert ".lat" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "variables, field",
    [
        ({"near": {"lat": 91, "lng": 119.9}}, "near.lat"),
        ({"near": {"lat": 30.6, "lng": -181}}, "near.lng"),
        ({"near": {"lat": 30.6, "lng": 119.9}, "r": 10_000_000}, "radiusMeters"),
        ({"near": {"lat": 30.6, "lng": 119.9}, "r": -5}, "radiusMeters"),
        ({"first": 101}, "first"),
        ({"first": 0}, "first"),
        ({"first": -1}, "first"),
        ({"after": "not-a-cursor"}, "after"),
        ({"after": "eyJ4IjogMX0"}, "after"),
    ],
)
async def test_out_of_range_values_name_their_field(api, variables, field):
    body = await api.raw(SEARCH, variables)
    assert code_of(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"].get("field") == field


async def test_invalid_ids_and_numbers_are_not_found_never_errors(api, inspector):
    for bad in ("../../etc/passwd", "", "x" * 5000, "65f0c0ffee", "\u0000"):
        data = await api.query("query($id: ID!) { homestay(id: $id) { name } }", {"id": bad})
        assert data["homestay"] is None
    stay = await register(api, inspector.token)
    update = """mutation($id: ID!) { updateHomestay(input: {id: $id, rooms: 3}) {
        homestay { id } errors { field code } } }"""
    for bad in ({"$ne": None}, ["a"]):
        assert await api.error_code(update, {"id": bad}, inspector.token) == "BAD_USER_INPUT"
    assert (await api.query(update, {"id": stay["id"]}, inspector.token))["updateHomestay"][
        "errors"
    ] == []


async def test_wrong_enum_values_are_refused(api):
    literal = await api.raw("{ searchStays(minGrade: PLATINUM) { totalCount } }")
    assert code_of(literal) == "GRAPHQL_VALIDATION_FAILED"
    via_variable = await api.raw(
        "query($g: [Grade!]) { searchStays(grades: $g) { totalCount } }",
        {"g": ["BOUTIQUE", "$where"]},
    )
    assert code_of(via_variable) == "BAD_USER_INPUT"


# -- rate limits ------------------------------------------------------------------------------


async def test_public_requests_are_rate_limited_per_client_with_retry_after(app_with):
    async with await app_with(rate_public="5/minute") as client:
        for _ in range(5):
            ok = await client.post("/graphql", json={"query": VERIFY, "variables": {"n": "x"}})
            assert ok.status_code == 200
        limited = await client.post("/graphql", json={"query": VERIFY, "variables": {"n": "x"}})
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        error = limited.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert "retry after" in error["message"]
        # the open-data feed counts as public too; liveness is never limited
        assert (await client.get("/open-data/certificates.json")).status_code == 429
        assert (await client.get("/healthz")).status_code == 200


async def test_a_failing_token_is_refused_before_the_database_but_colleagues_go_on(
    app_with, inspector, db, command_counter
):
    async with await app_with(rate_auth_failures="3/minute") as client:

        async def me(token: str) -> httpx.Response:
            return await client.post(
                "/graphql",
                json={"query": "{ me { id } }"},
                headers={"Authorization": f"Bearer {token}"},
            )

        for _ in range(3):
            assert code_of((await me("hs_revoked_in_a_forgotten_app")).json()) == "UNAUTHENTICATED"
        before = command_counter.count(db.db.name)
        again = await me("hs_revoked_in_a_forgotten_app")
        assert again.status_code == 429 and int(again.headers["retry-after"]) >= 1
        assert command_counter.count(db.db.name) == before  # not even looked up
        # a colleague behind the same address (an office, a carrier's NAT) is not locked out
        good = await me(inspector.token)
        assert good.status_code == 200
        assert good.json()["data"]["me"]["id"] == gid("Account", inspector.id)
        # nor is the public
        public = await client.post("/graphql", json={"query": VERIFY, "variables": {"n": "x"}})
        assert public.status_code == 200


async def test_failed_tokens_count_as_public_requests_of_their_address(app_with):
    async with await app_with(rate_public="4/minute") as client:
        for i in range(4):  # a new guess each time: each one a public request
            bad = await client.post(
                "/graphql",
                json={"query": "{ me { id } }"},
                headers={"Authorization": f"Bearer hs_guess{i}"},
            )
            assert bad.status_code == 200 and code_of(bad.json()) == "UNAUTHENTICATED"
        limited = await client.post(
            "/graphql",
            json={"query": "{ me { id } }"},
            headers={"Authorization": "Bearer hs_guess9"},
        )
        assert limited.status_code == 429


@pytest.mark.parametrize("header", ["", " ", "\t"])
async def test_an_empty_authorization_header_is_a_public_request_and_limited_as_one(
    app_with, header
):
    async with await app_with(rate_public="3/minute") as client:
        for _ in range(3):
            ok = await client.post(
                "/graphql",
                json={"query": VERIFY, "variables": {"n": "x"}},
                headers={"Authorization": header},
            )
            assert ok.status_code == 200 and "errors" not in ok.json()
        for path in ("/graphql", "/open-data/certificates.json"):
            response = await client.request(
                "POST" if path == "/graphql" else "GET",
                path,
                json={"query": VERIFY, "variables": {"n": "x"}} if path == "/graphql" else None,
                headers={"Authorization": header},
            )
            assert response.status_code == 429, path


async def test_a_limit_holds_across_the_turn_of_its_window(app_with, monkeypatch):
    """Three requests in the last tenth of a second of one minute's window, a fourth just
    after the next begins: still four in a minute, so refused; the limiter's clock is
    pinned there (with the library's rounding down, the fourth got through)."""
    import types

    from limits.aio.storage import memory

    now = [60 * 29_000_000 + 59.9]
    monkeypatch.setattr(memory, "time", types.SimpleNamespace(time=lambda: now[0]))
    async with await app_with(rate_public="3/minute") as client:

        async def verify() -> int:
            answer = await client.post("/graphql", json={"query": VERIFY, "variables": {"n": "x"}})
            return answer.status_code

        assert [await verify() for _ in range(3)] == [200, 200, 200]
        now[0] += 0.2  # the next window has begun
        assert await verify() == 429
        now[0] += 30  # half of the three are behind the sliding minute now: one more fits
        assert [await verify(), await verify()] == [200, 429]


async def test_an_account_has_a_limit_of_its_own(app_with, inspector, bureau):
    async with await app_with(rate_account="3/minute") as client:

        async def me(token: str) -> int:
            return (
                await client.post(
                    "/graphql",
                    json={"query": "{ me { id } }"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            ).status_code

        assert [await me(inspector.token) for _ in range(4)] == [200, 200, 200, 429]
        assert await me(bureau.token) == 200  # another account's window


# -- introspection ----------------------------------------------------------------------------


async def test_introspection_is_on_unless_a_setting_turns_it_off(api, app_with):
    query = {"query": "{ __schema { queryType { name } } }"}
    on = (await api.http.post("/graphql", json=query)).json()
    assert on["data"]["__schema"]["queryType"]["name"] == "Query"
    async with await app_with(introspection=False) as client:
        off = (await client.post("/graphql", json=query)).json()
        assert code_of(off) == "GRAPHQL_VALIDATION_FAILED"
        assert "introspection" in off["errors"][0]["message"].lower()
        typename = (await client.post("/graphql", json={"query": "{ __typename }"})).json()
        assert typename["data"] == {"__typename": "Query"}


# -- operations: metrics and logs -------------------------------------------------------------


async def test_metrics_count_operations_by_root_field_and_outcome(api, inspector):
    await api.raw(VERIFY, {"n": "330521-2026-00001"})
    await api.raw("{ me { id } }", token="hs_wrong")
    await api.raw("query Anything { me { id } }", token=inspector.token)
    text = (await api.http.get("/metrics")).text
    assert (
        'homestay_graphql_operations_total{operation="query verifyCertificate",'
        'outcome="OK"} 1.0' in text
    )
    assert 'operation="query me",outcome="UNAUTHENTICATED"' in text
    assert 'homestay_graphql_operation_seconds_count{operation="query me"} 2.0' in text
    assert "Anything" not in text  # client-chosen names never become labels


async def test_logs_are_json_lines_with_operation_role_and_duration_never_a_token(
    api, inspector, caplog
):
    from homestay.logs import JsonFormatter

    caplog.set_level(logging.INFO, logger="homestay")
    await api.raw("{ me { id } }", token=inspector.token)
    await api.raw("{ me { id } }", token="hs_secret_guess_123")
    await api.http.get(
        "/exports/certificates.csv", headers={"Authorization": f"Bearer {inspector.token}"}
    )
    lines = [
        json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "homestay.http"
    ]
    graphql = [entry for entry in lines if entry.get("operation")]
    assert graphql[0]["operation"] == "query me" and graphql[0]["role"] == "INSPECTOR"
    assert graphql[0]["outcome"] == "OK" and graphql[0]["duration_ms"] >= 0
    assert graphql[1]["outcome"] == "UNAUTHENTICATED"
    assert all(entry.get("request_id") for entry in lines)
    everything = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert inspector.token not in everything and "hs_secret_guess_123" not in everything


async def test_nothing_is_written_before_the_schema_is_applied(api, db, inspector):
    app = api.http._transport.app
    app.state.schema_applied = False  # as while the bootstrap waits for the database
    body = await api.raw(
        """mutation { registerHomestay(input: {name: "早到", address: "德清县",
        county: "330521", rooms: 1, location: {lat: 30.57, lng: 119.87}}) { errors { code } } }""",
        token=inspector.token,
    )
    assert code_of(body) == "SERVICE_UNAVAILABLE"
    assert await db.homestays.count_documents({}) == 0
    assert (await api.http.get("/readyz")).status_code == 503
    app.state.schema_applied = True
    assert (await api.http.get("/readyz")).status_code == 200


# -- work per request -------------------------------------------------------------------------


def doubling_fragments(levels: int) -> str:
    """Each fragment spreads the next one twice: 2**levels fields in ~13 tokens a level."""
    parts = ["query { ...F0 }"]
    parts += [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    parts.append(f"fragment F{levels} on Query {{ __typename }}")
    return "\n".join(parts)


async def test_fragments_that_double_are_refused_before_validation_runs(api, monkeypatch):
    import homestay.graphql.executor.documents as documents

    validated: list[object] = []
    real = documents.validate

    def counting(*args, **kwargs):
        validated.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(documents, "validate", counting)
    for levels in (10, 16, 22, 30, 40):
        query = doubling_fragments(levels)
        assert len(query) < 2000  # small on the wire: only its expansion is large
        body = (await api.http.post("/graphql", json={"query": query})).json()
        assert code_of(body) == "QUERY_TOO_COMPLEX", levels
        assert body["errors"][0]["extensions"]["limit"] == 1000
        assert "data" not in body or body["data"] is None
    assert validated == []  # refused before graphql-core's validation saw any of them
    # a document the apps send is validated and answered as ever
    ok = (await api.http.post("/graphql", json={"query": doubling_fragments(4)})).json()
    assert ok == {"data": {"__typename": "Query"}} and len(validated) == 1


# -- never a 500 ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"null", b"42", b'"s"', b"true", b"false", b"[]", b"{}"])
async def test_json_bodies_that_are_no_request_are_named_not_crashed_on(api, body):
    response = await api.http.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["extensions"]["field"] in ("body", "query")
    assert response.headers["x-request-id"]


STATISTICS = """query($from: DateTime, $to: DateTime) { statistics(from: $from, to: $to) {
    monthly { issued } } }"""


async def test_a_time_without_an_offset_is_china_time(api, bureau):
    body = await api.raw(
        '{ statistics(from: "2026-01-01T00:00:00", to: "2026-02-01T00:00") '
        "{ monthly { issued } } }",
        token=bureau.token,
    )
    assert "errors" not in body, body
    same = await api.raw(
        STATISTICS,
        {"from": "2026-01-01T00:00:00+08:00", "to": "2026-02-01T00:00:00+08:00"},
        bureau.token,
    )
    assert same == body


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "1999-12-31T00:00:00+00:00",
        "2026-13-01T00:00:00+08:00",
        "yesterday",
    ],
)
async def test_dates_out_of_range_or_malformed_are_bad_input_naming_the_variable(
    api, bureau, value
):
    body = await api.raw(STATISTICS, {"from": value}, bureau.token)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "from"}
    literal = await api.raw(
        f'{{ statistics(from: "{value}") {{ monthly {{ issued }} }} }}', token=bureau.token
    )
    assert literal["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert value in literal["errors"][0]["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"issuedTo": "9999-12-31"}, "issuedTo"),
        ({"issuedFrom": "0001-01-01"}, "issuedFrom"),
        ({"expiringBefore": "0001-01-01T00:00:00+14:00"}, "expiringBefore"),
        ({"issuedFrom": "2026-02-30"}, "issuedFrom"),
    ],
)
async def test_download_dates_out_of_range_are_400_naming_the_parameter(api, bureau, params, field):
    response = await api.http.get(
        "/exports/certificates.csv",
        params=params,
        headers={"Authorization": f"Bearer {bureau.token}"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
