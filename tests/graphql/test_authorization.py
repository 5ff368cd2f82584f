"""The authorization matrix: every operation, as every kind of caller, against one table.

Objects live in Deqing (330521). "ok" means the caller got past role and county checks (a
business error in the payload still counts as allowed: the action was the caller's to try);
UNAUTH and DENY are the GraphQL error codes UNAUTHENTICATED and FORBIDDEN. A new mutation or
query without a row here fails the coverage test, so the table stays whole.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from homestay.auth import Role
from homestay.clock import today
from homestay.graphql.executor.core import core_schema
from homestay.graphql.schema import schema
from homestay.services.accounts import revoke_account
from tests.conftest import gid, key
from tests.graphql.flows import certify, checklist, register, review, submit
from tests.images import JPEG

OK, UNAUTH, DENY = "ok", "UNAUTHENTICATED", "FORBIDDEN"
CALLERS = (
    "public",
    "inspector",
    "other_inspector",
    "bureau",
    "other_bureau",
    "operator",
    "other_operator",
    "revoked",
)

# operation: (document, expected per caller in CALLERS order)
MATRIX: dict[str, tuple[str, tuple[str, ...]]] = {
    # public reads: open to all; a revoked token is refused rather than treated as public
    "searchStays": ("{ searchStays { totalCount } }", (OK, OK, OK, OK, OK, OK, OK, UNAUTH)),
    "stayClusters": (
        """{ stayClusters(bbox: {south: 30, west: 119, north: 31, east: 120},
        zoom: 8) { count } }""",
        (OK, OK, OK, OK, OK, OK, OK, UNAUTH),
    ),
    "homestay": (
        "query($h: ID!) { homestay(id: $h) { name } }",
        (OK, OK, OK, OK, OK, OK, OK, UNAUTH),
    ),
    "verifyCertificate": (
        "query($n: String!) { verifyCertificate(number: $n) { found } }",
        (OK, OK, OK, OK, OK, OK, OK, UNAUTH),
    ),
    "certificate": (
        "query($n: String!) { certificate(number: $n) { status } }",
        (OK, OK, OK, OK, OK, OK, OK, UNAUTH),
    ),
    "gradingStandard": ("{ gradingStandard { code } }", (OK, OK, OK, OK, OK, OK, OK, UNAUTH)),
    "facilities": ("{ facilities { code } }", (OK, OK, OK, OK, OK, OK, OK, UNAUTH)),
    "me": ("{ me { id } }", (OK, OK, OK, OK, OK, OK, OK, UNAUTH)),
    # what each node shows is its own type's rule (tests/graphql/test_node.py)
    "node": ("query($h: ID!) { node(id: $h) { id } }", (OK, OK, OK, OK, OK, OK, OK, UNAUTH)),
    "nodes": ("query($h: ID!) { nodes(ids: [$h]) { id } }", (OK, OK, OK, OK, OK, OK, OK, UNAUTH)),
    # staff reads
    "inspections": (
        '{ inspections(county: "330521") { totalCount } }',
        (UNAUTH, OK, DENY, OK, DENY, OK, DENY, UNAUTH),
    ),
    "inspection": (
        "query($i: ID!) { inspection(id: $i) { id } }",
        (UNAUTH, OK, DENY, OK, DENY, OK, DENY, UNAUTH),
    ),
    # every registered homestay: staff by county, an operator its own
    "homestays": (
        '{ homestays(county: "330521", text: "民宿") { totalCount } }',
        (UNAUTH, OK, DENY, OK, DENY, OK, DENY, UNAUTH),
    ),
    "inspectionRequests": (
        '{ inspectionRequests(county: "330521") { totalCount } }',
        (UNAUTH, OK, DENY, OK, DENY, OK, DENY, UNAUTH),
    ),
    "requestInspection": (
        """mutation($h: ID!) { requestInspection(input: {homestayId: $h}) {
        errors { code } } }""",
        (UNAUTH, DENY, DENY, DENY, DENY, OK, DENY, UNAUTH),
    ),
    "reinspectionPlan": (
        '{ reinspectionPlan(county: "330521") { totalCount } }',
        (UNAUTH, OK, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    "certificateHistory": (
        "query($n: String!) { certificateHistory(number: $n) { action } }",
        (UNAUTH, OK, DENY, OK, DENY, OK, DENY, UNAUTH),
    ),
    # appeals: the operator files them for its own homestay, the county's bureau decides
    "appeals": (
        '{ appeals(county: "330521") { totalCount } }',
        (UNAUTH, DENY, DENY, OK, DENY, OK, DENY, UNAUTH),
    ),
    "appealDecision": (
        """mutation($n: String!) { appealDecision(input: {certificateNumber: $n,
        reason: "不服"}) { errors { code } } }""",
        (UNAUTH, DENY, DENY, DENY, DENY, OK, DENY, UNAUTH),
    ),
    "decideAppeal": (
        """mutation($a: ID!) { decideAppeal(input: {appealId: $a, decision: UPHOLD,
        reason: "维持"}) { errors { code } } }""",
        (UNAUTH, DENY, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    "gradeStatistics": (
        '{ gradeStatistics(county: "330521") { count } }',
        (UNAUTH, DENY, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    "statistics": (
        '{ statistics(county: "330521") { certificates { count } } }',
        (UNAUTH, DENY, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    # mutations
    "registerHomestay": (
        """mutation { registerHomestay(input: {name: "新民宿",
        address: "德清县莫干山镇", county: "330521", rooms: 3,
        location: {lat: 30.57, lng: 119.87}}) { errors { code } } }""",
        (UNAUTH, OK, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    "updateHomestay": (
        """mutation($h: ID!) { updateHomestay(input: {id: $h, rooms: 4}) {
        errors { code } } }""",
        (UNAUTH, OK, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    "updateListing": (
        """mutation($h: ID!) { updateListing(input: {homestayId: $h,
        priceMin: 300, priceMax: 600}) { errors { code } } }""",
        (UNAUTH, OK, DENY, OK, DENY, OK, DENY, UNAUTH),
    ),
    "submitInspection": (
        """mutation($h: ID!, $c: ID!, $r: [ItemResultInput!]!) {
        submitInspection(input: {clientSubmissionId: $c, homestayId: $h, results: $r}) {
        errors { code } } }""",
        (UNAUTH, OK, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    "reviewInspection": (
        """mutation($i: ID!) { reviewInspection(input: {inspectionId: $i,
        decision: REJECT, comment: "照片不清"}) { errors { code } } }""",
        (UNAUTH, DENY, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    "suspendCertificate": (
        """mutation($n: String!) { suspendCertificate(input: {number: $n,
        reason: "投诉"}) { errors { code } } }""",
        (UNAUTH, DENY, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    "reinstateCertificate": (
        """mutation($n: String!) { reinstateCertificate(input: {
        number: $n, reason: "整改"}) { errors { code } } }""",
        (UNAUTH, DENY, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    "revokeCertificate": (
        """mutation($n: String!) { revokeCertificate(input: {number: $n,
        reason: "停业"}) { errors { code } } }""",
        (UNAUTH, DENY, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    "concernStatus": (
        '{ concernStatus(receipt: "C-unknown") { status } }',
        (OK, OK, OK, OK, OK, OK, OK, UNAUTH),
    ),
    "concerns": (
        '{ concerns(county: "330521") { totalCount } }',
        (UNAUTH, DENY, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    "reportConcern": (
        """mutation($n: String!) { reportConcern(input: {certificateNumber: $n,
        category: HYGIENE, description: "床单有污渍"}) { receipt errors { code } } }""",
        (OK, OK, OK, OK, OK, OK, OK, UNAUTH),
    ),
    "resolveConcern": (
        """mutation($k: ID!) { resolveConcern(input: {concernId: $k,
        status: RESOLVED, note: "已整改"}) { errors { code } } }""",
        (UNAUTH, DENY, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    # the county's working day: the bureau assigns and draws, an inspector reads its route
    "assignments": (
        '{ assignments(county: "330521") { totalCount } }',
        (UNAUTH, DENY, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    "myAssignments": (
        "{ myAssignments { totalCount } }",
        (UNAUTH, OK, OK, DENY, DENY, DENY, DENY, UNAUTH),
    ),
    "spotCheckDraw": (
        "query($d: ID!) { spotCheckDraw(id: $d) { id } }",
        (UNAUTH, DENY, DENY, OK, OK, DENY, DENY, UNAUTH),
    ),
    "drawSpotChecks": (
        """mutation { drawSpotChecks(input: {county: "330521", count: 1}) {
        errors { code } } }""",
        (UNAUTH, DENY, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    "assignInspection": (
        """mutation($h: ID!, $p: ID!, $t: Date!) { assignInspection(input: {homestayId: $h,
        inspectorId: $p, dueDate: $t}) { errors { code } } }""",
        (UNAUTH, DENY, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    "cancelAssignment": (
        """mutation($g: ID!) { cancelAssignment(input: {assignmentId: $g}) {
        errors { code } } }""",
        (UNAUTH, DENY, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
    "createAccount": (
        """mutation { createAccount(input: {role: INSPECTOR, name: "新人",
        counties: ["330521"]}) { errors { code } } }""",
        (UNAUTH, DENY, DENY, OK, DENY, DENY, DENY, UNAUTH),
    ),
}

# the same for the HTTP downloads: (method, path, expected status per caller)
HTTP_MATRIX = {
    "export": (
        "GET",
        "/exports/certificates.csv?county=330521",
        (401, 403, 403, 200, 403, 403, 403, 401),
    ),
    "upload download": ("GET", "/uploads/{upload}", (401, 200, 403, 200, 403, 403, 403, 401)),
    # a listing photo (the request sends one): the operator, or the county's staff
    "listing photo upload": (
        "POST",
        "/uploads?purpose=listing&homestay={homestay}",
        (401, 201, 403, 201, 403, 201, 403, 401),
    ),
    # public while the stay is listed; a revoked token is refused rather than read as public
    "listing photo": ("GET", "/photos/{photo}/320", (200, 200, 200, 200, 200, 200, 200, 401)),
    # public and token-blind: a mirror never sends one
    "open data": ("GET", "/open-data/certificates.json", (200, 200, 200, 200, 200, 200, 200, 200)),
    "verification page": ("GET", "/v/{number}", (200, 200, 200, 200, 200, 200, 200, 200)),
    "plaque": (
        "GET",
        "/certificates/{number}/plaque.svg",
        (200, 200, 200, 200, 200, 200, 200, 200),
    ),
}


def test_the_matrix_covers_every_operation():
    graphql_schema = core_schema(schema)
    fields = set(graphql_schema.query_type.fields) | set(graphql_schema.mutation_type.fields)
    assert fields == set(MATRIX), (
        f"rows missing for {fields - set(MATRIX)}, rows for nothing: {set(MATRIX) - fields}"
    )


@pytest.fixture
async def world(api, db, make_staff, make_operator):
    inspector = await make_staff(Role.INSPECTOR, "330521", "Inspector Wang")
    bureau = await make_staff(Role.BUREAU, "330521", "Reviewer Li")
    revoked = await make_staff(Role.BUREAU, "330521", "Former Officer")
    await revoke_account(db, revoked.id)
    tokens = {
        "public": None,
        "inspector": inspector.token,
        "other_inspector": (await make_staff(Role.INSPECTOR, "330523", "Inspector Chen")).token,
        "bureau": bureau.token,
        "other_bureau": (await make_staff(Role.BUREAU, "330523", "Reviewer Zhao")).token,
        "revoked": revoked.token,
    }
    stay, cert = await certify(api, inspector.token, bureau.token)
    anji = await make_staff(Role.INSPECTOR, "330523", "Inspector Zhou")
    elsewhere = await register(
        api,
        anji.token,
        county="330523",
        address="安吉县天荒坪镇",
        location={"lat": 30.63, "lng": 119.68},
    )
    tokens["operator"] = (await make_operator([key(stay["id"])], "Host Zhang")).token
    tokens["other_operator"] = (await make_operator([key(elsewhere["id"])], "Host Qian")).token
    # an inspection for every caller allowed to review one, never reviewed twice
    inspections = [(await submit(api, inspector.token, stay["id"]))["id"] for _ in CALLERS]
    upload = await api.http.post(
        "/uploads", content=JPEG, headers={"Authorization": f"Bearer {inspector.token}"}
    )
    concern = await api.query(
        """mutation($n: String!) { reportConcern(input: {
        certificateNumber: $n, category: SAFETY, description: "灭火器过期"}) { receipt } }""",
        {"n": cert["number"]},
    )
    found = await db.concerns.find_one({"receipt": concern["reportConcern"]["receipt"]})
    photo = await api.http.post(
        f"/uploads?purpose=listing&homestay={stay['id']}",
        content=JPEG,
        headers={"Authorization": f"Bearer {tokens['operator']}"},
    )
    # a rejection the operator appealed, for the bureau to decide
    rejected = await submit(api, inspector.token, stay["id"])
    await review(api, bureau.token, rejected["id"], "REJECT", "照片模糊")
    appeal = await api.query(
        """mutation($i: ID!) { appealDecision(input: {inspectionId: $i,
        reason: "照片清晰"}) { appeal { id } } }""",
        {"i": rejected["id"]},
        tokens["operator"],
    )
    # an assignment of another homestay, for the bureau to cancel
    assigned = await api.query(
        """mutation($h: ID!, $p: ID!, $t: Date!) { assignInspection(input: {homestayId: $h,
        inspectorId: $p, dueDate: $t}) { assignment { id } } }""",
        {
            "t": (today() + timedelta(days=10)).isoformat(),
            "h": (await register(api, inspector.token, name="另一家"))["id"],
            "p": gid("Account", inspector.id),
        },
        bureau.token,
    )
    return {
        "tokens": tokens,
        "inspector": gid("Account", inspector.id),
        "assignment": assigned["assignInspection"]["assignment"]["id"],
        "homestay": stay["id"],
        "number": cert["number"],
        "inspections": inspections,
        "upload": upload.json()["id"],
        "concern": found["_id"],
        "appeal": appeal["appealDecision"]["appeal"]["id"],
        "photo": photo.json()["id"],
    }


def _variables(operation: str, world: dict, index: int) -> dict:
    return {
        "h": world["homestay"],
        "n": world["number"],
        "i": world["inspections"][index],
        "c": str(uuid.uuid4()),
        "r": checklist(),
        "k": world["concern"],
        "a": world["appeal"],
        "p": world["inspector"],
        "g": world["assignment"],
        "d": gid("SpotCheckDraw", "none"),
        "t": (today() + timedelta(days=10)).isoformat(),
    }


async def test_every_operation_allows_and_denies_by_the_table(api, world):
    mismatches = []
    for operation, (document, expected) in MATRIX.items():
        for index, (caller, want) in enumerate(zip(CALLERS, expected, strict=True)):
            used = {
                k: v for k, v in _variables(operation, world, index).items() if f"${k}" in document
            }
            body = await api.raw(document, used, world["tokens"][caller])
            errors = body.get("errors") or []
            got = errors[0]["extensions"]["code"] if errors else OK
            if got not in (OK, UNAUTH, DENY):
                got = OK  # a business error, after the checks passed
            if got != want:
                mismatches.append(
                    f"{operation} as {caller}: expected {want}, got {got} "
                    f"({errors[0]['message'] if errors else ''})"
                )
    assert mismatches == []


async def test_every_download_allows_and_denies_by_the_table(api, world):
    mismatches = []
    for name, (method, path, expected) in HTTP_MATRIX.items():
        for caller, want in zip(CALLERS, expected, strict=True):
            token = world["tokens"][caller]
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await api.http.request(
                method,
                path.format(
                    upload=world["upload"],
                    number=world["number"],
                    homestay=world["homestay"],
                    photo=world["photo"],
                ),
                headers=headers,
                content=JPEG if method == "POST" else None,
            )
            if response.status_code != want:
                mismatches.append(
                    f"{name} as {caller}: expected {want}, got {response.status_code}"
                )
    assert mismatches == []


async def test_a_revoked_token_stops_working_at_once(api, db, bureau):
    assert (await api.query("{ me { name } }", token=bureau.token))["me"]["name"] == "Reviewer Li"
    await revoke_account(db, bureau.id)
    assert await api.error_code("{ me { name } }", token=bureau.token) == "UNAUTHENTICATED"
