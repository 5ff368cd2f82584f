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


def form_token(html: str) -> str:
    """The token of the concern form the page holds (its cookie is in the client's jar)."""
    return html.split('name="token" value="')[1].split('"')[0]


def read_text(png: bytes, box: tuple[int, int, int, int]) -> str:
    """What Tesseract (Debian's tesseract-ocr, simplified Chinese) reads in `box` of an image:
    a line of text as a person reads it."""
    tesseract = shutil.which("tesseract")
    assert tesseract, "the plaque tests read text with tesseract (Debian tesseract-ocr-chi-sim)"
    strip = io.BytesIO()
    Image.open(io.BytesIO(png)).crop(box).save(strip, "PNG")
    done = subprocess.run(
        [tesseract, "-", "-", "-l", "chi_sim", "--psm", "7"],
        input=strip.getvalue(),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return "".join(done.stdout.decode().split())


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


@pytest.mark.parametrize(
    "number",
    [
        "330521-2026-99999",
        "nonsense",
        "<script>x</script>",
        "证书已迁移，请致电400-123-4567核验",
        "\u202e4567-321-004致电",
        "a/b/c",
    ],
)
async def test_an_unknown_number_gets_a_fixed_page_that_repeats_nothing(api, number):
    """The bureau's own page must not carry words an attacker chose (content spoofing)."""
    response = await api.http.get(f"/v/{number}")
    assert response.status_code == 404
    assert "查无此证书" in response.text
    words = [w for w in number.replace("/", " ").replace("，", " ").split() if len(w) > 2]
    for asked in [number, *words, "400-123-4567", "\u202e"]:
        assert asked not in response.text
    same = (await api.http.get("/v/330521-2026-99999")).text
    assert response.text == same  # one fixed page, whatever was asked


async def test_no_site_may_frame_the_page_or_the_form(api, inspector, bureau):
    _, cert = await certify(api, inspector.token, bureau.token)
    for path in (
        f"/v/{cert['number']}",
        f"/v/{cert['number']}/concern",
        "/v/330521-2026-99999",
    ):
        response = await api.http.get(path)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
        assert response.headers["x-frame-options"] == "DENY", path


async def test_the_form_takes_a_report_only_from_its_own_page(api, inspector, bureau, db):
    """A third-party page cannot make its visitors' browsers report from their addresses."""
    _, cert = await certify(api, inspector.token, bureau.token)
    url = f"/v/{cert['number']}/concern"
    form = await api.http.get(url)
    assert "samesite=strict" in form.headers["set-cookie"].lower()
    token = form_token(form.text)
    report = {"category": "SAFETY", "description": "消防通道堵塞", "token": token}
    refused = [
        await api.http.post(url, data=report, headers={"Origin": "https://evil.example"}),
        await api.http.post(url, data=report, headers={"Origin": "null"}),
        await api.http.post(
            url, data=report, headers={"Referer": "https://evil.example/page.html"}
        ),
        await api.http.post(url, data={**report, "token": "made-up"}),
    ]
    api.http.cookies.clear()  # a browser on another site: the cookie is not sent
    refused.append(await api.http.post(url, data=report))
    assert [r.status_code for r in refused] == [403] * 5
    assert all("请从证书查验页面打开表单后提交" in r.text for r in refused)
    assert await db.concerns.count_documents({}) == 0
    # from its own page (same origin, its token and cookie) it is taken
    again = await api.http.get(url)
    sent = await api.http.post(
        url,
        data={**report, "token": form_token(again.text)},
        headers={"Origin": "http://testserver", "Referer": f"http://testserver{url}"},
    )
    assert sent.status_code == 201 and await db.concerns.count_documents({}) == 1


REVOKE = """mutation($n: String!) { revokeCertificate(input: {number: $n, reason: "严重违规"}) {
  errors { code } } }"""


@pytest.mark.parametrize("action", ["suspend", "revoke"])
async def test_only_a_certificate_in_service_has_a_plaque(api, inspector, bureau, action):
    _, cert = await certify(api, inspector.token, bureau.token)
    number = cert["number"]
    for fmt in ("svg", "png"):
        served = await api.http.get(f"/certificates/{number}/plaque.{fmt}")
        assert served.status_code == 200
        age = int(served.headers["cache-control"].split("max-age=")[1])
        assert age <= 300  # a cached plaque outlives a revocation by minutes at most
    await api.query(SUSPEND if action == "suspend" else REVOKE, {"n": number}, bureau.token)
    for fmt in ("svg", "png"):
        gone = await api.http.get(f"/certificates/{number}/plaque.{fmt}")
        assert gone.status_code == 410
        assert gone.json()["errors"][0]["extensions"]["code"] == "GONE"


async def test_the_plaque_png_says_the_grade_in_chinese(api, inspector, bureau):
    _, cert = await certify(api, inspector.token, bureau.token)
    png = (await api.http.get(f"/certificates/{cert['number']}/plaque.png")).content
    width = Image.open(io.BytesIO(png)).width
    assert read_text(png, (0, width, width, width + 140)) == "精品民宿"
    assert read_text(png, (0, width + 140, width, width + 280)) == cert["number"]


async def test_the_shipped_font_draws_every_grade_name():
    from fontTools.ttLib import TTFont

    from homestay.domain.grades import Grade
    from homestay.http.doorway import PLAQUE_FONT

    cmap = TTFont(PLAQUE_FONT).getBestCmap()
    for grade in Grade:
        assert all(ord(c) in cmap for c in grade.label["zh"] + "0123456789-"), grade


VERIFY = """query($n: String!) { verifyCertificate(number: $n) { homestayName } }"""


async def test_a_stays_name_follows_the_language_everywhere(api, inspector, bureau):
    """One rule: the English name for English when there is one, the Chinese otherwise."""
    _, cert = await certify(api, inspector.token, bureau.token)
    english = {"Accept-Language": "en"}
    verified = await api.query(VERIFY, {"n": cert["number"]}, headers=english)
    assert verified["verifyCertificate"]["homestayName"] == "Bamboo Hideaway"
    chinese = await api.query(VERIFY, {"n": cert["number"]})
    assert chinese["verifyCertificate"]["homestayName"] == "竹隐山居"
    page = (await api.http.get(f"/v/{cert['number']}", params={"lang": "en"})).text
    assert "Bamboo Hideaway" in page and "竹隐山居" not in page
    form = (await api.http.get(f"/v/{cert['number']}/concern", params={"lang": "en"})).text
    assert "Bamboo Hideaway" in form
    assert "竹隐山居" in (await api.http.get(f"/v/{cert['number']}")).text


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
        data={
            "category": "HYGIENE",
            "description": "浴室有霉斑",
            "contact": "",
            "website": "",
            "token": form_token(form.text),
        },
    )
    assert sent.status_code == 201
    stored = await db.concerns.find_one({})
    assert stored["category"] == "HYGIENE" and stored["receipt"] in sent.text


async def test_a_bot_filling_the_trap_is_thanked_and_not_heard(api, inspector, bureau, db):
    _, cert = await certify(api, inspector.token, bureau.token)
    token = form_token((await api.http.get(f"/v/{cert['number']}/concern")).text)
    sent = await api.http.post(
        f"/v/{cert['number']}/concern",
        data={
            "category": "PRICE",
            "description": "cheap pills",
            "website": "http://spam.example",
            "token": token,
        },
    )
    assert sent.status_code == 200 and "C-" in sent.text
    assert await db.concerns.count_documents({}) == 0


async def test_a_bad_report_comes_back_with_the_form_and_the_reason(api, inspector, bureau, db):
    _, cert = await certify(api, inspector.token, bureau.token)
    token = form_token((await api.http.get(f"/v/{cert['number']}/concern")).text)
    sent = await api.http.post(
        f"/v/{cert['number']}/concern",
        data={"category": "SAFETY", "description": "  ", "token": token},
    )
    assert sent.status_code == 400 and 'id="errors"' in sent.text
    assert await db.concerns.count_documents({}) == 0
