"""The steps of the apps' flows, as the apps send them, for tests to compose."""

from __future__ import annotations

import json
import uuid
from typing import Any

from homestay.settings import ROOT

STANDARD = json.loads((ROOT / "seed" / "standards" / "deqing-homestay-v1.json").read_text())
THRESHOLDS = {t["grade"]: t["minPoints"] for t in STANDARD["thresholds"]}
SCORED = [i for i in STANDARD["items"] if i["kind"] == "SCORED"]
MAX_POINTS = sum(i["maxPoints"] for i in SCORED)

REGISTER = """
mutation($input: RegisterHomestayInput!) {
  registerHomestay(input: $input) {
    homestay { id name address town rooms facilities county { code name }
               location { lat lng } certificate { number } grade }
    errors { field code message messageEn }
  }
}"""

SUBMIT = """
mutation($input: SubmitInspectionInput!) {
  submitInspection(input: $input) {
    inspection { id clientSubmissionId status totalPoints maxPoints recommendedGrade
                 distanceFromHomestayMeters farFromHomestay
                 standard { code version } inspector { id name }
                 blockers { grade itemCode reason missingPoints } }
    errors { field code message }
  }
}"""

REVIEW = """
mutation($input: ReviewInspectionInput!) {
  reviewInspection(input: $input) {
    inspection { id status review { reviewer { id } decision comment } }
    certificate { number grade status issuedAt expiresAt standard { code version }
                  homestay { id name } }
    errors { field code message messageEn }
  }
}"""

VERIFY = """
query($n: String!) { verifyCertificate(number: $n) {
  found number status grade homestayName county { code name } issuedAt expiresAt } }"""


def checklist(points: int | None = None, failed: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every item answered: the mandatory ones passed but `failed`; `points` spread over the
    scored items (all of them by default)."""
    remaining = MAX_POINTS if points is None else points
    results = []
    for item in STANDARD["items"]:
        if item["kind"] == "MANDATORY":
            results.append({"itemCode": item["code"], "passed": item["code"] not in failed})
        else:
            given = min(item["maxPoints"], remaining)
            remaining -= given
            results.append({"itemCode": item["code"], "points": given})
    return results


def homestay_input(**overrides: Any) -> dict[str, Any]:
    base = {
        "name": "竹隐山居",
        "nameEn": "Bamboo Hideaway",
        "address": "德清县莫干山镇劳岭村8号",
        "county": "330521",
        "rooms": 8,
        "facilities": ["Wi-Fi", "早餐"],
        "location": {"lat": 30.5751, "lng": 119.8779},
    }
    base.update(overrides)
    return base


async def register(api, token: str, **overrides: Any) -> dict:
    data = await api.query(REGISTER, {"input": homestay_input(**overrides)}, token)
    payload = data["registerHomestay"]
    assert payload["errors"] == [], payload["errors"]
    return payload["homestay"]


async def submit(
    api, token: str, homestay_id: str, results: list[dict] | None = None, **extra: Any
) -> dict:
    payload = (
        await api.query(
            SUBMIT,
            {
                "input": {
                    "clientSubmissionId": str(uuid.uuid4()),
                    "homestayId": homestay_id,
                    "results": results if results is not None else checklist(),
                    **extra,
                }
            },
            token,
        )
    )["submitInspection"]
    assert payload["errors"] == [], payload["errors"]
    return payload["inspection"]


async def review(
    api, token: str, inspection_id: str, decision: str = "APPROVE", comment: str | None = None
) -> dict:
    return (
        await api.query(
            REVIEW,
            {"input": {"inspectionId": inspection_id, "decision": decision, "comment": comment}},
            token,
        )
    )["reviewInspection"]


async def certify(
    api, inspector_token: str, bureau_token: str, points: int | None = None, **homestay: Any
) -> tuple[dict, dict]:
    """Register, inspect and approve a homestay: (homestay, certificate)."""
    stay = await register(api, inspector_token, **homestay)
    inspection = await submit(api, inspector_token, stay["id"], checklist(points))
    done = await review(api, bureau_token, inspection["id"])
    assert done["errors"] == [], done["errors"]
    return stay, done["certificate"]
