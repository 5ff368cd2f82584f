"""An operator appeals a rejection, a suspension or a revocation; the bureau decides, never
the person who made the decision; every step is in the history and the statistics."""

from __future__ import annotations

from datetime import timedelta

from homestay.auth import Role
from homestay.clock import china_date, utcnow
from tests.conftest import key
from tests.graphql.flows import certify, register, review, submit

APPEAL = """mutation($input: AppealDecisionInput!) { appealDecision(input: $input) {
  appeal { id subject status reason decisionBy { name } appellant { name } certificateNumber
           inspection { id } }
  errors { field code message } } }"""
DECIDE = """mutation($input: DecideAppealInput!) { decideAppeal(input: $input) {
  appeal { id status ruling { decision reason by { name } } }
  certificate { number status }
  inspection { id status review { reviewer { name } } }
  errors { field code message } } }"""
CHANGE = """mutation($n: String!, $r: String!) { %s(input: {number: $n, reason: $r}) {
  certificate { status } errors { code } } }"""
HISTORY = """query($n: String!) { certificateHistory(number: $n) { action from to reason } }"""
VERIFY = """query($n: String!) { verifyCertificate(number: $n) { status } }"""
LISTED = """{ searchStays { totalCount } }"""
QUEUE = """query($status: AppealStatus, $county: String) { appeals(status: $status,
  county: $county) { totalCount edges { node { id subject status homestay { name } } } } }"""


async def _appeal(api, token, **input):
    return (await api.query(APPEAL, {"input": input}, token))["appealDecision"]


async def _decide(api, token, appeal_id, decision, reason="复核"):
    return (
        await api.query(
            DECIDE,
            {"input": {"appealId": appeal_id, "decision": decision, "reason": reason}},
            token,
        )
    )["decideAppeal"]


async def _change(api, token, action, number, reason):
    done = (await api.query(CHANGE % action, {"n": number, "r": reason}, token))[action]
    assert done["errors"] == []


async def test_an_overturned_suspension_reinstates_the_certificate(
    api, inspector, bureau, make_staff, make_operator
):
    stay, cert = await certify(api, inspector.token, bureau.token)
    operator = await make_operator([key(stay["id"])], "张老板")
    await _change(api, bureau.token, "suspendCertificate", cert["number"], "消防通道堵塞")
    assert (await api.query(LISTED))["searchStays"]["totalCount"] == 0

    filed = await _appeal(
        api, operator.token, certificateNumber=cert["number"], reason="通道当天已清理，有照片为证"
    )
    assert filed["errors"] == []
    appeal = filed["appeal"]
    assert (appeal["subject"], appeal["status"]) == ("SUSPENSION", "OPEN")
    assert appeal["decisionBy"]["name"] == "Reviewer Li"
    assert appeal["appellant"]["name"] == "张老板"
    # sent again (a lost answer): the same appeal; another appeal of the same decision: no
    again = await _appeal(
        api, operator.token, certificateNumber=cert["number"], reason="通道当天已清理，有照片为证"
    )
    assert again["appeal"]["id"] == appeal["id"]
    other = await _appeal(api, operator.token, certificateNumber=cert["number"], reason="再申诉")
    assert [e["code"] for e in other["errors"]] == ["ALREADY_APPEALED"]

    # the officer who suspended it does not judge the appeal
    own = await _decide(api, bureau.token, appeal["id"], "OVERTURN")
    assert [(e["field"], e["code"]) for e in own["errors"]] == [
        (["input", "appealId"], "NOT_IMPARTIAL")
    ]
    colleague = await make_staff(Role.BUREAU, "330521", "Reviewer Sun")
    decided = await _decide(api, colleague.token, appeal["id"], "OVERTURN", "照片属实")
    assert decided["errors"] == []
    assert decided["appeal"]["status"] == "OVERTURNED"
    assert decided["appeal"]["ruling"]["by"]["name"] == "Reviewer Sun"
    assert decided["certificate"]["status"] == "VALID"
    assert (await api.query(VERIFY, {"n": cert["number"]}))["verifyCertificate"][
        "status"
    ] == "VALID"
    assert (await api.query(LISTED))["searchStays"]["totalCount"] == 1
    # the same decision sent again changes nothing more; a different one is refused
    replay = await _decide(api, colleague.token, appeal["id"], "OVERTURN", "照片属实")
    assert replay["errors"] == [] and replay["certificate"]["status"] == "VALID"
    flip = await _decide(api, colleague.token, appeal["id"], "UPHOLD")
    assert [e["code"] for e in flip["errors"]] == ["ALREADY_DECIDED"]

    history = (await api.query(HISTORY, {"n": cert["number"]}, operator.token))[
        "certificateHistory"
    ]
    assert [(e["action"], e["from"], e["to"]) for e in history] == [
        ("ISSUE", None, "VALID"),
        ("SUSPEND", "VALID", "SUSPENDED"),
        ("APPEAL", "SUSPENDED", "SUSPENDED"),
        ("APPEAL_OVERTURNED", "SUSPENDED", "SUSPENDED"),
        ("REINSTATE", "SUSPENDED", "VALID"),
    ]
    assert history[2]["reason"] == "通道当天已清理，有照片为证"
    assert "照片属实" in history[3]["reason"]


async def test_an_upheld_appeal_leaves_the_certificate_as_it_was(
    api, inspector, bureau, make_staff, make_operator
):
    stay, cert = await certify(api, inspector.token, bureau.token)
    operator = await make_operator([key(stay["id"])])
    await _change(api, bureau.token, "revokeCertificate", cert["number"], "停止营业")
    appeal = (
        await _appeal(api, operator.token, certificateNumber=cert["number"], reason="仍在营业")
    )["appeal"]
    assert appeal["subject"] == "REVOCATION"
    colleague = await make_staff(Role.BUREAU, "330521", "Reviewer Sun")
    decided = await _decide(api, colleague.token, appeal["id"], "UPHOLD", "现场核实已停业")
    assert decided["appeal"]["status"] == "UPHELD"
    assert decided["certificate"]["status"] == "REVOKED"
    history = (await api.query(HISTORY, {"n": cert["number"]}, colleague.token))[
        "certificateHistory"
    ]
    assert [e["action"] for e in history][-2:] == ["APPEAL", "APPEAL_UPHELD"]
    assert (await api.query(LISTED))["searchStays"]["totalCount"] == 0


async def test_an_overturned_revocation_restores_the_certificate_unless_it_expired(
    api, db, inspector, bureau, make_staff, make_operator
):
    stay, cert = await certify(api, inspector.token, bureau.token)
    lapsed_stay, lapsed = await certify(
        api, inspector.token, bureau.token, name="溪语小院", location={"lat": 30.58, "lng": 119.88}
    )
    operator = await make_operator([key(stay["id"]), key(lapsed_stay["id"])])
    colleague = await make_staff(Role.BUREAU, "330521", "Reviewer Sun")
    for number in (cert["number"], lapsed["number"]):
        await _change(api, bureau.token, "revokeCertificate", number, "投诉属实")
    # the second one's term ends meanwhile
    await db.certificates.update_one(
        {"_id": lapsed["number"]}, {"$set": {"expiresAt": utcnow() - timedelta(days=1)}}
    )

    appeals = [
        (await _appeal(api, operator.token, certificateNumber=number, reason="投诉不实"))["appeal"][
            "id"
        ]
        for number in (cert["number"], lapsed["number"])
    ]
    restored = await _decide(api, colleague.token, appeals[0], "OVERTURN", "投诉人撤回")
    assert restored["certificate"]["status"] == "VALID"
    assert (await api.query(LISTED))["searchStays"]["totalCount"] == 1
    history = (await api.query(HISTORY, {"n": cert["number"]}, colleague.token))[
        "certificateHistory"
    ]
    assert [e["action"] for e in history][-1] == "RESTORE"

    expired = await _decide(api, colleague.token, appeals[1], "OVERTURN", "投诉人撤回")
    assert expired["appeal"]["status"] == "OVERTURNED"
    assert expired["certificate"]["status"] == "REVOKED"  # nothing left to restore


async def test_an_overturned_rejection_goes_back_to_review_by_someone_else(
    api, inspector, bureau, make_staff, make_operator
):
    stay = await register(api, inspector.token)
    operator = await make_operator([key(stay["id"])])
    inspection = await submit(api, inspector.token, stay["id"])
    rejected = await review(api, bureau.token, inspection["id"], "REJECT", "照片模糊")
    assert rejected["inspection"]["status"] == "REJECTED"

    appeal = (
        await _appeal(api, operator.token, inspectionId=inspection["id"], reason="原图清晰，可补传")
    )["appeal"]
    assert appeal["subject"] == "REJECTION"
    assert appeal["inspection"]["id"] == inspection["id"]
    colleague = await make_staff(Role.BUREAU, "330521", "Reviewer Sun")
    decided = await _decide(api, colleague.token, appeal["id"], "OVERTURN", "原图清晰")
    assert decided["inspection"]["status"] == "SUBMITTED"
    assert decided["inspection"]["review"] is None

    # the reviewer who rejected it may not review it again; someone else does
    barred = await review(api, bureau.token, inspection["id"], "APPROVE")
    assert [e["code"] for e in barred["errors"]] == ["NOT_IMPARTIAL"]
    approved = await review(api, colleague.token, inspection["id"], "APPROVE")
    assert approved["errors"] == []
    assert approved["certificate"]["status"] == "VALID"
    seen = await api.query(
        """query($i: ID!) { inspection(id: $i) { status
        appeals { status ruling { decision } } } }""",
        {"i": inspection["id"]},
        operator.token,
    )
    assert seen["inspection"]["appeals"] == [
        {"status": "OVERTURNED", "ruling": {"decision": "OVERTURN"}}
    ]


async def test_what_cannot_be_appealed_is_refused_plainly(
    api, db, inspector, bureau, make_operator
):
    stay, cert = await certify(api, inspector.token, bureau.token)
    other, _ = await certify(
        api, inspector.token, bureau.token, name="别家", location={"lat": 30.58, "lng": 119.88}
    )
    operator = await make_operator([key(stay["id"])])
    approved = await submit(api, inspector.token, stay["id"])
    await review(api, bureau.token, approved["id"], "APPROVE")
    fresh_number = (
        await db.certificates.find_one({"homestayId": key(stay["id"]), "current": True})
    )["_id"]

    def codes(payload):
        return [(e["field"], e["code"]) for e in payload["errors"]]

    assert codes(
        await _appeal(api, operator.token, certificateNumber=fresh_number, reason="?")
    ) == [(["input", "certificateNumber"], "NOT_APPEALABLE")]
    assert codes(await _appeal(api, operator.token, inspectionId=approved["id"], reason="?")) == [
        (["input", "inspectionId"], "NOT_APPEALABLE")
    ]
    assert codes(await _appeal(api, operator.token, reason="?")) == [(["input"], "INVALID")]
    assert codes(
        await _appeal(
            api,
            operator.token,
            inspectionId=approved["id"],
            certificateNumber=fresh_number,
            reason="?",
        )
    ) == [(["input"], "INVALID")]
    assert codes(
        await _appeal(api, operator.token, certificateNumber=fresh_number, reason="长" * 100_000)
    ) == [(["input", "reason"], "TOO_LONG")]
    assert codes(
        await _appeal(api, operator.token, certificateNumber="330521-2026-99999", reason="?")
    ) == [(["input", "certificateNumber"], "NOT_FOUND")]
    # another homestay's certificate: not this operator's to appeal
    other_number = (await db.certificates.find_one({"homestayId": key(other["id"])}))["_id"]
    assert (
        await api.error_code(
            APPEAL, {"input": {"certificateNumber": other_number, "reason": "?"}}, operator.token
        )
        == "FORBIDDEN"
    )

    # 30 days after the decision, the door is closed
    await _change(api, bureau.token, "suspendCertificate", fresh_number, "整改")
    await db.certificates.update_one(
        {"_id": fresh_number},
        {"$set": {"history.$[e].at": utcnow() - timedelta(days=31)}},
        array_filters=[{"e.action": "SUSPEND"}],
    )
    late = await _appeal(api, operator.token, certificateNumber=fresh_number, reason="迟到")
    assert codes(late) == [(["input", "certificateNumber"], "TOO_LATE")]
    assert await db.appeals.count_documents({}) == 0  # nothing half-written


async def test_the_queue_and_the_statistics_count_appeals_by_outcome(
    api, inspector, bureau, make_staff, make_operator, anji_inspector
):
    first, one = await certify(api, inspector.token, bureau.token)
    second, two = await certify(
        api, inspector.token, bureau.token, name="溪语小院", location={"lat": 30.58, "lng": 119.88}
    )
    operator = await make_operator([key(first["id"]), key(second["id"])])
    elsewhere = await register(
        api,
        anji_inspector.token,
        county="330523",
        address="安吉县天荒坪镇",
        location={"lat": 30.63, "lng": 119.68},
    )
    stranger = await make_operator([key(elsewhere["id"])])
    colleague = await make_staff(Role.BUREAU, "330521", "Reviewer Sun")
    ids = []
    for number in (one["number"], two["number"]):
        await _change(api, bureau.token, "suspendCertificate", number, "整改")
        ids.append(
            (await _appeal(api, operator.token, certificateNumber=number, reason="已整改"))[
                "appeal"
            ]["id"]
        )
    await _decide(api, colleague.token, ids[0], "UPHOLD")

    queue = (await api.query(QUEUE, {"status": "OPEN"}, colleague.token))["appeals"]
    assert [e["node"]["id"] for e in queue["edges"]] == [ids[1]]
    mine = (await api.query(QUEUE, {}, operator.token))["appeals"]
    assert [e["node"]["id"] for e in mine["edges"]] == ids  # oldest first
    assert (await api.query(QUEUE, {}, stranger.token))["appeals"]["totalCount"] == 0
    assert await api.error_code(QUEUE, {"county": "330521"}, stranger.token) == "FORBIDDEN"
    assert await api.error_code(QUEUE, {}, inspector.token) == "FORBIDDEN"

    stats = await api.query(
        """{ statistics(county: "330521") { appeals { month county { code }
        subject status count } } }""",
        token=colleague.token,
    )
    month = china_date(utcnow()).strftime("%Y-%m")
    assert stats["statistics"]["appeals"] == [
        {
            "month": month,
            "county": {"code": "330521"},
            "subject": "SUSPENSION",
            "status": "OPEN",
            "count": 1,
        },
        {
            "month": month,
            "county": {"code": "330521"},
            "subject": "SUSPENSION",
            "status": "UPHELD",
            "count": 1,
        },
    ]


async def test_an_appeal_is_a_node_for_its_bureau_and_operator_only(
    api, inspector, bureau, make_operator
):
    stay, cert = await certify(api, inspector.token, bureau.token)
    operator = await make_operator([key(stay["id"])])
    await _change(api, bureau.token, "suspendCertificate", cert["number"], "整改")
    appeal = (
        await _appeal(api, operator.token, certificateNumber=cert["number"], reason="已整改")
    )["appeal"]
    node = """query($i: ID!) { node(id: $i) { ... on Appeal { status } } }"""
    for token, seen in (
        (operator.token, True),
        (bureau.token, True),
        (inspector.token, False),
        (None, False),
    ):
        got = (await api.query(node, {"i": appeal["id"]}, token))["node"]
        assert (got is not None) is seen
