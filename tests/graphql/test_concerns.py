"""Guests' concerns: reported at the door, answered by the bureau, weighed in the plan."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from homestay.clock import utcnow
from homestay.domain.concerns import ConcernCategory, ConcernStatus, ConcernTally, tally
from homestay.domain.plan import PlanSettings, Reason, _concerns_finding
from homestay.http.app import create_app
from tests.graphql.flows import certify

REPORT = """mutation($n: String!, $c: ConcernCategory!, $d: String!, $contact: String) {
  reportConcern(input: {certificateNumber: $n, category: $c, description: $d,
                        contact: $contact}) { receipt errors { field code message } } }"""
STATUS = """query($r: String!) { concernStatus(receipt: $r) { receipt status } }"""
LIST = """query($s: ConcernStatus) { concerns(status: $s) { totalCount edges { node {
  id receipt certificateNumber homestayName category categoryLabel description contact status
  resolution { byName note } } } } }"""
RESOLVE = """mutation($k: ID!, $s: ConcernStatus!, $note: String!) { resolveConcern(input:
  {concernId: $k, status: $s, note: $note}) { concern { status resolution { note } }
  errors { field code } } }"""
PLAN = """{ reinspectionPlan(county: "330521") { edges { node { certificate { number }
  reasons { code weight message } } } } }"""


async def report(
    api,
    number: str,
    category: str = "SAFETY",
    description: str = "二楼安全出口被杂物堵住",
    contact: str | None = None,
) -> dict:
    return (
        await api.query(REPORT, {"n": number, "c": category, "d": description, "contact": contact})
    )["reportConcern"]


async def test_a_guest_reports_and_follows_a_concern_the_bureau_resolves(api, inspector, bureau):
    _, cert = await certify(api, inspector.token, bureau.token)
    sent = await report(api, cert["number"], contact="13800000000")
    assert sent["errors"] == [] and sent["receipt"].startswith("C-")
    assert (await api.query(STATUS, {"r": sent["receipt"]}))["concernStatus"] == {
        "receipt": sent["receipt"],
        "status": "OPEN",
    }
    listed = (await api.query(LIST, {"s": "OPEN"}, bureau.token))["concerns"]
    [node] = [e["node"] for e in listed["edges"]]
    assert node["contact"] == "13800000000" and node["category"] == "SAFETY"
    assert node["categoryLabel"] == "安全" and node["homestayName"] == "竹隐山居"
    done = (
        await api.query(
            RESOLVE, {"k": node["id"], "s": "RESOLVED", "note": "已清理通道"}, bureau.token
        )
    )["resolveConcern"]
    assert done == {
        "concern": {"status": "RESOLVED", "resolution": {"note": "已清理通道"}},
        "errors": [],
    }
    assert (await api.query(STATUS, {"r": sent["receipt"]}))["concernStatus"][
        "status"
    ] == "RESOLVED"
    again = (
        await api.query(RESOLVE, {"k": node["id"], "s": "DISMISSED", "note": "x"}, bureau.token)
    )["resolveConcern"]
    assert again["errors"] == [{"field": ["input", "concernId"], "code": "ALREADY_CLOSED"}]


async def test_the_same_words_the_same_day_are_one_concern(api, inspector, bureau, db):
    _, cert = await certify(api, inspector.token, bureau.token)
    first = await report(api, cert["number"], description="房间有霉味")
    second = await report(api, cert["number"], description="  房间有霉味 ")
    assert first["receipt"] == second["receipt"]
    other = await report(api, cert["number"], description="热水不热")
    assert other["receipt"] != first["receipt"]
    assert await db.concerns.count_documents({}) == 2


@pytest.mark.parametrize(
    ("variables", "field", "code"),
    [
        ({"n": "330521-2026-99999"}, ["input", "certificateNumber"], "NOT_FOUND"),
        ({"d": "x" * 2001}, ["input", "description"], "TOO_LONG"),
        ({"d": "  "}, ["input", "description"], "REQUIRED"),
        ({"d": "脏\u202e乱"}, ["input", "description"], "INVALID_CHARACTER"),
    ],
)
async def test_bad_reports_are_named_and_not_stored(
    api, inspector, bureau, db, variables, field, code
):
    _, cert = await certify(api, inspector.token, bureau.token)
    base = {"n": cert["number"], "c": "HYGIENE", "d": "床单有污渍", "contact": None}
    sent = (await api.query(REPORT, {**base, **variables}))["reportConcern"]
    assert sent["receipt"] is None
    assert [(e["field"], e["code"]) for e in sent["errors"]] == [(field, code)]
    assert await db.concerns.count_documents({}) == 0


async def test_the_contact_and_the_list_are_the_bureaus_of_the_county(
    api, inspector, bureau, anji_bureau
):
    _, cert = await certify(api, inspector.token, bureau.token)
    await report(api, cert["number"], contact="guest@example.cn")
    assert (await api.query(LIST, {}, anji_bureau.token))["concerns"]["totalCount"] == 0
    assert await api.error_code(LIST, {}) == "UNAUTHENTICATED"
    assert await api.error_code(LIST, {}, inspector.token) == "FORBIDDEN"
    assert (await api.query(STATUS, {"r": "C-guess"}))["concernStatus"] is None


async def test_reports_are_limited_per_address_and_per_certificate(
    settings, services, api, inspector, bureau
):
    _, cert = await certify(api, inspector.token, bureau.token)
    _, other = await certify(api, inspector.token, bureau.token, name="第二家")
    app = create_app(
        replace(settings, rate_concerns="4/hour", rate_concerns_per_certificate="2/day"), services
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:

        async def send(number: str, text: str) -> str:
            body = (
                await client.post(
                    "/graphql",
                    json={"query": REPORT, "variables": {"n": number, "c": "OTHER", "d": text}},
                )
            ).json()
            return body["errors"][0]["extensions"]["code"] if body.get("errors") else "OK"

        assert [await send(cert["number"], f"问题{i}") for i in range(3)] == [
            "OK",
            "OK",
            "RATE_LIMITED",
        ]  # two a day about one certificate
        assert await send(other["number"], "问题") == "OK"
        # four an hour from one address, only stored ones counted
        assert await send(other["number"], "问题2") == "OK"
        assert await send(other["number"], "问题3") == "RATE_LIMITED"


def guest_at(app, address: str) -> httpx.AsyncClient:
    """A client whose requests come from `address`."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://t"
    )


async def _send(client: httpx.AsyncClient, number: str, category: str, text: str) -> str:
    body = (
        await client.post(
            "/graphql",
            json={"query": REPORT, "variables": {"n": number, "c": category, "d": text}},
        )
    ).json()
    if body.get("errors"):
        return body["errors"][0]["extensions"]["code"]
    sent = body["data"]["reportConcern"]
    return sent["errors"][0]["code"] if sent["errors"] else "OK"


async def test_refused_reports_spend_no_quota_and_cannot_silence_a_certificate(
    settings, services, api, inspector, bureau, db
):
    """Thirty empty reports from three addresses: nothing stored, nothing spent, and the
    next real guest is heard."""
    _, cert = await certify(api, inspector.token, bureau.token)
    app = create_app(
        replace(settings, rate_concerns="10/hour", rate_concerns_per_certificate="30/day"),
        services,
    )
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        async with guest_at(app, address) as attacker:
            for _ in range(10):
                assert await _send(attacker, cert["number"], "SAFETY", "  ") == "REQUIRED"
    assert await db.concerns.count_documents({}) == 0
    async with guest_at(app, "10.9.9.9") as guest:
        assert await _send(guest, cert["number"], "HYGIENE", "浴室有霉斑") == "OK"
        # the same words again: the first receipt, and no quota spent either
        assert await _send(guest, cert["number"], "HYGIENE", "浴室有霉斑") == "OK"
    assert await db.concerns.count_documents({}) == 1


PLAN_WEIGHTS = """{ reinspectionPlan(county: "330521") { edges { node {
  certificate { number } priority reasons { code weight message } } } } }"""


async def test_one_address_cannot_put_a_competitor_at_the_top_of_the_plan(
    settings, services, api, inspector, bureau, db
):
    _, target = await certify(api, inspector.token, bureau.token, name="对手")
    _, old = await certify(api, inspector.token, bureau.token, name="过期")
    await db.certificates.update_one(  # expired yesterday: EXPIRED, 100 points
        {"_id": old["number"]}, {"$set": {"expiresAt": utcnow() - timedelta(days=1)}}
    )
    app = create_app(settings, services)
    async with guest_at(app, "2001:db8:1:2::5") as attacker:
        for words in ("消防通道堵塞", "灭火器过期", "电线裸露"):
            assert await _send(attacker, target["number"], "SAFETY", words) == "OK"
    # another address of the same /64 is the same reporter
    async with guest_at(app, "2001:db8:1:2::77") as same:
        assert await _send(same, target["number"], "SAFETY", "楼梯无扶手") == "OK"

    async def entry(number: str) -> dict:
        plan = (await api.query(PLAN_WEIGHTS, {}, bureau.token))["reinspectionPlan"]["edges"]
        return next(e["node"] for e in plan if e["node"]["certificate"]["number"] == number)

    concerns = next(r for r in (await entry(target["number"]))["reasons"])
    assert concerns["code"] == "OPEN_CONCERNS" and concerns["weight"] == 15  # one guest
    assert "1 位游客的反映待核实" in concerns["message"] and "45" in concerns["message"]
    assert (await entry(target["number"]))["priority"] < (await entry(old["number"]))["priority"]
    # many reporters together stay below an expired certificate, until the bureau reviews
    for i in range(10):
        async with guest_at(app, f"10.1.0.{i}") as guest:
            assert await _send(guest, target["number"], "SAFETY", f"问题 {i}") == "OK"
    assert (await entry(target["number"]))["reasons"][0]["weight"] == 45
    listed = (await api.query(LIST, {"s": "OPEN"}, bureau.token))["concerns"]["edges"]
    done = await api.query(
        RESOLVE,
        {"k": listed[0]["node"]["id"], "s": "SUBSTANTIATED", "note": "现场属实"},
        bureau.token,
    )
    assert done["resolveConcern"]["concern"]["status"] == "SUBSTANTIATED"
    weighed = (await entry(target["number"]))["reasons"][0]
    assert weighed["weight"] == 60 + 45 and "经文旅局核实" in weighed["message"]
    # a substantiated concern is then resolved; it no longer weighs
    resolved = await api.query(
        RESOLVE, {"k": listed[0]["node"]["id"], "s": "RESOLVED", "note": "已整改"}, bureau.token
    )
    assert resolved["resolveConcern"]["errors"] == []
    assert (await entry(target["number"]))["reasons"][0]["weight"] == 45


async def test_open_concerns_put_a_homestay_in_the_plan_safety_first(api, inspector, bureau, db):
    _, quiet = await certify(api, inspector.token, bureau.token, name="安静")
    _, unsafe = await certify(api, inspector.token, bureau.token, name="出口堵塞")
    _, dusty = await certify(api, inspector.token, bureau.token, name="灰尘")
    await report(api, unsafe["number"], "SAFETY", "安全出口堵塞")
    await report(api, dusty["number"], "PRICE", "加价")
    plan = (await api.query(PLAN, {}, bureau.token))["reinspectionPlan"]["edges"]
    order = [e["node"]["certificate"]["number"] for e in plan]
    assert order[:2] == [unsafe["number"], dusty["number"]] and quiet["number"] not in order
    reason = plan[0]["node"]["reasons"][0]
    assert reason["code"] == "OPEN_CONCERNS" and reason["weight"] == 15  # unreviewed: a quarter
    assert "安全 1 件" in reason["message"]


def _tally(unreviewed=None, substantiated=None) -> ConcernTally:
    return ConcernTally(unreviewed or {}, substantiated or {})


def test_concern_weights_unreviewed_a_share_once_a_reporter_substantiated_in_full() -> None:
    s = PlanSettings()
    safety, price, hygiene = ConcernCategory.SAFETY, ConcernCategory.PRICE, ConcernCategory.HYGIENE
    assert _concerns_finding(_tally({safety: 1}), s).weight == 15
    assert _concerns_finding(_tally({safety: 9}), s).weight == s.concern_unreviewed_max_weight
    assert s.concern_unreviewed_max_weight < s.expired_weight
    assert _concerns_finding(_tally(substantiated={safety: 1}), s).weight == 60
    both = _tally({price: 2, hygiene: 1}, {price: 2, hygiene: 1})
    assert _concerns_finding(both, s).weight == (3 + 3 + 8) + 50  # a share, rounded up
    assert _concerns_finding(_tally({safety: 9}, {safety: 5}), s).weight == s.concern_max_weight
    heavy = replace(s, concern_price_weight=99)
    finding = _concerns_finding(_tally(substantiated={price: 1}), heavy)
    assert finding.weight == 99 and finding.reason is Reason.OPEN_CONCERNS
    assert finding.message["en"] == "1 concern substantiated by the bureau (1 price)"


def test_a_reporter_counts_once_at_the_most_serious_category_they_named() -> None:
    s = PlanSettings()
    open_, done = ConcernStatus.OPEN, ConcernStatus.SUBSTANTIATED
    rows = [
        ("a", open_, ConcernCategory.PRICE),
        ("a", open_, ConcernCategory.SAFETY),
        ("a", open_, ConcernCategory.SAFETY),
        ("b", open_, ConcernCategory.HYGIENE),
        ("b", done, ConcernCategory.HYGIENE),
        ("c", ConcernStatus.DISMISSED, ConcernCategory.SAFETY),
    ]
    assert tally(rows, s.concern_weight) == ConcernTally(
        {ConcernCategory.SAFETY: 1, ConcernCategory.HYGIENE: 1}, {ConcernCategory.HYGIENE: 1}
    )


@pytest.mark.calendar
async def test_statistics_count_concerns_by_month_category_and_outcome(api, inspector, bureau):
    from homestay.clock import today

    _, cert = await certify(api, inspector.token, bureau.token)
    await report(api, cert["number"], "SAFETY", "出口堵塞")
    await report(api, cert["number"], "SAFETY", "灭火器过期")
    await report(api, cert["number"], "HYGIENE", "床单脏")
    listed = (await api.query(LIST, {"s": "OPEN"}, bureau.token))["concerns"]["edges"]
    hygiene = next(e["node"]["id"] for e in listed if e["node"]["category"] == "HYGIENE")
    await api.query(RESOLVE, {"k": hygiene, "s": "DISMISSED", "note": "核实不属实"}, bureau.token)
    stats = (
        await api.query(
            """{ statistics { concerns { month county { code } category
        status count } } }""",
            {},
            bureau.token,
        )
    )["statistics"]["concerns"]
    month = today().strftime("%Y-%m")  # China months
    assert {(c["month"], c["category"], c["status"], c["count"]) for c in stats} == {
        (month, "HYGIENE", "DISMISSED", 1),
        (month, "SAFETY", "OPEN", 2),
    }


async def test_a_guest_sends_photos_that_only_the_countys_bureau_opens(
    api, inspector, bureau, anji_bureau
):
    from tests.images import JPEG

    _, cert = await certify(api, inspector.token, bureau.token)
    photo = (await api.http.post("/uploads", content=JPEG)).json()["id"]
    query = """mutation($n: String!, $p: [ID!]) { reportConcern(input: {certificateNumber: $n,
        category: HYGIENE, description: "浴室霉斑", photoIds: $p}) {
        receipt errors { field code } } }"""
    sent = (await api.query(query, {"n": cert["number"], "p": [photo]}))["reportConcern"]
    assert sent["errors"] == []
    [edge] = (await api.query("{ concerns { edges { node { photoUrls } } } }", {}, bureau.token))[
        "concerns"
    ]["edges"]
    [url] = edge["node"]["photoUrls"]
    assert (
        await api.http.get(url, headers={"Authorization": f"Bearer {bureau.token}"})
    ).status_code == 200
    assert (
        await api.http.get(url, headers={"Authorization": f"Bearer {anji_bureau.token}"})
    ).status_code == 403
    assert (await api.http.get(url)).status_code == 401
    # a photo is cited once: another concern cannot take it over
    again = (await api.query(query, {"n": cert["number"], "p": [photo]}))["reportConcern"]
    assert again["errors"] == [{"field": ["input", "photoIds", "0"], "code": "NOT_FOUND"}]


async def test_a_guests_photos_are_limited_per_address(settings, services):
    from tests.images import JPEG

    app = create_app(replace(settings, rate_public_uploads="2/hour"), services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        codes = [(await client.post("/uploads", content=JPEG)).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
