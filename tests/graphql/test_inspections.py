from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.graphql.flows import (
    MAX_POINTS,
    STANDARD,
    SUBMIT,
    THRESHOLDS,
    checklist,
    register,
    submit,
)

STANDARD_QUERY = """{ gradingStandard { code version title maxPoints
  sections { code title }
  items { code section title kind maxPoints requiredFor }
  thresholds { grade minPoints } } }"""

LIST = """query($status: InspectionStatus, $county: String, $first: Int!, $after: String,
               $homestayId: ID) {
  inspections(status: $status, county: $county, first: $first, after: $after,
              homestayId: $homestayId) {
    totalCount edges { cursor node { id status homestay { id name } } }
    pageInfo { hasNextPage endCursor } } }"""


async def test_anyone_downloads_the_current_standard(api):
    standard = (await api.query(STANDARD_QUERY))["gradingStandard"]
    assert standard["code"] == "deqing-homestay" and standard["version"] == 1
    assert standard["title"] == "德清县乡村民宿服务质量等级划分与评定"
    assert len(standard["items"]) >= 40
    assert standard["maxPoints"] == MAX_POINTS
    assert [t["grade"] for t in standard["thresholds"]] == ["STANDARD", "PREMIUM", "BOUTIQUE"]
    mandatory = {i["code"]: i["requiredFor"] for i in standard["items"] if i["kind"] == "MANDATORY"}
    assert set(mandatory.values()) == {"STANDARD", "PREMIUM", "BOUTIQUE"}
    assert {s["code"] for s in standard["sections"]} >= {
        "licences_safety",
        "building",
        "rooms",
        "public_areas",
        "hygiene",
        "service",
        "culture",
        "green",
        "satisfaction",
    }
    english = (await api.query(STANDARD_QUERY, headers={"Accept-Language": "en-US,en;q=0.9"}))[
        "gradingStandard"
    ]
    assert english["items"][0]["title"] == "Valid business licence"


async def test_a_full_checklist_is_graded_with_its_blockers(api, inspector):
    stay = await register(api, inspector.token)
    premium = THRESHOLDS["PREMIUM"]
    inspection = await submit(api, inspector.token, stay["id"], checklist(premium))
    assert inspection["status"] == "SUBMITTED"
    assert inspection["totalPoints"] == premium and inspection["maxPoints"] == MAX_POINTS
    assert inspection["recommendedGrade"] == "PREMIUM"
    assert inspection["standard"] == {"code": "deqing-homestay", "version": 1}
    assert inspection["blockers"] == [
        {
            "grade": "BOUTIQUE",
            "itemCode": None,
            "missingPoints": THRESHOLDS["BOUTIQUE"] - premium,
            "reason": f"总分距达标还差 {THRESHOLDS['BOUTIQUE'] - premium} 分",
        }
    ]


async def test_a_failed_licence_means_no_grade_and_says_why(api, inspector):
    stay = await register(api, inspector.token)
    inspection = await submit(api, inspector.token, stay["id"], checklist(failed=("LS03",)))
    assert inspection["recommendedGrade"] is None
    assert [(b["grade"], b["itemCode"]) for b in inspection["blockers"]] == [
        ("STANDARD", "LS03"),
        ("PREMIUM", "LS03"),
        ("BOUTIQUE", "LS03"),
    ]
    assert inspection["blockers"][0]["reason"].startswith("必备项 LS03 未通过：消防安全检查合格")


async def test_a_submission_sent_twice_is_stored_once(api, inspector, db):
    stay = await register(api, inspector.token)
    variables = {
        "input": {
            "clientSubmissionId": str(uuid.uuid4()),
            "homestayId": stay["id"],
            "results": checklist(),
        }
    }
    first = (await api.query(SUBMIT, variables, inspector.token))["submitInspection"]
    again = (await api.query(SUBMIT, variables, inspector.token))["submitInspection"]
    assert again["errors"] == [] and again["inspection"]["id"] == first["inspection"]["id"]
    assert await db.inspections.count_documents({}) == 1


async def test_concurrent_duplicate_sends_make_one_inspection(api, inspector, db):
    stay = await register(api, inspector.token)
    variables = {
        "input": {
            "clientSubmissionId": str(uuid.uuid4()),
            "homestayId": stay["id"],
            "results": checklist(),
        }
    }
    answers = await asyncio.gather(
        *[api.query(SUBMIT, variables, inspector.token) for _ in range(8)]
    )
    ids = {a["submitInspection"]["inspection"]["id"] for a in answers}
    assert len(ids) == 1
    assert await db.inspections.count_documents({}) == 1


async def test_another_account_cannot_reuse_a_submission_id(api, inspector, make_staff, db):
    from homestay.auth import Role

    colleague = await make_staff(Role.INSPECTOR)
    stay = await register(api, inspector.token)
    variables = {
        "input": {"clientSubmissionId": "same-id", "homestayId": stay["id"], "results": checklist()}
    }
    await api.query(SUBMIT, variables, inspector.token)
    other = (await api.query(SUBMIT, variables, colleague.token))["submitInspection"]
    assert [e["code"] for e in other["errors"]] == ["CONFLICT"]


def _without(code: str) -> list[dict]:
    return [r for r in checklist() if r["itemCode"] != code]


@pytest.mark.parametrize(
    ("results", "field", "code"),
    [
        (_without("GS01"), ["input", "results"], "MISSING_ITEMS"),
        (
            [*checklist(), {"itemCode": "LS01", "passed": True}],
            ["input", "results", "54", "itemCode"],
            "DUPLICATE_ITEM",
        ),
        (
            [*checklist(), {"itemCode": "ZZ99", "passed": True}],
            ["input", "results", "54", "itemCode"],
            "UNKNOWN_ITEM",
        ),
        (
            [{**r, "points": 999} if r["itemCode"] == "BS01" else r for r in checklist()],
            ["input", "results", "10", "points"],
            "OUT_OF_RANGE",
        ),
        (
            [{"itemCode": "LS01"} if r["itemCode"] == "LS01" else r for r in checklist()],
            ["input", "results", "0", "passed"],
            "REQUIRED",
        ),
        (
            [
                {**r, "photoUrls": ["http://evil.example/x.jpg"]} if r["itemCode"] == "LS01" else r
                for r in checklist()
            ],
            ["input", "results", "0", "photoUrls", "0"],
            "INVALID",
        ),
        (
            [
                {**r, "photoUrls": ["/uploads/0123456789abcdef01234567"]}
                if r["itemCode"] == "LS01"
                else r
                for r in checklist()
            ],
            ["input", "results", "0", "photoUrls", "0"],
            "NOT_FOUND",
        ),
    ],
)
async def test_a_bad_checklist_is_refused_whole(api, inspector, db, results, field, code):
    stay = await register(api, inspector.token)
    payload = (
        await api.query(
            SUBMIT,
            {
                "input": {
                    "clientSubmissionId": str(uuid.uuid4()),
                    "homestayId": stay["id"],
                    "results": results,
                }
            },
            inspector.token,
        )
    )["submitInspection"]
    assert payload["inspection"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert await db.inspections.count_documents({}) == 0


@pytest.mark.calendar
@pytest.mark.parametrize(
    ("extra", "field", "code"),
    [
        (
            {"inspectedAt": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
            ["input", "inspectedAt"],
            "IN_FUTURE",
        ),
        (
            {"inspectedAt": (datetime.now(UTC) - timedelta(days=200)).isoformat()},
            ["input", "inspectedAt"],
            "TOO_OLD",
        ),
        ({"standardVersion": 99}, ["input", "standardVersion"], "NOT_FOUND"),
        ({"homestayId": "missing"}, ["input", "homestayId"], "NOT_FOUND"),
        (
            {"inspectorLocation": {"lat": 30.6, "lng": 181}},
            ["input", "inspectorLocation", "lng"],
            "OUT_OF_RANGE",
        ),
        ({"notes": "n" * 2001}, ["input", "notes"], "TOO_LONG"),
    ],
)
async def test_bad_submission_fields_are_named(api, inspector, db, extra, field, code):
    stay = await register(api, inspector.token)
    payload = (
        await api.query(
            SUBMIT,
            {
                "input": {
                    "clientSubmissionId": str(uuid.uuid4()),
                    "homestayId": stay["id"],
                    "results": checklist(),
                    **extra,
                }
            },
            inspector.token,
        )
    )["submitInspection"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert await db.inspections.count_documents({}) == 0


async def test_the_distance_from_the_homestay_is_measured_and_far_is_flagged(api, inspector):
    stay = await register(api, inspector.token)
    near = await submit(
        api, inspector.token, stay["id"], inspectorLocation={"lat": 30.5760, "lng": 119.8779}
    )
    assert 95 < near["distanceFromHomestayMeters"] < 105
    assert near["farFromHomestay"] is False
    far = await submit(
        api, inspector.token, stay["id"], inspectorLocation={"lat": 30.5851, "lng": 119.8779}
    )
    assert 1100 < far["distanceFromHomestayMeters"] < 1120
    assert far["farFromHomestay"] is True  # flagged, not refused


async def test_submission_is_for_staff_of_the_homestays_county(api, inspector, anji_inspector, db):
    stay = await register(api, inspector.token)
    variables = {
        "input": {"clientSubmissionId": "x", "homestayId": stay["id"], "results": checklist()}
    }
    assert await api.error_code(SUBMIT, variables) == "UNAUTHENTICATED"
    assert await api.error_code(SUBMIT, variables, anji_inspector.token) == "FORBIDDEN"
    assert await db.inspections.count_documents({}) == 0


async def test_inspections_are_listed_newest_first_in_pages(api, inspector, anji_inspector):
    stay = await register(api, inspector.token)
    made = [(await submit(api, inspector.token, stay["id"]))["id"] for _ in range(5)]
    seen, after = [], None
    while True:
        page = (await api.query(LIST, {"first": 2, "after": after}, inspector.token))["inspections"]
        assert page["totalCount"] == 5
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == list(reversed(made))
    # another county sees none of them, and may not ask for ours
    other = (await api.query(LIST, {"first": 10}, anji_inspector.token))["inspections"]
    assert other["totalCount"] == 0
    assert (
        await api.error_code(LIST, {"first": 10, "county": "330521"}, anji_inspector.token)
        == "FORBIDDEN"
    )
    assert (
        await api.error_code(LIST, {"first": 10, "homestayId": stay["id"]}, anji_inspector.token)
        == "FORBIDDEN"
    )


async def test_lists_refuse_pages_over_a_hundred_and_bad_cursors(api, inspector):
    body = await api.raw(LIST, {"first": 101}, inspector.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "first" in body["errors"][0]["message"]
    body = await api.raw(LIST, {"first": 5, "after": "not-a-cursor"}, inspector.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_standard_items_cover_the_deqing_sections():
    codes = [i["code"] for i in STANDARD["items"]]
    assert len(codes) == len(set(codes))
