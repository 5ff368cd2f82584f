"""The live desk over graphql-transport-ws, with a real client (gql's websockets transport)
against the service served by uvicorn: events from the database's change feed, a cursor that
replays what was missed, a revoked token's socket closed, limits, and nothing left behind."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from gql import gql
from gql.transport.exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportQueryError,
)
from websockets.exceptions import ConnectionClosed

from homestay.auth import Role
from homestay.clock import today
from homestay.services.accounts import revoke_account
from homestay.services.assignments import mark_due_tomorrow
from homestay.services.pagination import encode_cursor
from homestay.services.registry import Services
from tests.conftest import ANJI, gid, key
from tests.graphql.flows import certify, register, submit
from tests.live_server import Served, base64url, collect, serving
from tests.served import served

DESK = gql(
    """subscription($county: String!, $after: String) { deskEvents(county: $county, after: $after) {
  cursor kind at inspection { id } concern { receipt } request { id }
  certificate { number status } } }"""
)
MINE = gql("""subscription { assignmentEvents { cursor kind assignment { id status dueDate } } }""")
ASSIGN = """mutation($input: AssignInspectionInput!) { assignInspection(input: $input) {
  assignment { id } errors { code } } }"""
CANCEL = """mutation($id: ID!) { cancelAssignment(input: {assignmentId: $id}) {
  assignment { id } errors { code } } }"""
REQUEST = """mutation($id: ID!) { requestInspection(input: {homestayId: $id}) {
  request { id } errors { code } } }"""
SUSPEND = """mutation($n: String!) { suspendCertificate(input: {number: $n, reason: "卫生整改"}) {
  errors { code } } }"""
REPORT = """mutation($n: String!) { reportConcern(input: {certificateNumber: $n,
  category: HYGIENE, description: "床单没有换"}) { receipt errors { code } } }"""


@pytest.fixture
async def live(settings, services) -> AsyncIterator[Served]:
    async with serving(settings, services) as served:
        yield served


async def test_the_desk_sees_its_countys_work_as_it_happens(
    api, live, inspector, bureau, anji_inspector, anji_bureau, make_operator
):
    events: list[dict] = []
    async with live.client(bureau.token) as session:
        listening = asyncio.create_task(collect(session, DESK, {"county": "330521"}, 5, events))
        await live.until(lambda: live.services.live.feed.subscribers == 1)
        # another county's work is not this desk's
        await certify(
            api,
            anji_inspector.token,
            anji_bureau.token,
            county=ANJI,
            address="安吉县天荒坪镇大溪村1号",
            location={"lat": 30.63, "lng": 119.68},
        )
        stay, certificate = await certify(api, inspector.token, bureau.token)
        operator = await make_operator([key(stay["id"])])
        asked = (await api.query(REQUEST, {"id": stay["id"]}, operator.token))["requestInspection"]
        concern = (await api.query(REPORT, {"n": certificate["number"]}))["reportConcern"]
        suspended = await api.query(SUSPEND, {"n": certificate["number"]}, bureau.token)
        assert suspended["suspendCertificate"]["errors"] == []
        await asyncio.wait_for(listening, 10)
    got = [e["deskEvents"] for e in events]
    assert [e["kind"] for e in got] == [
        "INSPECTION_SUBMITTED",
        "CERTIFICATE_CHANGED",
        "INSPECTION_REQUESTED",
        "CONCERN_REPORTED",
        "CERTIFICATE_CHANGED",
    ]
    assert got[1]["certificate"] == {"number": certificate["number"], "status": "VALID"}
    assert got[2]["request"]["id"] == asked["request"]["id"]
    assert got[3]["concern"]["receipt"] == concern["receipt"]
    assert got[4]["certificate"]["status"] == "SUSPENDED"
    assert [e["at"] for e in got] == sorted(e["at"] for e in got)


async def test_a_desk_that_reconnects_with_its_cursor_misses_nothing(api, live, inspector, bureau):
    first: list[dict] = []
    async with live.client(bureau.token) as session:
        listening = asyncio.create_task(collect(session, DESK, {"county": "330521"}, 1, first))
        await live.until(lambda: live.services.live.feed.subscribers == 1)
        stay = await register(api, inspector.token, name="一号")
        await submit(api, inspector.token, stay["id"])
        await asyncio.wait_for(listening, 10)
    # away (a tunnel, a closed laptop) while two more arrive
    for name in ("二号", "三号"):
        other = await register(api, inspector.token, name=name)
        await submit(api, inspector.token, other["id"])
    cursor = first[0]["deskEvents"]["cursor"]
    missed: list[dict] = []
    async with live.client(bureau.token) as session:
        await asyncio.wait_for(
            collect(session, DESK, {"county": "330521", "after": cursor}, 2, missed), 10
        )
    inspections = [e["deskEvents"]["inspection"]["id"] for e in missed]
    assert len(set(inspections)) == 2
    assert first[0]["deskEvents"]["inspection"]["id"] not in inspections
    # a cursor the service no longer keeps, or one it never gave: refused in words
    old = encode_cursor([json.loads(base64url(cursor))[0], "2026-01-01T00:00:00+00:00"])
    async with live.client(bureau.token) as session:
        with pytest.raises(TransportQueryError) as refused:
            await collect(session, DESK, {"county": "330521", "after": old}, 1, [])
        assert "more than a day old" in str(refused.value)
        with pytest.raises(TransportQueryError):
            await collect(session, DESK, {"county": "330521", "after": "nonsense"}, 1, [])


async def test_an_inspector_hears_of_its_own_assignments(api, live, inspector, bureau, make_staff):
    other = await make_staff(Role.INSPECTOR, name="Inspector Sun")
    stay = await register(api, inspector.token)
    heard: list[dict] = []
    overheard: list[dict] = []
    async with live.client(inspector.token) as mine, live.client(other.token) as theirs:
        listening = asyncio.create_task(collect(mine, MINE, {}, 3, heard))
        eavesdropping = asyncio.create_task(collect(theirs, MINE, {}, 1, overheard))
        await live.until(lambda: live.services.live.feed.subscribers == 2)
        tomorrow = (today() + timedelta(days=1)).isoformat()
        made = (
            await api.query(
                ASSIGN,
                {
                    "input": {
                        "homestayId": stay["id"],
                        "inspectorId": gid("Account", inspector.id),
                        "dueDate": tomorrow,
                    }
                },
                bureau.token,
            )
        )["assignInspection"]
        assert await mark_due_tomorrow(live.services.db, today()) == 1
        assert await mark_due_tomorrow(live.services.db, today()) == 0  # told once
        await api.query(CANCEL, {"id": made["assignment"]["id"]}, bureau.token)
        await asyncio.wait_for(listening, 10)
        await asyncio.sleep(0.3)
        assert overheard == []
        eavesdropping.cancel()
    assert [e["assignmentEvents"]["kind"] for e in heard] == [
        "ASSIGNED",
        "DUE_TOMORROW",
        "CANCELLED",
    ]
    assert {e["assignmentEvents"]["assignment"]["id"] for e in heard} == {made["assignment"]["id"]}


async def test_a_revoked_token_closes_its_socket_and_nothing_is_left_behind(api, live, bureau, db):
    live_state = live.services.live
    async with live.client(bureau.token) as session:
        listening = asyncio.create_task(collect(session, DESK, {"county": "330521"}, 1, []))
        await live.until(lambda: live_state.feed.subscribers == 1)
        assert live_state.sockets == 1 and live_state.limits.active == 1
        await revoke_account(db, bureau.id)
        with pytest.raises((TransportClosed, TransportConnectionFailed, ConnectionClosed)):
            await asyncio.wait_for(listening, 10)
    await live.until(
        lambda: (
            (live_state.feed.subscribers, live_state.sockets, live_state.limits.active) == (0, 0, 0)
        )
    )
    # and the token opens no new socket
    with pytest.raises(Exception):  # noqa: B017 - refused at connection_init (4403)
        async with live.client(bureau.token) as session:
            await collect(session, DESK, {"county": "330521"}, 1, [])


async def test_a_socket_must_say_who_it_is_and_carries_subscriptions_only(
    live, inspector, bureau, anji_bureau
):
    with pytest.raises(Exception):  # noqa: B017 - no token: 4403 at connection_init
        async with live.client(None) as session:
            await collect(session, DESK, {"county": "330521"}, 1, [])
    async with live.client(bureau.token) as session:
        with pytest.raises(TransportQueryError) as query:
            await session.execute(gql("{ me { name } }"))
        assert "subscriptions only" in str(query.value)
    async with live.client(anji_bureau.token) as session:
        with pytest.raises(TransportQueryError) as other:
            await collect(session, DESK, {"county": "330521"}, 1, [])
        assert "FORBIDDEN" in str(other.value)
    async with live.client(inspector.token) as session:
        with pytest.raises(TransportQueryError) as role:
            await collect(session, DESK, {"county": "330521"}, 1, [])
        assert "FORBIDDEN" in str(role.value)


async def test_subscriptions_are_limited_per_account(settings, db, bureau):
    limited = replace(settings, live_per_account=2)
    services = Services.build(limited, db)
    async with serving(limited, services) as live:
        async with live.client(bureau.token) as session:
            held = [
                asyncio.create_task(collect(session, DESK, {"county": "330521"}, 1, []))
                for _ in range(2)
            ]
            await live.until(lambda: services.live.feed.subscribers == 2)
            with pytest.raises(TransportQueryError) as third:
                await collect(session, DESK, {"county": "330521"}, 1, [])
            assert "RATE_LIMITED" in str(third.value)
            for task in held:
                task.cancel()
        await live.until(lambda: services.live.limits.active == 0)


async def test_a_subscription_sent_over_http_is_refused_in_words(api, bureau):
    body = await api.raw('subscription { deskEvents(county: "330521") { kind } }', {}, bureau.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "WebSocket" in body["errors"][0]["message"]


def _gauge(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return float(re.search(rf"^{name} (\S+)$", text, re.M).group(1))


async def test_a_write_through_another_process_reaches_a_subscriber_of_this_one(
    api, mongodb_uri, db, inspector, bureau, tmp_path
):
    with served(mongodb_uri, tmp_path, database=db.db.name) as url:
        other = Served(url.replace("http://", "ws://") + "/graphql", None)
        got: list[dict] = []
        async with other.client(bureau.token) as session:
            listening = asyncio.create_task(collect(session, DESK, {"county": "330521"}, 1, got))
            await other.until(lambda: _gauge(url, "homestay_live_subscriptions") == 1)
            stay = await register(api, inspector.token)  # through this process
            done = await submit(api, inspector.token, stay["id"])
            await asyncio.wait_for(listening, 10)
        assert got[0]["deskEvents"]["inspection"]["id"] == done["id"]
        # the socket closed, the other process holds nothing for it
        await other.until(lambda: _gauge(url, "homestay_live_sockets") == 0)
        assert _gauge(url, "homestay_live_subscriptions") == 0
