"""The bureau's desk: statistics, the re-inspection plan and certificate history."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from homestay.clock import shifted, today, utcnow
from homestay.domain.plan import PlanSettings
from homestay.services.plan import PlanService
from tests.graphql.flows import (
    MAX_POINTS,
    THRESHOLDS,
    certify,
    checklist,
    register,
    review,
    submit,
)

# every test here reads China dates: run at the calendar's edges too (dev.py test)
pytestmark = pytest.mark.calendar

PLAN = """query($county: String, $first: Int, $after: String) {
  reinspectionPlan(county: $county, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { priority homestay { name } certificate { number grade status }
                   reasons { code weight message at } } } } }"""

STATS = """query($county: String) { statistics(county: $county) {
  certificates { county { code } grade status count }
  monthly { month county { code } issued suspended revoked }
  inspectors { inspector { name } county { code } submitted approved rejected pending
               farFromHomestay averagePoints }
  sections { section title maxPoints averagePoints inspections } } }"""

HISTORY = """query($n: String!) { certificateHistory(number: $n) {
  at by { id name } byRole action from to reason } }"""

CHANGE = """mutation($n: String!, $r: String!) {
  %s(input: {number: $n, reason: $r}) { certificate { status } errors { code message } } }"""

VALIDITY = timedelta(days=3 * 365)


async def change(api, token: str, action: str, number: str, reason: str) -> None:
    result = (await api.query(CHANGE % action, {"n": number, "r": reason}, token))[action]
    assert result["errors"] == [], result["errors"]


def plan_of(data: dict) -> list[dict]:
    return [e["node"] for e in data["reinspectionPlan"]["edges"]]


async def test_plan_puts_the_expiring_and_the_near_threshold_premium_first_and_says_why(
    api, inspector, bureau
):
    await certify(api, inspector.token, bureau.token, name="满分精品")  # nothing to check
    with shifted(-(VALIDITY - timedelta(days=30))):  # issued long ago: expires in 30 days
        _, expiring = await certify(api, inspector.token, bureau.token, name="将到期民宿")
    _, near = await certify(
        api, inspector.token, bureau.token, name="勉强优品", points=THRESHOLDS["PREMIUM"] + 3
    )
    _, far = await certify(
        api,
        inspector.token,
        bureau.token,
        name="远程检查",
        location={"lat": 30.5751, "lng": 119.8779},
    )
    # a later re-inspection of the last one was submitted 5.6 km away from it
    stay_id = (
        await api.query(
            """query($n: String!) { certificate(number: $n) {
        homestay { id } } }""",
            {"n": far["number"]},
            inspector.token,
        )
    )["certificate"]["homestay"]["id"]
    await submit(api, inspector.token, stay_id, inspectorLocation={"lat": 30.6251, "lng": 119.8779})

    data = await api.query(PLAN, {"first": 20}, inspector.token)
    plan = plan_of(data)
    assert [p["homestay"]["name"] for p in plan] == ["将到期民宿", "勉强优品", "远程检查"]
    assert data["reinspectionPlan"]["totalCount"] == 3

    top = plan[0]
    assert top["certificate"]["number"] == expiring["number"]
    assert {r["code"] for r in top["reasons"]} == {"EXPIRING", "STALE_INSPECTION"}
    assert top["priority"] == sum(r["weight"] for r in top["reasons"]) == 60 + 30
    expiring_reason = next(r for r in top["reasons"] if r["code"] == "EXPIRING")
    assert "到期" in expiring_reason["message"]
    assert any(f"还有 {days} 天" in expiring_reason["message"] for days in (29, 30))

    second = plan[1]
    assert second["certificate"]["grade"] == "PREMIUM"
    [reason] = second["reasons"]
    assert reason["code"] == "NEAR_THRESHOLD" and reason["weight"] == 40
    assert f"{THRESHOLDS['PREMIUM'] + 3} 分" in reason["message"]
    assert "3 分" in reason["message"]

    [far_reason] = plan[2]["reasons"]
    assert far_reason["code"] == "FAR_INSPECTION" and "米" in far_reason["message"]

    english = await api.query(
        PLAN, {"first": 2}, inspector.token, headers={"Accept-Language": "en"}
    )
    assert "only 3 above the premium threshold" in plan_of(english)[1]["reasons"][0]["message"]


async def test_plan_pages_with_stable_cursors_and_counts_suspensions(api, inspector, bureau):
    numbers = []
    for i in range(5):
        _, cert = await certify(
            api, inspector.token, bureau.token, name=f"民宿{i}", points=THRESHOLDS["STANDARD"] + i
        )
        numbers.append(cert["number"])
    await change(api, bureau.token, "suspendCertificate", numbers[4], "游客投诉卫生问题")
    await change(api, bureau.token, "reinstateCertificate", numbers[4], "整改完成")

    first = await api.query(PLAN, {"first": 2}, bureau.token)
    page = plan_of(first)
    assert page[0]["certificate"]["number"] == numbers[4]
    assert [r["code"] for r in page[0]["reasons"]] == ["NEAR_THRESHOLD", "RECENT_SUSPENSION"]
    assert "游客投诉卫生问题" in page[0]["reasons"][1]["message"]
    seen = [p["certificate"]["number"] for p in page]
    after = first["reinspectionPlan"]["pageInfo"]["endCursor"]
    while after:
        data = await api.query(PLAN, {"first": 2, "after": after}, bureau.token)
        seen += [p["certificate"]["number"] for p in plan_of(data)]
        info = data["reinspectionPlan"]["pageInfo"]
        after = info["endCursor"] if info["hasNextPage"] else None
    assert sorted(seen) == sorted(numbers) and len(set(seen)) == 5
    # equal priorities: the nearest expiry, then the number, decide
    assert seen[1:] == sorted(numbers[:4])


async def test_plan_weights_are_settings(services, db, inspector, bureau, api):
    with shifted(-(VALIDITY - timedelta(days=30))):
        _, expiring = await certify(api, inspector.token, bureau.token, name="将到期民宿")
    _, near = await certify(
        api, inspector.token, bureau.token, name="勉强优品", points=THRESHOLDS["PREMIUM"] + 1
    )
    default = await services.plan.plan(["330521"], utcnow())
    assert [e.certificate.number for e in default] == [expiring["number"], near["number"]]
    heavy = PlanService(db, replace(PlanSettings(), near_threshold_weight=500))
    reordered = await heavy.plan(["330521"], utcnow())
    assert [e.certificate.number for e in reordered] == [near["number"], expiring["number"]]
    assert reordered[0].priority == 500


async def test_plan_is_for_staff_of_the_county(api, inspector, anji_inspector, bureau):
    await certify(api, inspector.token, bureau.token, points=THRESHOLDS["PREMIUM"])
    assert plan_of(await api.query(PLAN, {}, anji_inspector.token)) == []
    assert await api.error_code(PLAN, {"county": "330521"}, anji_inspector.token) == "FORBIDDEN"
    assert await api.error_code(PLAN, {}) == "UNAUTHENTICATED"
    assert await api.error_code(PLAN, {"first": 500}, inspector.token) == "BAD_USER_INPUT"
    assert await api.error_code(PLAN, {"after": "garbage"}, inspector.token) == "BAD_USER_INPUT"


async def test_statistics_are_county_isolated_and_add_up(
    api, inspector, bureau, anji_inspector, anji_bureau, make_staff
):
    from homestay.auth import Role

    second = await make_staff(Role.INSPECTOR, "330521", "Inspector Sun")
    _, a = await certify(api, inspector.token, bureau.token, name="甲")
    _, b = await certify(
        api, inspector.token, bureau.token, name="乙", points=THRESHOLDS["PREMIUM"]
    )
    _, c = await certify(api, second.token, bureau.token, name="丙")
    await certify(
        api,
        anji_inspector.token,
        anji_bureau.token,
        name="安吉",
        county="330523",
        address="安吉县天荒坪镇",
        location={"lat": 30.63, "lng": 119.68},
    )
    await change(api, bureau.token, "suspendCertificate", b["number"], "投诉")
    await change(api, bureau.token, "revokeCertificate", c["number"], "停业")
    stay = await register(api, second.token, name="待审")
    await submit(api, second.token, stay["id"], checklist(100))  # awaiting review
    rejected = await submit(api, second.token, stay["id"], checklist(0))
    assert (await review(api, bureau.token, rejected["id"], "REJECT", "照片不清"))["errors"] == []

    stats = (await api.query(STATS, {}, bureau.token))["statistics"]
    counts = {
        (c["county"]["code"], c["grade"], c["status"]): c["count"] for c in stats["certificates"]
    }
    assert counts == {
        ("330521", "BOUTIQUE", "VALID"): 1,
        ("330521", "PREMIUM", "SUSPENDED"): 1,
        ("330521", "BOUTIQUE", "REVOKED"): 1,
    }
    month = today().strftime("%Y-%m")  # months are China months
    [monthly] = stats["monthly"]
    assert monthly["county"]["code"] == "330521"
    assert monthly["month"][:4] == month[:4]
    assert (monthly["issued"], monthly["suspended"], monthly["revoked"]) == (3, 1, 1)
    inspectors = {i["inspector"]["name"]: i for i in stats["inspectors"]}
    assert set(inspectors) == {"Inspector Wang", "Inspector Sun"}
    sun = inspectors["Inspector Sun"]
    assert (sun["submitted"], sun["approved"], sun["rejected"], sun["pending"]) == (3, 1, 1, 1)
    assert inspectors["Inspector Wang"]["averagePoints"] == pytest.approx(
        (MAX_POINTS + THRESHOLDS["PREMIUM"]) / 2, abs=0.1
    )
    sections = {s["section"]: s for s in stats["sections"]}
    assert all(s["inspections"] == 3 for s in sections.values())
    assert sum(s["maxPoints"] for s in sections.values()) == MAX_POINTS
    assert sum(s["averagePoints"] for s in sections.values()) == pytest.approx(
        (2 * MAX_POINTS + THRESHOLDS["PREMIUM"]) / 3, abs=0.1
    )
    assert sections["hygiene"]["title"] == "卫生"

    anji = (await api.query(STATS, {}, anji_bureau.token))["statistics"]
    assert {c["county"]["code"] for c in anji["certificates"]} == {"330523"}
    assert [i["inspector"]["name"] for i in anji["inspectors"]] == ["Inspector Chen"]
    assert await api.error_code(STATS, {"county": "330521"}, anji_bureau.token) == "FORBIDDEN"
    assert await api.error_code(STATS, {}, inspector.token) == "FORBIDDEN"
    assert await api.error_code(STATS, {}) == "UNAUTHENTICATED"


async def test_statistics_run_in_the_database_not_in_python(
    api, bureau, inspector, db, command_counter
):
    for i in range(3):
        await certify(api, inspector.token, bureau.token, name=f"民宿{i}")
    before = command_counter.count(db.db.name)
    await api.query(STATS, {}, bureau.token)
    commands = command_counter.count(db.db.name) - before
    # the token, then one aggregation per figure (two for monthly) and the standard's items
    assert commands == 7


async def test_certificate_history_tells_who_when_why_from_and_to(
    api, inspector, bureau, anji_bureau
):
    _, cert = await certify(api, inspector.token, bureau.token)
    await change(api, bureau.token, "suspendCertificate", cert["number"], "消防通道堵塞")
    await change(api, bureau.token, "reinstateCertificate", cert["number"], "已整改")
    events = (await api.query(HISTORY, {"n": cert["number"]}, inspector.token))[
        "certificateHistory"
    ]
    assert [(e["action"], e["from"], e["to"]) for e in events] == [
        ("ISSUE", None, "VALID"),
        ("SUSPEND", "VALID", "SUSPENDED"),
        ("REINSTATE", "SUSPENDED", "VALID"),
    ]
    assert events[1]["reason"] == "消防通道堵塞" and events[1]["by"]["name"] == "Reviewer Li"
    assert events[1]["byRole"] == "BUREAU"
    assert events[0]["at"] <= events[1]["at"] <= events[2]["at"]
    assert await api.error_code(HISTORY, {"n": cert["number"]}, anji_bureau.token) == "FORBIDDEN"
    assert await api.error_code(HISTORY, {"n": cert["number"]}) == "UNAUTHENTICATED"
    assert (await api.query(HISTORY, {"n": "330521-2026-99999"}, bureau.token))[
        "certificateHistory"
    ] is None


async def test_statistics_periods_are_checked_and_bound_what_is_counted(api, inspector, bureau):
    await certify(api, inspector.token, bureau.token)
    period = """query($from: DateTime, $to: DateTime) { statistics(from: $from, to: $to) {
        monthly { issued } inspectors { submitted } } }"""
    now = utcnow()
    inside = (
        await api.query(
            period,
            {
                "from": (now - timedelta(days=1)).isoformat(),
                "to": (now + timedelta(days=1)).isoformat(),
            },
            bureau.token,
        )
    )["statistics"]
    assert inside["monthly"][0]["issued"] == 1 and inside["inspectors"][0]["submitted"] == 1
    before = (
        await api.query(
            period,
            {
                "from": (now - timedelta(days=30)).isoformat(),
                "to": (now - timedelta(days=1)).isoformat(),
            },
            bureau.token,
        )
    )["statistics"]
    assert before == {"monthly": [], "inspectors": []}
    backwards = await api.raw(
        period, {"from": now.isoformat(), "to": (now - timedelta(days=1)).isoformat()}, bureau.token
    )
    assert backwards["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "from"}
    too_long = await api.raw(
        period, {"from": (now - timedelta(days=3000)).isoformat()}, bureau.token
    )
    assert too_long["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
