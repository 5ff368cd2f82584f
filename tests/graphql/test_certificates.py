from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from homestay.auth import Role
from homestay.clock import shifted, today
from homestay.services.accounts import create_account
from tests.conftest import key
from tests.graphql.flows import (
    REVIEW,
    THRESHOLDS,
    VERIFY,
    certify,
    checklist,
    register,
    review,
    submit,
)

CHANGE = """
mutation($number: String!, $reason: String!) {
  %s(input: {number: $number, reason: $reason}) {
    certificate { number status }
    errors { field code message }
  }
}"""
SUSPEND, REINSTATE, REVOKE = (
    CHANGE % m for m in ("suspendCertificate", "reinstateCertificate", "revokeCertificate")
)

HISTORY = """query($n: String!) { certificate(number: $n) {
  number status history { action from to reason by { name } at } inspection { id } } }"""

STAY = """query($id: ID!) { homestay(id: $id) { grade certificate { number status } } }"""


@pytest.mark.calendar
async def test_approval_issues_a_certificate_that_verifies_publicly(api, inspector, bureau):
    stay, cert = await certify(api, inspector.token, bureau.token, THRESHOLDS["PREMIUM"])
    assert cert["grade"] == "PREMIUM" and cert["status"] == "VALID"
    assert cert["number"].startswith(f"330521-{today().year}-")  # the year of issue in China
    issued = datetime.fromisoformat(cert["issuedAt"])
    assert datetime.fromisoformat(cert["expiresAt"]) - issued == timedelta(days=1095)
    assert cert["standard"] == {"code": "deqing-homestay", "version": 1}
    verified = (await api.query(VERIFY, {"n": cert["number"]}))["verifyCertificate"]
    assert verified == {
        "found": True,
        "number": cert["number"],
        "status": "VALID",
        "grade": "PREMIUM",
        "homestayName": "竹隐山居",
        "county": {"code": "330521", "name": "德清县"},
        "issuedAt": cert["issuedAt"],
        "expiresAt": cert["expiresAt"],
    }
    assert (await api.query(STAY, {"id": stay["id"]}))["homestay"]["grade"] == "PREMIUM"


async def test_numbers_are_unique_and_in_sequence(api, inspector, bureau):
    numbers = [
        (await certify(api, inspector.token, bureau.token, name=f"宿{i}"))[1]["number"]
        for i in range(3)
    ]
    sequences = [int(n.rsplit("-", 1)[1]) for n in numbers]
    assert sequences == [sequences[0], sequences[0] + 1, sequences[0] + 2]


YEAR = today().year


@pytest.mark.calendar
@pytest.mark.parametrize(
    "number",
    [
        f"330521-{YEAR}-9999",
        '{"$ne": null}',
        ".*",
        f"330521-{YEAR}-0000.",
        "",
        f"330521-{YEAR}-00001 ",
    ],
)
async def test_verification_matches_exactly_and_nothing_else(api, inspector, bureau, number):
    await certify(api, inspector.token, bureau.token)
    verified = (await api.query(VERIFY, {"n": number}))["verifyCertificate"]
    if number.strip() == f"330521-{YEAR}-00001":
        assert verified["found"] is True  # surrounding spaces from a copy-paste are forgiven
    else:
        assert verified["found"] is False and verified["status"] is None


async def test_the_inspector_never_reviews_their_own_inspection(api, make_staff):
    both = await make_staff(Role.BUREAU)  # a bureau account may also inspect
    stay = await register(api, both.token)
    inspection = await submit(api, both.token, stay["id"])
    done = await review(api, both.token, inspection["id"])
    assert [e["code"] for e in done["errors"]] == ["SELF_REVIEW"]


async def test_an_account_the_inspector_made_never_reviews_their_inspection(api, db, make_staff):
    both = await make_staff(Role.BUREAU)
    # as a bureau token could make one before bureau accounts became the command line's
    second = await create_account(
        db, role="BUREAU", name="second self", counties=["330521"], created_by=both.id
    )
    stay = await register(api, both.token)
    inspection = await submit(api, both.token, stay["id"])
    done = await review(api, second.token, inspection["id"])
    assert [e["code"] for e in done["errors"]] == ["SELF_REVIEW"]
    assert "made" in done["errors"][0]["messageEn"]


async def test_review_is_for_the_bureau_of_the_county(api, inspector, bureau, anji_bureau):
    stay = await register(api, inspector.token)
    inspection = await submit(api, inspector.token, stay["id"])
    variables = {"input": {"inspectionId": inspection["id"], "decision": "APPROVE"}}
    assert await api.error_code(REVIEW, variables) == "UNAUTHENTICATED"
    assert await api.error_code(REVIEW, variables, inspector.token) == "FORBIDDEN"
    assert await api.error_code(REVIEW, variables, anji_bureau.token) == "FORBIDDEN"


async def test_only_submitted_inspections_are_reviewed(api, inspector, bureau, make_staff):
    other = await make_staff(Role.BUREAU)
    stay = await register(api, inspector.token)
    inspection = await submit(api, inspector.token, stay["id"])
    first = await review(api, bureau.token, inspection["id"])
    assert first["errors"] == []
    late = await review(api, other.token, inspection["id"], "REJECT", "too late")
    assert [e["code"] for e in late["errors"]] == ["ALREADY_REVIEWED"]


async def test_a_review_sent_twice_issues_one_certificate(api, inspector, bureau, db):
    stay = await register(api, inspector.token)
    inspection = await submit(api, inspector.token, stay["id"])
    first = await review(api, bureau.token, inspection["id"])
    again = await review(api, bureau.token, inspection["id"])
    assert again["errors"] == []
    assert again["certificate"]["number"] == first["certificate"]["number"]
    assert await db.certificates.count_documents({}) == 1


async def test_a_review_interrupted_after_the_claim_is_finished_by_its_retry(
    api, inspector, bureau, services, db
):
    stay = await register(api, inspector.token)
    inspection = await submit(api, inspector.token, stay["id"])
    # the first try claimed the inspection and its number, then the process died
    await db.inspections.update_one(
        {"_id": key(inspection["id"])},
        {
            "$set": {
                "status": "APPROVED",
                "certificateNumber": "330521-2026-77777",
                "review": {
                    "reviewer": {"id": bureau.id, "name": "Reviewer Li"},
                    "decision": "APPROVE",
                    "comment": None,
                    "at": (await db.inspections.find_one())["submittedAt"],
                },
            }
        },
    )
    retried = await review(api, bureau.token, inspection["id"])
    assert retried["errors"] == []
    assert retried["certificate"]["number"] == "330521-2026-77777"
    assert retried["certificate"]["status"] == "VALID"


async def test_a_rejection_needs_a_reason_and_issues_nothing(api, inspector, bureau, db):
    stay = await register(api, inspector.token)
    inspection = await submit(api, inspector.token, stay["id"])
    refused = await review(api, bureau.token, inspection["id"], "REJECT")
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        (["input", "comment"], "REQUIRED")
    ]
    done = await review(api, bureau.token, inspection["id"], "REJECT", "photos missing")
    assert done["inspection"]["status"] == "REJECTED" and done["certificate"] is None
    assert await db.certificates.count_documents({}) == 0


async def test_a_new_certificate_supersedes_the_old_one(api, inspector, bureau):
    stay, old = await certify(api, inspector.token, bureau.token, THRESHOLDS["STANDARD"])
    again = await submit(api, inspector.token, stay["id"], checklist())
    new = (await review(api, bureau.token, again["id"]))["certificate"]
    assert new["grade"] == "BOUTIQUE" and new["number"] != old["number"]
    old_now = (await api.query(VERIFY, {"n": old["number"]}))["verifyCertificate"]
    assert old_now["status"] == "SUPERSEDED"
    current = (await api.query(STAY, {"id": stay["id"]}))["homestay"]
    assert current == {
        "grade": "BOUTIQUE",
        "certificate": {"number": new["number"], "status": "VALID"},
    }


async def test_approving_a_checklist_with_no_grade_revokes_the_current_one(api, inspector, bureau):
    stay, cert = await certify(api, inspector.token, bureau.token)
    failing = await submit(api, inspector.token, stay["id"], checklist(failed=("LS01",)))
    done = await review(api, bureau.token, failing["id"])
    assert done["errors"] == []
    assert done["certificate"] == {
        **done["certificate"],
        "number": cert["number"],
        "status": "REVOKED",
    }
    current = (await api.query(STAY, {"id": stay["id"]}, inspector.token))["homestay"]
    assert current == {
        "grade": None,
        "certificate": {"number": cert["number"], "status": "REVOKED"},
    }
    assert (await api.query(STAY, {"id": stay["id"]}))["homestay"] is None  # not public


async def test_concurrent_reviews_never_leave_two_valid_certificates(
    api, inspector, make_staff, db
):
    reviewers = [await make_staff(Role.BUREAU, name=f"Reviewer {i}") for i in range(4)]
    stay = await register(api, inspector.token)
    inspections = [await submit(api, inspector.token, stay["id"]) for _ in range(4)]
    done = await asyncio.gather(
        *[review(api, r.token, i["id"]) for r, i in zip(reviewers, inspections, strict=True)]
    )
    assert all(d["errors"] == [] for d in done)
    stored = db.certificates.find({"homestayId": key(stay["id"])})
    statuses = sorted([c["status"] async for c in stored])
    assert statuses == ["SUPERSEDED"] * 3 + ["VALID"]


async def test_suspension_shows_in_verification_at_once_and_can_be_undone(api, inspector, bureau):
    stay, cert = await certify(api, inspector.token, bureau.token)
    n = cert["number"]
    suspended = (
        await api.query(SUSPEND, {"number": n, "reason": "fire exit blocked"}, bureau.token)
    )["suspendCertificate"]
    assert suspended == {"certificate": {"number": n, "status": "SUSPENDED"}, "errors": []}
    assert (await api.query(VERIFY, {"n": n}))["verifyCertificate"]["status"] == "SUSPENDED"
    assert (await api.query(STAY, {"id": stay["id"]}, inspector.token))["homestay"]["grade"] is None
    back = (
        await api.query(
            REINSTATE, {"number": n, "reason": "exit cleared, re-checked"}, bureau.token
        )
    )["reinstateCertificate"]
    assert back["certificate"]["status"] == "VALID"
    gone = (await api.query(REVOKE, {"number": n, "reason": "unlicensed kitchen"}, bureau.token))[
        "revokeCertificate"
    ]
    assert gone["certificate"]["status"] == "REVOKED"
    again = (await api.query(REINSTATE, {"number": n, "reason": "oops"}, bureau.token))[
        "reinstateCertificate"
    ]
    assert [e["code"] for e in again["errors"]] == ["INVALID_TRANSITION"]


async def test_every_change_is_in_the_history_for_staff_only(api, inspector, bureau, anji_bureau):
    _, cert = await certify(api, inspector.token, bureau.token)
    n = cert["number"]
    await api.query(SUSPEND, {"number": n, "reason": "spot check"}, bureau.token)
    await api.query(REINSTATE, {"number": n, "reason": "fixed"}, bureau.token)
    mine = (await api.query(HISTORY, {"n": n}, bureau.token))["certificate"]
    assert [
        (h["action"], h["from"], h["to"], h["reason"], h["by"]["name"]) for h in mine["history"]
    ] == [
        ("ISSUE", None, "VALID", None, "Reviewer Li"),
        ("SUSPEND", "VALID", "SUSPENDED", "spot check", "Reviewer Li"),
        ("REINSTATE", "SUSPENDED", "VALID", "fixed", "Reviewer Li"),
    ]
    assert mine["inspection"] is not None
    for token in (None, anji_bureau.token):
        public = (await api.query(HISTORY, {"n": n}, token))["certificate"]
        assert public["history"] is None and public["inspection"] is None


async def test_a_change_sent_twice_is_recorded_once(api, inspector, bureau, db):
    _, cert = await certify(api, inspector.token, bureau.token)
    for _ in range(2):
        done = (
            await api.query(
                SUSPEND, {"number": cert["number"], "reason": "spot check"}, bureau.token
            )
        )["suspendCertificate"]
        assert done["errors"] == []
    stored = await db.certificates.find_one({"_id": cert["number"]})
    assert [h["action"] for h in stored["history"]] == ["ISSUE", "SUSPEND"]


@pytest.mark.parametrize(
    ("number", "reason", "field", "code"),
    [
        ("330521-2026-99999", "x", ["input", "number"], "NOT_FOUND"),
        (None, "   ", ["input", "reason"], "REQUIRED"),
        (None, "r" * 501, ["input", "reason"], "TOO_LONG"),
    ],
)
async def test_bad_changes_are_named(api, inspector, bureau, number, reason, field, code):
    _, cert = await certify(api, inspector.token, bureau.token)
    done = (
        await api.query(
            SUSPEND, {"number": number or cert["number"], "reason": reason}, bureau.token
        )
    )["suspendCertificate"]
    assert [(e["field"], e["code"]) for e in done["errors"]] == [(field, code)]


async def test_certificate_changes_are_for_the_bureau_of_the_county(
    api, inspector, bureau, anji_bureau
):
    _, cert = await certify(api, inspector.token, bureau.token)
    variables = {"number": cert["number"], "reason": "x"}
    for mutation in (SUSPEND, REINSTATE, REVOKE):
        assert await api.error_code(mutation, variables) == "UNAUTHENTICATED"
        assert await api.error_code(mutation, variables, inspector.token) == "FORBIDDEN"
        assert await api.error_code(mutation, variables, anji_bureau.token) == "FORBIDDEN"


@pytest.mark.calendar
async def test_a_certificate_past_its_date_reads_expired(api, inspector, bureau):
    with shifted(timedelta(days=-1200)):
        stay, cert = await certify(api, inspector.token, bureau.token)
    verified = (await api.query(VERIFY, {"n": cert["number"]}))["verifyCertificate"]
    assert verified["status"] == "EXPIRED"
    assert (await api.query(STAY, {"id": stay["id"]}, inspector.token))["homestay"]["grade"] is None
    refused = (await api.query(SUSPEND, {"number": cert["number"], "reason": "x"}, bureau.token))[
        "suspendCertificate"
    ]
    assert [e["code"] for e in refused["errors"]] == ["INVALID_TRANSITION"]


@pytest.mark.calendar
async def test_racing_first_numbers_of_a_year_are_distinct(services):
    for year_offset in range(5):  # five fresh county-years, eight reviews racing on each
        now = datetime(2030 + year_offset, 6, 1, tzinfo=UTC)
        numbers = await asyncio.gather(
            *[services.certificates._next_number("330521", now) for _ in range(8)]
        )
        assert len(set(numbers)) == 8
