"""The plaque on the door and the page its QR code opens, as a guest meets them."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from PIL import Image

from tests.graphql.flows import certify

SUSPEND = """mutation($n: String!) { suspendCertificate(input: {number: $n, reason: "投诉"}) {
  errors { code } } }"""


def decode_qr(png: bytes) -> str:
    """What a phone's scanner reads from the image (zbar, Debian's zbar-tools)."""
    zbarimg = shutil.which("zbarimg")
    assert zbarimg, "the plaque tests read QR codes with zbarimg (Debian package zbar-tools)"
    done = subprocess.run([zbarimg, "--raw", "-q", "-"], input=png, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().strip()


async def test_the_page_says_the_status_grade_stay_and_expiry_in_chinese(api, inspector, bureau):
    stay, cert = await certify(api, inspector.token, bureau.token)
    response = await api.http.get(f"/v/{cert['number']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    # a CDN may keep it 30 s; the phone asks again on every load
    assert response.headers["cache-control"] == "public, max-age=0, s-maxage=30"
    html = response.text
    assert 'data-status="VALID"' in html and "有效" in html and "精品民宿" in html
    assert "竹隐山居" in html and "德清县" in html and cert["expiresAt"][:4] in html
    assert "<script" not in html and "http" not in html.split("<body>")[1]  # nothing fetched
    for private in ("总分", "points", inspector.caller.name, bureau.caller.name):
        assert private not in html


async def test_the_page_is_english_when_asked(api, inspector, bureau):
    _, cert = await certify(api, inspector.token, bureau.token)
    by_query = (await api.http.get(f"/v/{cert['number']}", params={"lang": "en"})).text
    by_header = (
        await api.http.get(f"/v/{cert['number']}", headers={"Accept-Language": "en-GB,en;q=0.9"})
    ).text
    for html in (by_query, by_header):
        assert "Valid" in html and "Boutique" in html and "Deqing" in html


async def test_a_suspension_shows_on_the_next_load(api, inspector, bureau):
    _, cert = await certify(api, inspector.token, bureau.token)
    await api.query(SUSPEND, {"n": cert["number"]}, bureau.token)
    html = (await api.http.get(f"/v/{cert['number']}")).text
    assert 'data-status="SUSPENDED"' in html and "暂停" in html


@pytest.mark.parametrize("number", ["330521-2026-99999", "nonsense", "<script>x</script>"])
async def test_an_unknown_number_is_a_404_page_that_says_so(api, number):
    response = await api.http.get(f"/v/{number}")
    assert response.status_code == 404
    assert "查无此证书" in response.text and "<script>x" not in response.text


async def test_the_plaque_png_scans_to_the_public_page(api, inspector, bureau, settings):
    _, cert = await certify(api, inspector.token, bureau.token)
    response = await api.http.get(f"/certificates/{cert['number']}/plaque.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.width == 945 and round(image.info["dpi"][0]) == 300  # 8 cm at 300 dpi
    assert decode_qr(response.content) == f"{settings.public_url}/v/{cert['number']}"


async def test_the_plaque_svg_is_8_cm_wide_with_the_number_and_grade(api, inspector, bureau):
    _, cert = await certify(api, inspector.token, bureau.token)
    response = await api.http.get(f"/certificates/{cert['number']}/plaque.svg")
    assert response.headers["content-type"].startswith("image/svg+xml")
    svg = response.text
    assert 'width="80mm"' in svg and cert["number"] in svg and "精品民宿" in svg
    missing = await api.http.get("/certificates/330521-2026-99999/plaque.svg")
    assert missing.status_code == 404


async def test_a_guest_reports_a_concern_through_the_plain_form(api, inspector, bureau, db):
    _, cert = await certify(api, inspector.token, bureau.token)
    page = (await api.http.get(f"/v/{cert['number']}")).text
    assert f'href="{cert["number"]}/concern"' in page
    form = await api.http.get(f"/v/{cert['number']}/concern")
    assert form.status_code == 200 and 'name="description"' in form.text
    assert 'name="website"' in form.text  # the trap a person never sees
    sent = await api.http.post(
        f"/v/{cert['number']}/concern",
        data={"category": "HYGIENE", "description": "浴室有霉斑", "contact": "", "website": ""},
    )
    assert sent.status_code == 201
    stored = await db.concerns.find_one({})
    assert stored["category"] == "HYGIENE" and stored["receipt"] in sent.text


async def test_a_bot_filling_the_trap_is_thanked_and_not_heard(api, inspector, bureau, db):
    _, cert = await certify(api, inspector.token, bureau.token)
    sent = await api.http.post(
        f"/v/{cert['number']}/concern",
        data={"category": "PRICE", "description": "cheap pills", "website": "http://spam.example"},
    )
    assert sent.status_code == 200 and "C-" in sent.text
    assert await db.concerns.count_documents({}) == 0


async def test_a_bad_report_comes_back_with_the_form_and_the_reason(api, inspector, bureau, db):
    _, cert = await certify(api, inspector.token, bureau.token)
    sent = await api.http.post(
        f"/v/{cert['number']}/concern", data={"category": "SAFETY", "description": "  "}
    )
    assert sent.status_code == 400 and 'id="errors"' in sent.text
    assert await db.concerns.count_documents({}) == 0
