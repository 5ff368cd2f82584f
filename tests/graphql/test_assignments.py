"""The county's working day: the bureau assigns, an inspector's submission completes, spot
checks are drawn so that anyone can draw them again, and the inspector's day is a route."""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

from homestay.auth import Role
from homestay.clock import today
from tests.conftest import ANJI, gid, key
from tests.graphql.flows import certify, register, submit

ASSIGN = """mutation($input: AssignInspectionInput!) { assignInspection(input: $input) {
  assignment { id status source dueDate overdue note inspector { id name } homestay { id }
    inspection { id } spotCheck { id } }
  warnings { field code } errors { field code message } } }"""
CANCEL = """mutation($input: CancelAssignmentInput!) { cancelAssignment(input: $input) {
  assignment { id status cancelledReason } errors { field code } } }"""
LIST = """query($status: AssignmentStatus, $inspectorId: ID, $first: Int, $after: String) {
  assignments(county: "330521", status: $status, inspectorId: $inspectorId, first: $first,
    after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { node { id status source overdue inspector { name } homestay { name } } } } }"""
MINE = """query($from: GeoPointInput, $date: Date, $first: Int, $after: String) {
  myAssignments(from: $from, date: $date, first: $first, after: $after) {
  totalMeters totalCount pageInfo { hasNextPage endCursor }
  stops { legMeters assignment { id dueDate homestay { name location { lat lng } } } } } }"""
DRAW = """mutation($input: DrawSpotChecksInput!) { drawSpotChecks(input: $input) {
  draw { id county count seed algorithm dueDate drawnNumbers
    candidates { certificateNumber weight certificate { number } }
    drawn { id source status inspector { id } homestay { id } } }
  errors { field code message } } }"""
DRAW_BY_ID = """query($id: ID!) { spotCheckDraw(id: $id) { id seed count
  candidates { certificateNumber weight } drawnNumbers } }"""


def due(days: int = 7) -> str:
    return (today() + timedelta(days=days)).isoformat()


async def test_the_bureau_assigns_and_the_inspectors_submission_completes_it(
    api, inspector, bureau, make_staff
):
    stay = await register(api, inspector.token, name="竹隐山居")
    other = await make_staff(Role.INSPECTOR, name="Inspector Sun")
    given = {
        "homestayId": stay["id"],
        "inspectorId": gid("Account", other.id),
        "dueDate": due(),
        "source": "REQUEST",
        "note": "operator asked",
    }
    made = (await api.query(ASSIGN, {"input": given}, bureau.token))["assignInspection"]
    assert made["errors"] == [] and made["warnings"] == []
    first = made["assignment"]
    assert first["status"] == "OPEN" and first["source"] == "REQUEST"
    assert first["inspector"]["name"] == "Inspector Sun" and not first["overdue"]
    # sent again (a lost answer): the same assignment, not a second
    again = (await api.query(ASSIGN, {"input": given}, bureau.token))["assignInspection"]
    assert again["assignment"]["id"] == first["id"]
    # another inspector while it is open: refused, named
    taken = (
        await api.query(
            ASSIGN, {"input": {**given, "inspectorId": gid("Account", inspector.id)}}, bureau.token
        )
    )["assignInspection"]
    assert [e["code"] for e in taken["errors"]] == ["ALREADY_ASSIGNED"]

    # someone else's submission leaves it open; the assigned inspector's completes it
    await submit(api, inspector.token, stay["id"])
    listed = (await api.query(LIST, {"status": "OPEN"}, bureau.token))["assignments"]
    assert [e["node"]["id"] for e in listed["edges"]] == [first["id"]]
    done = await submit(api, other.token, stay["id"])
    node = (
        await api.query(
            "query($id: ID!) { node(id: $id) { ... on Assignment { status inspection { id } } } }",
            {"id": first["id"]},
            bureau.token,
        )
    )["node"]
    assert node == {"status": "DONE", "inspection": {"id": done["id"]}}


async def test_assigning_checks_every_field_and_the_county(
    api, inspector, bureau, anji_inspector, anji_bureau
):
    stay = await register(api, inspector.token)
    bad = (
        await api.query(
            ASSIGN,
            {
                "input": {
                    "homestayId": stay["id"],
                    "inspectorId": gid("Account", anji_inspector.id),  # another county's
                    "dueDate": (today() - timedelta(days=1)).isoformat(),
                    "note": "x" * 501,
                }
            },
            bureau.token,
        )
    )["assignInspection"]
    assert sorted((".".join(e["field"]), e["code"]) for e in bad["errors"]) == [
        ("input.dueDate", "OUT_OF_RANGE"),
        ("input.inspectorId", "NOT_FOUND"),
        ("input.note", "TOO_LONG"),
    ]
    assert (await api.query(LIST, {}, bureau.token))["assignments"]["totalCount"] == 0
    # another county's bureau, and an inspector, may not assign here
    body = await api.raw(
        ASSIGN,
        {
            "input": {
                "homestayId": stay["id"],
                "inspectorId": gid("Account", inspector.id),
                "dueDate": due(),
            }
        },
        anji_bureau.token,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await api.error_code(LIST, {}, inspector.token) == "FORBIDDEN"
    assert await api.error_code(LIST, {}) == "UNAUTHENTICATED"


async def test_the_last_inspector_gets_a_warning_and_cancelling_frees_the_homestay(
    api, inspector, bureau
):
    stay = await register(api, inspector.token)
    await submit(api, inspector.token, stay["id"])
    given = {
        "homestayId": stay["id"],
        "inspectorId": gid("Account", inspector.id),
        "dueDate": due(),
    }
    made = (await api.query(ASSIGN, {"input": given}, bureau.token))["assignInspection"]
    assert made["errors"] == []
    assert made["warnings"] == [{"field": ["input", "inspectorId"], "code": "INSPECTED_LAST_TIME"}]
    # a spot check cannot be chosen by hand
    hand = (await api.query(ASSIGN, {"input": {**given, "source": "SPOT_CHECK"}}, bureau.token))[
        "assignInspection"
    ]
    assert hand["errors"][0]["field"] == ["input", "source"]

    cancelled = (
        await api.query(
            CANCEL,
            {"input": {"assignmentId": made["assignment"]["id"], "reason": "closed for winter"}},
            bureau.token,
        )
    )["cancelAssignment"]
    assert cancelled["assignment"]["status"] == "CANCELLED"
    assert cancelled["assignment"]["cancelledReason"] == "closed for winter"
    # cancelled again: the same answer; the homestay may be assigned afresh
    again = (
        await api.query(CANCEL, {"input": {"assignmentId": made["assignment"]["id"]}}, bureau.token)
    )["cancelAssignment"]
    assert again["errors"] == [] and again["assignment"]["status"] == "CANCELLED"
    fresh = (await api.query(ASSIGN, {"input": given}, bureau.token))["assignInspection"]
    assert fresh["assignment"]["id"] != made["assignment"]["id"]


def redraw(seed: str, candidates: list[dict], count: int) -> list[str]:
    """The draw as the record describes it, written from its description alone."""
    keys = []
    for c in candidates:
        digest = hashlib.sha256(f"{seed}:{c['certificateNumber']}".encode()).digest()
        u = (int.from_bytes(digest[:8], "big") + 0.5) / 2**64
        keys.append((-math.log(u) / c["weight"], c["certificateNumber"]))
    return [n for _, n in sorted(keys)[:count]]


async def test_a_spot_check_draw_is_recorded_and_can_be_drawn_again_by_anyone(
    api, inspector, bureau, make_staff
):
    for i in range(6):
        await certify(api, inspector.token, bureau.token, name=f"山居{i}")
    inp = {"county": "330521", "count": 3, "seed": "2026-12 county board"}
    made = (await api.query(DRAW, {"input": inp}, bureau.token))["drawSpotChecks"]
    assert made["errors"] == []
    draw = made["draw"]
    assert draw["algorithm"] == "efraimidis-spirakis-exp/sha256-v1"
    assert len(draw["candidates"]) == 6 and all(c["weight"] >= 10 for c in draw["candidates"])
    assert draw["drawnNumbers"] == redraw(draw["seed"], draw["candidates"], 3)
    assert [a["source"] for a in draw["drawn"]] == ["SPOT_CHECK"] * 3
    assert all(a["inspector"] is None and a["status"] == "OPEN" for a in draw["drawn"])
    # the record, read again, says the same
    shown = (await api.query(DRAW_BY_ID, {"id": draw["id"]}, bureau.token))["spotCheckDraw"]
    assert redraw(shown["seed"], shown["candidates"], shown["count"]) == draw["drawnNumbers"]
    # sent again: the same draw, no new assignments; another count with that seed: refused
    again = (await api.query(DRAW, {"input": inp}, bureau.token))["drawSpotChecks"]
    assert again["draw"]["id"] == draw["id"]
    assert (await api.query(LIST, {}, bureau.token))["assignments"]["totalCount"] == 3
    other = (await api.query(DRAW, {"input": {**inp, "count": 2}}, bureau.token))["drawSpotChecks"]
    assert [e["code"] for e in other["errors"]] == ["SEED_USED"]
    # a second draw skips the stays sent for already
    second = (await api.query(DRAW, {"input": {**inp, "seed": "another"}}, bureau.token))[
        "drawSpotChecks"
    ]["draw"]
    assert len(second["candidates"]) == 3
    assert not set(second["drawnNumbers"]) & set(draw["drawnNumbers"])

    # sending someone: never the inspector who inspected it last (impartiality)
    drawn = draw["drawn"][0]
    refused = (
        await api.query(
            ASSIGN,
            {
                "input": {
                    "homestayId": drawn["homestay"]["id"],
                    "inspectorId": gid("Account", inspector.id),
                    "dueDate": due(),
                }
            },
            bureau.token,
        )
    )["assignInspection"]
    assert [e["code"] for e in refused["errors"]] == ["NOT_IMPARTIAL"]
    other_inspector = await make_staff(Role.INSPECTOR, name="Inspector Sun")
    sent = (
        await api.query(
            ASSIGN,
            {
                "input": {
                    "homestayId": drawn["homestay"]["id"],
                    "inspectorId": gid("Account", other_inspector.id),
                    "dueDate": due(),
                }
            },
            bureau.token,
        )
    )["assignInspection"]
    assert sent["assignment"]["id"] == drawn["id"]  # the drawn assignment, taken up
    assert sent["assignment"]["source"] == "SPOT_CHECK"
    assert sent["assignment"]["spotCheck"]["id"] == draw["id"]


async def test_a_draw_checks_its_input_and_the_county(api, inspector, bureau, anji_bureau):
    bad = (await api.query(DRAW, {"input": {"county": "330521", "count": 0}}, bureau.token))[
        "drawSpotChecks"
    ]
    assert [(e["field"], e["code"]) for e in bad["errors"]] == [
        (["input", "count"], "OUT_OF_RANGE")
    ]
    body = await api.raw(DRAW, {"input": {"county": "330521", "count": 1}}, anji_bureau.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await api.error_code(DRAW, {"input": {"county": ANJI, "count": 1}}, inspector.token) == (
        "FORBIDDEN"
    )


async def test_the_inspectors_day_is_a_route_from_where_they_stand(api, inspector, bureau):
    places = [(30.60, 119.90), (30.50, 119.80), (30.61, 119.91), (30.51, 119.81), (30.55, 119.85)]
    ids = []
    for i, (lat, lng) in enumerate(places):
        stay = await register(
            api, inspector.token, name=f"站{i}", location={"lat": lat, "lng": lng}
        )
        made = (
            await api.query(
                ASSIGN,
                {
                    "input": {
                        "homestayId": stay["id"],
                        "inspectorId": gid("Account", inspector.id),
                        "dueDate": due(1),
                    }
                },
                bureau.token,
            )
        )["assignInspection"]
        ids.append(made["assignment"]["id"])
    start = {"lat": 30.49, "lng": 119.79}
    route = (await api.query(MINE, {"from": start, "date": due(1)}, inspector.token))[
        "myAssignments"
    ]
    names = [s["assignment"]["homestay"]["name"] for s in route["stops"]]
    # from the south-west: the two near each other there, the middle, then the north pair
    assert names[:2] == ["站1", "站3"] and names[2] == "站4" and set(names[3:]) == {"站0", "站2"}
    assert route["totalCount"] == 5
    assert abs(route["totalMeters"] - sum(s["legMeters"] for s in route["stops"])) < 1e-6
    # paged: the same route, in pieces
    page = (await api.query(MINE, {"from": start, "date": due(1), "first": 2}, inspector.token))[
        "myAssignments"
    ]
    rest = (
        await api.query(
            MINE,
            {"from": start, "date": due(1), "first": 10, "after": page["pageInfo"]["endCursor"]},
            inspector.token,
        )
    )["myAssignments"]
    assert [s["assignment"]["id"] for s in page["stops"] + rest["stops"]] == [
        s["assignment"]["id"] for s in route["stops"]
    ]
    # another day has none; the bureau has no "my" assignments
    other = await api.query(MINE, {"from": start, "date": due(2)}, inspector.token)
    assert other["myAssignments"]["stops"] == []
    assert await api.error_code(MINE, {}, bureau.token) == "FORBIDDEN"
    assert key(ids[0])
