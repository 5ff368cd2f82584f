"""An operator asks to be inspected: the county's queue, oldest first; the inspection that
follows closes the request; a request left waiting enters the re-inspection plan."""

from __future__ import annotations

from datetime import timedelta

from homestay.auth import Role
from homestay.clock import utcnow
from tests.conftest import key
from tests.graphql.flows import certify, register, submit

REQUEST = """mutation($input: RequestInspectionInput!) { requestInspection(input: $input) {
  request { id status targetGrade note homestay { id } requestedBy { name } inspectionId }
  errors { field code } } }"""
QUEUE = """query($status: InspectionRequestStatus) { inspectionRequests(status: $status) {
  totalCount edges { node { id status homestay { name } closedAt inspectionId } } } }"""
PLAN = """{ reinspectionPlan(county: "330521") { edges { node { homestay { id }
  reasons { code } } } } }"""


async def test_a_request_waits_in_the_queue_until_an_inspection_closes_it(
    api, db, inspector, make_operator, make_staff
):
    first = await register(api, inspector.token, name="竹隐山居")
    second = await register(api, inspector.token, name="溪语小院")
    operator = await make_operator([key(first["id"]), key(second["id"])], "张老板")

    asked = (
        await api.query(
            REQUEST,
            {"input": {"homestayId": first["id"], "targetGrade": "PREMIUM", "note": "新装修完成"}},
            operator.token,
        )
    )["requestInspection"]
    assert asked["errors"] == []
    assert asked["request"]["status"] == "OPEN" and asked["request"]["targetGrade"] == "PREMIUM"
    assert asked["request"]["requestedBy"]["name"] == "张老板"
    # asked again (a lost answer, a second tap): the same request, not a second one
    again = (await api.query(REQUEST, {"input": {"homestayId": first["id"]}}, operator.token))[
        "requestInspection"
    ]
    assert again["request"]["id"] == asked["request"]["id"]
    await api.query(REQUEST, {"input": {"homestayId": second["id"]}}, operator.token)

    queue = (await api.query(QUEUE, {"status": "OPEN"}, inspector.token))["inspectionRequests"]
    assert [e["node"]["homestay"]["name"] for e in queue["edges"]] == ["竹隐山居", "溪语小院"]
    assert queue["totalCount"] == 2
    anji = await make_staff(Role.INSPECTOR, "330523")
    assert (await api.query(QUEUE, {}, anji.token))["inspectionRequests"]["totalCount"] == 0

    inspection = await submit(api, inspector.token, first["id"])
    closed = (await api.query(QUEUE, {"status": "CLOSED"}, inspector.token))["inspectionRequests"][
        "edges"
    ]
    assert [e["node"]["inspectionId"] for e in closed] == [inspection["id"]]
    assert closed[0]["node"]["closedAt"]
    still = (await api.query(QUEUE, {"status": "OPEN"}, operator.token))["inspectionRequests"]
    assert [e["node"]["homestay"]["name"] for e in still["edges"]] == ["溪语小院"]
    # a new request after that inspection is a new one
    renewed = (await api.query(REQUEST, {"input": {"homestayId": first["id"]}}, operator.token))[
        "requestInspection"
    ]["request"]
    assert renewed["id"] != asked["request"]["id"] and renewed["status"] == "OPEN"


async def test_an_operator_asks_only_for_its_own_homestay_and_says_it_plainly(
    api, inspector, make_operator
):
    ours = await register(api, inspector.token)
    theirs = await register(api, inspector.token, name="别家")
    operator = await make_operator([key(ours["id"])])
    assert (
        await api.error_code(REQUEST, {"input": {"homestayId": theirs["id"]}}, operator.token)
        == "FORBIDDEN"
    )
    assert (
        await api.error_code(REQUEST, {"input": {"homestayId": ours["id"]}}, inspector.token)
        == "FORBIDDEN"
    )
    errors = (
        await api.query(
            REQUEST, {"input": {"homestayId": ours["id"], "note": "x" * 501}}, operator.token
        )
    )["requestInspection"]["errors"]
    assert errors == [{"field": ["input", "note"], "code": "TOO_LONG"}]


async def test_a_request_left_waiting_a_month_enters_the_plan(
    api, db, inspector, bureau, make_operator
):
    stay, _ = await certify(api, inspector.token, bureau.token)
    operator = await make_operator([key(stay["id"])])
    await api.query(REQUEST, {"input": {"homestayId": stay["id"]}}, operator.token)

    def reasons(plan):
        return [
            r["code"]
            for e in plan["reinspectionPlan"]["edges"]
            if e["node"]["homestay"]["id"] == stay["id"]
            for r in e["node"]["reasons"]
        ]

    assert "REQUEST_WAITING" not in reasons(await api.query(PLAN, token=inspector.token))
    request = await db.inspection_requests.find_one({"homestayId": key(stay["id"])})
    await db.inspection_requests.update_one(
        {"_id": request["_id"]},
        {"$set": {"requestedAt": request["requestedAt"] - timedelta(days=31)}},
    )
    assert "REQUEST_WAITING" in reasons(await api.query(PLAN, token=inspector.token))


async def test_a_never_certified_homestay_that_waits_a_month_is_in_the_plan_too(
    api, db, inspector, bureau, make_operator
):
    await certify(api, inspector.token, bureau.token)  # a certified neighbour, for the order
    new = await register(api, inspector.token, name="新开小院")
    operator = await make_operator([key(new["id"])])
    await api.query(REQUEST, {"input": {"homestayId": new["id"]}}, operator.token)
    plan = """{ reinspectionPlan(county: "330521") { totalCount edges { node {
        homestay { id name } certificate { number } reasons { code } } } } }"""
    assert (await api.query(plan, token=inspector.token))["reinspectionPlan"]["totalCount"] == 0
    await db.inspection_requests.update_one(
        {"homestayId": key(new["id"])}, {"$set": {"requestedAt": utcnow() - timedelta(days=45)}}
    )
    entries = (await api.query(plan, token=inspector.token))["reinspectionPlan"]["edges"]
    assert [e["node"] for e in entries] == [
        {
            "homestay": {"id": new["id"], "name": "新开小院"},
            "certificate": None,
            "reasons": [{"code": "REQUEST_WAITING"}],
        }
    ]
    # the inspection it asked for closes the request, and the homestay leaves the plan
    await submit(api, inspector.token, new["id"])
    assert (await api.query(plan, token=inspector.token))["reinspectionPlan"]["totalCount"] == 0
