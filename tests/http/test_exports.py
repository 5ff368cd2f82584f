"""Grade-list exports and the open-data feed, as the bureau console and a mirror use them."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import openpyxl
import pytest

from homestay.clock import shifted
from homestay.clock import today as today_in_china
from tests.graphql.flows import THRESHOLDS, certify

SUSPEND = """mutation($n: String!) { suspendCertificate(input: {number: $n, reason: "complaint"}) {
  certificate { status } errors { code } } }"""
REINSTATE = """mutation($n: String!) { reinstateCertificate(input: {number: $n,
  reason: "resolved"}) { errors { code } } }"""

# a line break in a name is refused at registration now (domain/text); a CSV still meets
# commas, quotes, a leading minus and formulas
HOSTILE = ['山居, "竹" 园', "-2+3 云上人家", '=HYPERLINK("http://evil.example","点我")', "普通民宿"]


def bearer(staff) -> dict:
    return {"Authorization": f"Bearer {staff.token}"}


def read_csv(body: bytes) -> list[dict]:
    assert body.startswith(b"\xef\xbb\xbf"), "Excel needs the byte-order mark to read UTF-8"
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


@pytest.fixture
async def graded(api, inspector, bureau, anji_inspector, anji_bureau):
    """Deqing: four boutique stays with hostile names and one premium; Anji: one boutique."""
    certs = {}
    for name in HOSTILE:
        _, certs[name] = await certify(api, inspector.token, bureau.token, name=name)
    _, certs["premium"] = await certify(
        api, inspector.token, bureau.token, points=THRESHOLDS["PREMIUM"], name="优品小院"
    )
    _, certs["anji"] = await certify(
        api,
        anji_inspector.token,
        anji_bureau.token,
        name="安吉竹海",
        county="330523",
        address="安吉县天荒坪镇",
        location={"lat": 30.63, "lng": 119.68},
    )
    return certs


@pytest.mark.calendar
async def test_boutique_list_as_csv_opens_with_chinese_and_hostile_names_intact(
    api, bureau, graded
):
    response = await api.http.get(
        "/exports/certificates.csv",
        params={"county": "330521", "grade": "BOUTIQUE"},
        headers=bearer(bureau),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    today = today_in_china().strftime("%Y%m%d")
    disposition = response.headers["content-disposition"]
    assert "attachment" in disposition and "certificates-330521-" in disposition
    assert disposition.split("certificates-330521-")[1][:8].isdigit()
    assert abs(int(disposition.split("certificates-330521-")[1][:8]) - int(today)) <= 1
    rows = read_csv(response.content)
    assert list(rows[0])[:3] == ["证书编号", "民宿名称", "县(市、区)代码"]
    names = sorted(r["民宿名称"] for r in rows)
    # commas and quotes survive; a formula stays text when a spreadsheet opens it
    assert names == sorted(
        [
            '山居, "竹" 园',
            "'-2+3 云上人家",
            "普通民宿",
            "'" + '=HYPERLINK("http://evil.example","点我")',
        ]
    )
    assert {r["等级"] for r in rows} == {"精品民宿"}
    assert {r["等级代码"] for r in rows} == {"BOUTIQUE"}
    assert {r["状态代码"] for r in rows} == {"VALID"} and {r["状态"] for r in rows} == {"有效"}
    first = rows[0]
    assert first["县(市、区)"] == "德清县" and first["评定标准"] == "deqing-homestay v1"
    assert first["发证时间(北京时间)"].endswith("+08:00")
    assert float(first["纬度(WGS-84)"]) == pytest.approx(30.5751, abs=1e-5)
    assert int(first["总分"]) >= THRESHOLDS["BOUTIQUE"]
    assert len({r["证书编号"] for r in rows}) == len(rows) == 4
    # the raw bytes are RFC 4180: CRLF records, a comma's field quoted, its quotes doubled
    assert b"\r\n" in response.content
    assert '"山居, ""竹"" 园"'.encode() in response.content


async def test_english_headers_on_request(api, bureau, graded):
    response = await api.http.get(
        "/exports/certificates.csv", params={"lang": "en"}, headers=bearer(bureau)
    )
    rows = read_csv(response.content)
    assert "Certificate number" in rows[0] and rows[0]["County"] == "Deqing County"
    assert {r["Grade"] for r in rows} == {"Boutique homestay", "Premium homestay"}  # in English
    assert {r["Status"] for r in rows} == {"Valid"}


async def test_every_format_shows_only_the_callers_counties(api, bureau, anji_bureau, graded):
    for fmt in ("csv", "json", "xlsx"):
        deqing = await api.http.get(f"/exports/certificates.{fmt}", headers=bearer(bureau))
        anji = await api.http.get(f"/exports/certificates.{fmt}", headers=bearer(anji_bureau))
        assert deqing.status_code == anji.status_code == 200
        if fmt == "json":
            assert {r["county"] for r in deqing.json()} == {"330521"}
            assert [r["homestayName"] for r in anji.json()] == ["安吉竹海"]
        elif fmt == "csv":
            assert {r["县(市、区)代码"] for r in read_csv(deqing.content)} == {"330521"}
            assert len(read_csv(anji.content)) == 1
        # asking for the other county is refused, never answered with an empty list
        refused = await api.http.get(
            f"/exports/certificates.{fmt}", params={"county": "330521"}, headers=bearer(anji_bureau)
        )
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_exports_are_for_bureau_tokens_only(api, inspector):
    anonymous = await api.http.get("/exports/certificates.csv")
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (
        await api.http.get("/exports/certificates.csv", headers=bearer(inspector))
    ).status_code == 403
    forged = await api.http.get(
        "/exports/certificates.csv", headers={"Authorization": "Bearer hs_forged"}
    )
    assert forged.status_code == 401


@pytest.mark.parametrize(
    "params, field",
    [
        ({"grade": "GOLD"}, "grade"),
        ({"status": "ACTIVE"}, "status"),
        ({"issuedFrom": "yesterday"}, "issuedFrom"),
        ({"issuedTo": "2026-01-01T00:00:00"}, "issuedTo"),
        ({"issuedFrom": "2026-05-01", "issuedTo": "2026-04-01"}, "issuedTo"),
        ({"expiringBefore": {"$ne": None}.__repr__()}, "expiringBefore"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_filters_name_the_parameter(api, bureau, params, field):
    response = await api.http.get(
        "/exports/certificates.json", params=params, headers=bearer(bureau)
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert field in error["message"]


async def test_unknown_format_is_a_clear_error(api, bureau):
    response = await api.http.get("/exports/certificates.pdf", headers=bearer(bureau))
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["field"] == "format"


@pytest.mark.calendar
async def test_filters_by_status_issue_date_and_expiry(api, bureau, graded):
    suspended = graded["普通民宿"]["number"]
    assert (await api.query(SUSPEND, {"n": suspended}, bureau.token))["suspendCertificate"][
        "errors"
    ] == []

    async def numbers(**params) -> set[str]:
        response = await api.http.get(
            "/exports/certificates.json", params=params, headers=bearer(bureau)
        )
        assert response.status_code == 200, response.text
        return {r["number"] for r in response.json()}

    everything = await numbers()
    assert len(everything) == 5
    assert await numbers(status="SUSPENDED") == {suspended}
    assert suspended not in await numbers(status="valid")
    assert await numbers(grade="PREMIUM") == {graded["premium"]["number"]}
    today = today_in_china()  # issuedFrom/issuedTo are China days
    assert await numbers(issuedFrom=today.isoformat(), issuedTo=today.isoformat()) == everything
    assert await numbers(issuedFrom=(today + timedelta(days=2)).isoformat()) == set()
    assert await numbers(expiringBefore=(today + timedelta(days=30)).isoformat()) == set()
    with shifted(timedelta(days=3 * 365 + 1)):
        # three years on: every certificate reads EXPIRED, the suspended one too
        assert await numbers(status="EXPIRED") == everything
        assert await numbers(status="VALID") == set()


async def test_json_export_is_an_array_of_typed_objects(api, bureau, graded):
    response = await api.http.get(
        "/exports/certificates.json", params={"grade": "PREMIUM"}, headers=bearer(bureau)
    )
    assert response.headers["content-type"].startswith("application/json")
    [row] = json.loads(response.content)
    assert row["homestayName"] == "优品小院" and row["gradeLabel"] == "优品民宿"
    assert isinstance(row["totalPoints"], int) and isinstance(row["lat"], float)
    assert row["expiresAt"] > row["issuedAt"]


@pytest.mark.calendar
async def test_xlsx_has_a_chinese_sheet_a_frozen_header_and_typed_dates(api, bureau, graded):
    response = await api.http.get("/exports/certificates.xlsx", headers=bearer(bureau))
    assert response.status_code == 200
    assert response.headers["content-disposition"].count(".xlsx") == 2
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["民宿等级名录"]
    sheet = book["民宿等级名录"]
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["证书编号", "民宿名称"]
    rows = [
        dict(zip(header, (c.value for c in r), strict=True)) for r in sheet.iter_rows(min_row=2)
    ]
    assert len(rows) == 5
    names = {r["民宿名称"] for r in rows}
    # written as text, never as a formula
    assert '=HYPERLINK("http://evil.example","点我")' in names and "-2+3 云上人家" in names
    issued = rows[0]["发证时间(北京时间)"]
    assert issued.year == today_in_china().year  # a real date cell, in China time, not text
    assert isinstance(rows[0]["总分"], int | float)


async def test_open_data_lists_valid_certificates_without_personal_data(api, bureau, graded):
    suspended = graded["普通民宿"]["number"]
    await api.query(SUSPEND, {"n": suspended}, bureau.token)
    response = await api.http.get("/open-data/certificates.json")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    rows = response.json()
    numbers = {r["number"] for r in rows}
    assert suspended not in numbers and len(numbers) == 5  # both counties, VALID only
    text = response.text
    for private in ("Inspector", "Reviewer", "totalPoints", "inspector", "phone", "owner"):
        assert private not in text
    assert set(rows[0]) == {
        "number",
        "homestayName",
        "county",
        "countyName",
        "town",
        "address",
        "grade",
        "gradeLabel",
        "issuedAt",
        "expiresAt",
        "lat",
        "lng",
        "standard",
    }


async def test_open_data_answers_304_to_a_mirror_that_has_it(api, bureau, graded):
    import asyncio

    await asyncio.sleep(1.1)  # the second of the last change is over (the database's clock)
    first = await api.http.get("/open-data/certificates.json")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = await api.http.get("/open-data/certificates.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    since = await api.http.get(
        "/open-data/certificates.json", headers={"If-Modified-Since": modified}
    )
    assert since.status_code == 304
    head = await api.http.head("/open-data/certificates.json")
    assert head.status_code == 200 and head.headers["etag"] == etag

    await api.query(SUSPEND, {"n": graded["premium"]["number"]}, bureau.token)
    changed = await api.http.get("/open-data/certificates.json", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert graded["premium"]["number"] not in {r["number"] for r in changed.json()}


async def test_a_change_in_the_second_a_mirror_was_told_is_never_hidden_by_a_304(
    api, bureau, graded
):
    """Seconds by the database's clock, which stamps the changes: real time passes here."""
    import asyncio

    number = graded["premium"]["number"]
    await asyncio.sleep(1.1)  # the second of the fixture's writes is over
    told = (await api.http.get("/open-data/certificates.json")).headers["last-modified"]
    # suspended and reinstated at once: the same list, but it did change, twice
    await api.query(SUSPEND, {"n": number}, bureau.token)
    await api.query(REINSTATE, {"n": number}, bureau.token)
    fresh = await api.http.get("/open-data/certificates.json", headers={"If-Modified-Since": told})
    assert fresh.status_code == 200 and "last-modified" not in fresh.headers
    await asyncio.sleep(1.1)  # that second is over: told again, then 304s
    later = await api.http.get("/open-data/certificates.json", headers={"If-Modified-Since": told})
    assert later.status_code == 200 and later.headers["last-modified"] != told
    settled = await api.http.get(
        "/open-data/certificates.json",
        headers={"If-Modified-Since": later.headers["last-modified"]},
    )
    assert settled.status_code == 304


@pytest.mark.calendar
async def test_open_data_changes_when_a_certificate_expires_without_any_write(api, graded):
    etag = (await api.http.get("/open-data/certificates.json")).headers["etag"]
    with shifted(timedelta(days=3 * 365 + 1)):
        later = await api.http.get("/open-data/certificates.json", headers={"If-None-Match": etag})
        assert later.status_code == 200 and later.json() == []
        assert later.headers["etag"] != etag


async def test_downloads_say_503_when_the_database_does_not_answer(unanswered):
    for path, headers in (
        ("/open-data/certificates.json", {}),
        ("/exports/certificates.csv", {"Authorization": "Bearer hs_x"}),
    ):
        response = await unanswered.get(path, headers=headers)
        assert response.status_code == 503
        assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"


async def test_exports_run_a_few_at_a_time_and_give_their_slot_back(api, bureau, graded):
    import asyncio

    from homestay.http.exports import MAX_CONCURRENT_EXPORTS

    for _ in range(MAX_CONCURRENT_EXPORTS + 2):  # one after the other: never refused
        done = await api.http.get("/exports/certificates.csv", headers=bearer(bureau))
        assert done.status_code == 200
    app = api.http._transport.app
    slots: asyncio.Semaphore = app.state.export_slots
    for _ in range(MAX_CONCURRENT_EXPORTS):  # as if that many were streaming now
        await slots.acquire()
    busy = await api.http.get("/exports/certificates.csv", headers=bearer(bureau))
    assert busy.status_code == 429 and busy.headers["retry-after"] == "10"
    assert busy.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    feed = await api.http.get("/open-data/certificates.json")  # a full download waits too
    assert feed.status_code == 429
    slots.release()
    assert (
        await api.http.get("/exports/certificates.csv", headers=bearer(bureau))
    ).status_code == 200
