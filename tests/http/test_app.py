from __future__ import annotations

import io
import json

from PIL import Image

from tests.graphql.flows import checklist, register, submit
from tests.images import JPEG, PNG


async def test_health_and_readiness(api, services):
    assert (await api.http.get("/healthz")).json() == {"status": "alive"}
    ready = await api.http.get("/readyz")
    # ready for every request; the staff's finder says whether its copy is built yet
    assert ready.status_code == 200
    assert {k: ready.json()[k] for k in ("status", "finder")} == {
        "status": "ready",
        "finder": "building",
    }
    await services.homestays.finder.refresh()
    ready = await api.http.get("/readyz")
    assert {k: ready.json()[k] for k in ("status", "finder")} == {
        "status": "ready",
        "finder": "ready",
    }


async def test_readiness_is_503_when_the_database_does_not_answer(unanswered):
    ready = await unanswered.get("/readyz")
    assert ready.status_code == 503
    assert (await unanswered.get("/healthz")).status_code == 200
    body = (
        await unanswered.post("/graphql", json={"query": "{ gradingStandard { code } }"})
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "requestId" in body["errors"][0]["extensions"]


async def test_public_queries_work_by_get_and_may_be_cached(api, inspector):
    query = "{ gradingStandard { code version } }"
    public = await api.http.get("/graphql", params={"query": query})
    assert public.json()["data"]["gradingStandard"]["version"] == 1
    assert public.headers["cache-control"] == "public, max-age=30"
    private = await api.http.get(
        "/graphql", params={"query": query}, headers={"Authorization": f"Bearer {inspector.token}"}
    )
    assert private.headers["cache-control"] == "no-store"
    mutation = await api.http.get(
        "/graphql",
        params={
            "query": 'mutation { suspendCertificate(input:{number:"x", reason:"y"}) '
            "{ errors { code } } }"
        },
    )
    assert mutation.status_code in (400, 405)


async def test_large_responses_are_gzipped(api):
    response = await api.http.get(
        "/graphql",
        params={"query": "{ gradingStandard { items { code title kind maxPoints requiredFor } } }"},
        headers={"Accept-Encoding": "gzip"},
    )
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.json()["data"]["gradingStandard"]["items"]) >= 40


async def test_brotli_when_asked_and_what_is_compressed_already_goes_as_it_is(
    api, inspector, bureau
):
    from tests.graphql.flows import certify

    query = "{ gradingStandard { items { code title kind maxPoints requiredFor } } }"
    response = await api.http.get(
        "/graphql", params={"query": query}, headers={"Accept-Encoding": "br, gzip"}
    )
    assert response.headers["content-encoding"] == "br"
    assert len(response.json()["data"]["gradingStandard"]["items"]) >= 40
    await certify(api, inspector.token, bureau.token)
    sheet = await api.http.get(
        "/exports/certificates.xlsx",
        headers={"Authorization": f"Bearer {bureau.token}", "Accept-Encoding": "br, gzip"},
    )
    assert len(sheet.content) > 1000 and "content-encoding" not in sheet.headers  # a zip


async def test_every_response_carries_a_request_id(api):
    mine = await api.http.get("/healthz", headers={"X-Request-ID": "phone-123"})
    assert mine.headers["x-request-id"] == "phone-123"
    made = await api.http.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(made.headers["x-request-id"]) == 32


async def test_internal_errors_are_masked_and_carry_the_request_id(
    api, services, monkeypatch, caplog
):
    async def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail at /srv/db")

    monkeypatch.setattr(services.certificates, "stored", broken)
    response = await api.http.post(
        "/graphql", json={"query": '{ verifyCertificate(number: "330521-2026-00001") { found } }'}
    )
    error = response.json()["errors"][0]
    assert error["message"] == "Internal server error"
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    assert "secret" not in response.text
    assert any("secret internal detail" in (r.exc_text or str(r.exc_info)) for r in caplog.records)


async def test_malformed_requests_get_codes_not_crashes(api):
    syntax = (await api.http.post("/graphql", json={"query": "{ me { "})).json()
    assert syntax["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    unknown = (await api.http.post("/graphql", json={"query": "{ nope }"})).json()
    assert unknown["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    wrong_var = (
        await api.http.post(
            "/graphql",
            json={
                "query": "query($g: Grade) { searchStays(minGrade: $g) { totalCount } }",
                "variables": {"g": "PLATINUM"},
            },
        )
    ).json()
    assert wrong_var["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    not_json = await api.http.post(
        "/graphql", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400


async def test_a_photo_is_uploaded_checked_by_content_and_cited(api, inspector, db):
    stored = await api.http.post(
        "/uploads", content=JPEG, headers={"Authorization": f"Bearer {inspector.token}"}
    )
    assert stored.status_code == 201, stored.text
    url = stored.json()["url"]
    assert stored.json()["contentType"] == "image/jpeg"
    stay = await register(api, inspector.token)
    results = [{**r, "photoUrls": [url]} if r["itemCode"] == "LS03" else r for r in checklist()]
    inspection = await submit(api, inspector.token, stay["id"], results)
    assert inspection["id"]
    back = await api.http.get(url, headers={"Authorization": f"Bearer {inspector.token}"})
    assert back.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(back.content)).size == (64, 48)


async def test_uploads_refuse_what_is_not_a_photo_or_too_big(api, inspector, anji_inspector):
    auth = {"Authorization": f"Bearer {inspector.token}"}
    text = await api.http.post("/uploads", content=b"<?php echo 1; ?>", headers=auth)
    assert text.status_code == 415
    lying = await api.http.post(
        "/uploads", content=b"GIF89a" + b"\x00" * 20, headers={**auth, "Content-Type": "image/jpeg"}
    )
    assert lying.status_code == 415
    big = await api.http.post("/uploads", content=JPEG + b"\x00" * (10 * 1024 * 1024), headers=auth)
    assert big.status_code == 413
    # without a token it is a guest's photo for a concern: no staff of any county see it yet
    guest = await api.http.post("/uploads", content=PNG)
    assert guest.status_code == 201
    assert (await api.http.get(guest.json()["url"], headers=auth)).status_code == 403
    stored = await api.http.post("/uploads", content=PNG, headers=auth)
    other = await api.http.get(
        stored.json()["url"], headers={"Authorization": f"Bearer {anji_inspector.token}"}
    )
    assert other.status_code == 403


async def test_metrics_are_in_prometheus_format(api):
    await api.http.get("/healthz")
    text = (await api.http.get("/metrics")).text
    assert 'homestay_http_requests_total{route="/healthz",status="200"}' in text
    assert json.loads((await api.http.get("/healthz")).text)


async def test_metrics_show_how_fresh_each_copy_is_and_uses_answered_behind(
    api, services, make_staff
):
    """An operator sees each in-process copy's newest change (the database's stamp) and how
    many uses a backlog's catch-up left answered from what was applied."""
    from homestay.auth import Role
    from homestay.clock import utcnow
    from homestay.services.homestays import HomestayInput

    inspector = (await make_staff(Role.INSPECTOR, "330521")).caller
    await services.homestays.register(
        inspector,
        HomestayInput(
            name="竹隐山居",
            address="德清县莫干山镇劳岭村8号",
            county="330521",
            rooms=3,
            location=(30.5751, 119.8779),
        ),
    )
    await services.homestays.finder.refresh()
    await api.http.post("/graphql", json={"query": "{ searchStays { totalCount } }"})
    services.search.index.answered_behind += 2  # as two uses during a backlog count them
    text = (await api.http.get("/metrics")).text

    def figure(name: str, copy: str) -> float:
        line = next(x for x in text.splitlines() if x.startswith(f'{name}{{copy="{copy}"}}'))
        return float(line.split()[-1])

    assert figure("homestay_copy_answered_behind_total", "stays") == 2
    assert figure("homestay_copy_answered_behind_total", "finder") == 0
    assert abs(figure("homestay_copy_newest_change_seconds", "finder") - utcnow().timestamp()) < 60


async def test_over_deep_and_alias_heavy_queries_are_refused_before_they_run(api):
    deep = (
        "{ searchStays { edges { node { certificate { homestay { certificate { homestay {"
        " certificate { homestay { certificate { homestay { name } } } } } } } } } } } }"
    )
    for _ in range(2):  # the second time from the validation cache
        body = (await api.http.post("/graphql", json={"query": deep})).json()
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "depth" in body["errors"][0]["message"]
    aliases = "{ " + " ".join(f"a{i}: gradingStandard {{ code }}" for i in range(40)) + " }"
    body = (await api.http.post("/graphql", json={"query": aliases})).json()
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_a_public_get_that_failed_is_never_cached(api, unanswered):
    bad = await api.http.get(
        "/graphql", params={"query": "{ searchStays(first: 500) { totalCount } }"}
    )
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad.headers["cache-control"] == "no-store"
    away = await unanswered.get("/graphql", params={"query": "{ gradingStandard { code } }"})
    assert away.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert away.headers["cache-control"] == "no-store"


async def test_pages_say_where_they_start_and_whether_one_came_before(api, inspector):
    from tests.graphql.flows import register, submit

    stay = await register(api, inspector.token)
    for _ in range(3):
        await submit(api, inspector.token, stay["id"])
    query = """query($after: String) { inspections(first: 2, after: $after) { edges { cursor }
        pageInfo { hasNextPage endCursor hasPreviousPage startCursor } } }"""
    first = (await api.query(query, {}, inspector.token))["inspections"]
    assert first["pageInfo"]["startCursor"] == first["edges"][0]["cursor"]
    assert first["pageInfo"]["hasPreviousPage"] is False
    second = (await api.query(query, {"after": first["pageInfo"]["endCursor"]}, inspector.token))[
        "inspections"
    ]
    assert second["pageInfo"] == {
        "hasNextPage": False,
        "endCursor": second["edges"][0]["cursor"],
        "hasPreviousPage": True,
        "startCursor": second["edges"][0]["cursor"],
    }


async def test_a_browser_console_on_a_configured_origin_may_call_the_api(app_with):
    preflight = {
        "Origin": "https://console.deqing.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    async with await app_with(cors_origins=("https://console.deqing.example",)) as client:
        allowed = await client.options("/graphql", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://console.deqing.example"
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        other = await client.options(
            "/graphql", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
        answered = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"Origin": "https://console.deqing.example"},
        )
        assert answered.headers["access-control-allow-origin"] == "https://console.deqing.example"
    async with await app_with() as client:  # none configured: no origin is let in
        refused = await client.options("/graphql", headers=preflight)
        assert "access-control-allow-origin" not in refused.headers


def test_cors_origins_are_urls_or_the_setting_is_named() -> None:
    import pytest

    from homestay.settings import Settings, SettingsError

    assert Settings.from_env(
        {"HOMESTAY_CORS_ORIGINS": "https://a.example, https://b.example/"}
    ).cors_origins == ("https://a.example", "https://b.example")
    with pytest.raises(SettingsError, match="HOMESTAY_CORS_ORIGINS"):
        Settings.from_env({"HOMESTAY_CORS_ORIGINS": "console.example"})


async def test_a_public_get_answers_304_to_a_cache_that_has_it(api, inspector, bureau):
    from tests.graphql.flows import certify

    query = {"query": "{ searchStays(first: 5) { totalCount } }"}
    first = await api.http.get("/graphql", params=query)
    etag = first.headers["etag"]
    again = await api.http.get("/graphql", params=query, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    await certify(api, inspector.token, bureau.token)  # the answer changes: so does its tag
    changed = await api.http.get("/graphql", params=query, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    private = await api.http.get(
        "/graphql", params=query, headers={"Authorization": f"Bearer {inspector.token}"}
    )
    assert "etag" not in private.headers
