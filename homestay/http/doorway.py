"""The plaque on the door and the page its QR code opens.

`GET /v/{number}` is what a guest sees after scanning: one small server-rendered page (no
script, no external asset: the WeChat scanner's browser on a poor network), the status as of
now in words and colour, the grade, the stay, the county, the expiry and the inspection
date, and nothing else (domain/disclosure). An unknown number gets a fixed message: the page
never repeats what was asked, so no one can write their own words into the bureau's page.
No page here may be framed by another site.

`GET /v/{number}/concern` is a plain form for a guest's concern. Its POST is accepted only
from the form itself: the request's Origin (or, without one, its Referer) must be this
site, and the form's token must match the cookie served with it (SameSite=Strict, so a
third-party page can neither send nor read it).

`GET /certificates/{number}/plaque.svg|.png` is the QR code of that page's public URL with
the grade and number under it, 8 cm wide when printed (the SVG in millimetres, the PNG at
300 dpi, its Chinese drawn with the font shipped in homestay/fonts). Only a certificate in
service has a plaque: any other answers 410, and a plaque is cached for minutes, so that
a revocation takes it down.
"""

from __future__ import annotations

import io
import secrets
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape
from PIL import Image, ImageDraw, ImageFont
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from homestay.clock import CST, china_date, utcnow
from homestay.domain.certificates import CertificateStatus
from homestay.domain.concerns import Concern, ConcernCategory
from homestay.domain.disclosure import PublicCertificate
from homestay.domain.gazetteer import gazetteer
from homestay.errors import Gone, NotFound, RateLimited, UserErrors
from homestay.graphql.context import language
from homestay.http.guard import request_address

# a phone asks again on every load, so a suspension shows at once; a CDN may keep the page
# this long, so that a crowd scanning one plaque costs one request
PAGE_SHARED_MAX_AGE_S = 30
PLAQUE_WIDTH_MM = 80
PNG_DPI = 300
# a plaque is fetched to be printed, not on every scan: kept minutes, never past a revocation
PLAQUE_MAX_AGE_S = 300
PAGE_HEADERS = {
    "Cache-Control": f"public, max-age=0, s-maxage={PAGE_SHARED_MAX_AGE_S}",
    "Vary": "Accept-Language",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers too old to read it
    "Referrer-Policy": "same-origin",
}
FORM_COOKIE = "concern_form"
FORM_TOKEN_MAX_AGE_S = 3600
PLAQUE_FONT = Path(__file__).parent.parent / "fonts" / "plaque-sc.otf"

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

TEXT = {
    "zh": {
        "title": "民宿等级证书查验",
        "heading": "民宿等级证书查验 · 德清县乡村民宿服务质量等级",
        "number": "证书编号",
        "grade": "等级",
        "homestay": "民宿",
        "county": "所在县（市、区）",
        "expires": "有效期至",
        "inspected": "评定检查日期",
        "as_of": "查验时间（北京时间）：",
        "not_found": "查无此证书",
        "forbidden": "请从证书查验页面打开表单后提交。",
        "not_found_note": "请核对门牌上的证书编号。未经评定的民宿不得使用等级标志。",
        "other_language": "English",
        "report": "向文旅局反映问题",
        "concern_title": "向文旅局反映问题",
        "concern_about": "证书",
        "category": "问题类别",
        "description": "发生了什么（最多 2000 字）",
        "contact": "联系方式（选填，仅文旅局可见）",
        "send": "提交",
        "back": "返回证书查验",
        "thanks": "已收到，谢谢您",
        "receipt_note": "请保存下面的回执编号，可凭它查询处理状态：",
        "rate_limited": "提交过于频繁，请稍后再试。",
        "status_note": {
            "VALID": "证书有效",
            "SUSPENDED": "证书已暂停，暂不得使用等级标志",
            "REVOKED": "证书已撤销",
            "EXPIRED": "证书已过期",
            "SUPERSEDED": "已换发新证书，请查验新证",
        },
    },
    "en": {
        "title": "Homestay certificate check",
        "heading": "Homestay grade certificate check",
        "number": "Certificate number",
        "grade": "Grade",
        "homestay": "Homestay",
        "county": "County",
        "expires": "Valid until",
        "inspected": "Inspected on",
        "as_of": "Checked at (China time):",
        "not_found": "No such certificate",
        "forbidden": "Please send the form from the certificate's page.",
        "not_found_note": "Check the number on the plaque. A homestay that was not graded "
        "may not show a grade.",
        "other_language": "中文",
        "report": "Report a concern to the tourism bureau",
        "concern_title": "Report a concern",
        "concern_about": "Certificate",
        "category": "What is it about",
        "description": "What happened (at most 2,000 characters)",
        "contact": "Your phone or e-mail (optional, seen by the bureau only)",
        "send": "Send",
        "back": "Back to the certificate",
        "thanks": "Received, thank you",
        "receipt_note": "Keep this receipt: it tells you what became of your concern.",
        "rate_limited": "Too many reports from here; please try again later.",
        "status_note": {
            "VALID": "This certificate is valid",
            "SUSPENDED": "Suspended: the grade may not be shown for now",
            "REVOKED": "This certificate was revoked",
            "EXPIRED": "This certificate has expired",
            "SUPERSEDED": "Replaced by a newer certificate: check that one",
        },
    },
}


def _lang(request: Request) -> str:
    asked = request.query_params.get("lang", "")
    if asked in TEXT:
        return asked
    return language(request.headers.get("accept-language"))


def render_page(cert: PublicCertificate | None, lang: str) -> str:
    """The page for `cert`; for None the fixed not-found message, which repeats nothing of
    what was asked."""
    now = utcnow()
    values: dict[str, object] = {
        "lang": lang,
        "t": TEXT[lang],
        "cert": cert,
        "now": now.astimezone(CST).strftime("%Y-%m-%d %H:%M"),
    }
    if cert is not None:
        county = gazetteer().county(cert.county)
        values.update(
            homestay=cert.homestay_name_in(lang),
            county=(county.name_en if lang == "en" else county.name_zh) if county else cert.county,
            expires=china_date(cert.expires_at).isoformat(),
            inspected=china_date(cert.inspected_at).isoformat() if cert.inspected_at else None,
        )
    return _templates.get_template("verify.html").render(values)


async def verification_page(request: Request) -> Response:
    number = request.path_params["number"].strip()
    cert = await request.app.state.services.certificates.public(number, utcnow())
    return HTMLResponse(
        render_page(cert, _lang(request)),
        status_code=200 if cert else 404,
        headers=PAGE_HEADERS,
    )


def _concern_page(
    lang: str,
    number: str,
    homestay: str | None,
    *,
    token: str = "",
    receipt: str | None = None,
    errors: list[str] | None = None,
    form: dict | None = None,
) -> str:
    categories = [(c.value, c.label[lang]) for c in ConcernCategory]
    return _templates.get_template("concern.html").render(
        lang=lang,
        t=TEXT[lang],
        number=number,
        homestay=homestay,
        token=token,
        receipt=receipt,
        errors=errors or [],
        categories=categories,
        form=form or {"category": "", "description": "", "contact": ""},
    )


def _with_token(html: str, token: str, request: Request, status: int = 200) -> HTMLResponse:
    """The form's page, with the cookie its token must match."""
    response = HTMLResponse(
        html, status_code=status, headers={**PAGE_HEADERS, "Cache-Control": "no-store"}
    )
    response.set_cookie(
        FORM_COOKIE,
        token,
        max_age=FORM_TOKEN_MAX_AGE_S,
        path="/v/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


def _same_site(request: Request, public_url: str) -> bool:
    """Whether a POST comes from a page of this site: its Origin, or its Referer when it
    has none, names this host (as the browser reached it, or the public URL)."""
    ours = {request.headers.get("host", ""), urlsplit(public_url).netloc}
    origin = request.headers.get("origin")
    if origin is not None:
        return origin != "null" and urlsplit(origin).netloc in ours
    referer = request.headers.get("referer")
    return referer is None or urlsplit(referer).netloc in ours


async def concern_form(request: Request) -> Response:
    """A plain form (no script needed) for a guest's concern, linked from the page."""
    number = request.path_params["number"].strip()
    lang = _lang(request)
    services = request.app.state.services
    cert = await services.certificates.public(number, utcnow())
    if cert is None:
        return HTMLResponse(render_page(None, lang), status_code=404, headers=PAGE_HEADERS)
    homestay = cert.homestay_name_in(lang)
    if request.method == "GET":
        token = secrets.token_urlsafe(24)
        return _with_token(_concern_page(lang, cert.number, homestay, token=token), token, request)
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
    form = {
        k: (fields.get(k) or [""])[0]
        for k in ("category", "description", "contact", "website", "lang", "token")
    }
    lang = form["lang"] if form["lang"] in TEXT else lang
    homestay = cert.homestay_name_in(lang)
    cookie = request.cookies.get(FORM_COOKIE, "")
    if not _same_site(request, services.settings.public_url) or not (
        cookie and secrets.compare_digest(cookie.encode(), form["token"].encode())
    ):
        token = secrets.token_urlsafe(24)
        page = _concern_page(
            lang, cert.number, homestay, token=token, errors=[str(TEXT[lang]["forbidden"])]
        )
        return _with_token(page, token, request, status=403)
    headers = {**PAGE_HEADERS, "Cache-Control": "no-store"}
    if form["website"]:  # only a bot fills what a person cannot see: thanked, not stored
        return HTMLResponse(
            _concern_page(lang, cert.number, None, receipt="C-" + secrets.token_urlsafe(12)),
            headers=headers,
        )
    try:
        category = ConcernCategory(form["category"])
    except ValueError:
        category = ConcernCategory.OTHER
    address = request_address(request)

    async def report() -> tuple[Concern, bool]:
        return await services.concerns.report(
            cert.number,
            category,
            form["description"],
            form["contact"] or None,
            reporter=address,
        )

    try:
        concern = await request.app.state.rate_limiter.report_concern(address, cert.number, report)
    except (RateLimited, UserErrors) as exc:
        limited = isinstance(exc, RateLimited)
        messages = (
            [str(TEXT[lang]["rate_limited"])] if limited else [e.message for e in exc.errors]  # type: ignore[union-attr]
        )
        return HTMLResponse(
            _concern_page(
                lang, cert.number, homestay, token=form["token"], errors=messages, form=form
            ),
            status_code=429 if limited else 400,
            headers=headers,
        )
    return HTMLResponse(
        _concern_page(lang, cert.number, None, receipt=concern.receipt),
        status_code=201,
        headers=headers,
    )


def page_url(public_url: str, number: str) -> str:
    return f"{public_url}/v/{number}"


def plaque_svg(url: str, number: str, grade_label: str) -> str:
    qr = segno.make(url, error="m")
    size = qr.symbol_size(border=4)[0]
    module = PLAQUE_WIDTH_MM / size
    path = "".join(
        f"M{x},{y}h1v1h-1z" for y, row in enumerate(qr.matrix) for x, dark in enumerate(row) if dark
    )
    height = PLAQUE_WIDTH_MM + 24
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{PLAQUE_WIDTH_MM}mm" '
        f'height="{height}mm" viewBox="0 0 {PLAQUE_WIDTH_MM} {height}">'
        f'<rect width="100%" height="100%" fill="#fff"/>'
        f'<path transform="scale({module:.6f}) translate(4 4)" fill="#000" d="{path}"/>'
        f'<text x="{PLAQUE_WIDTH_MM / 2}" y="{PLAQUE_WIDTH_MM + 8}" font-size="7" '
        f'text-anchor="middle" font-family="sans-serif" font-weight="bold">{grade_label}</text>'
        f'<text x="{PLAQUE_WIDTH_MM / 2}" y="{PLAQUE_WIDTH_MM + 17}" font-size="6" '
        f'text-anchor="middle" font-family="monospace">{number}</text></svg>'
    )


@cache
def _plaque_font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(PLAQUE_FONT), size)


def plaque_png(url: str, number: str, grade_label: str) -> bytes:
    """At 300 dpi: the QR code, the grade in Chinese (the shipped font's subset covers the
    grade names, digits and Latin letters) and the number."""
    width = round(PLAQUE_WIDTH_MM / 25.4 * PNG_DPI)
    qr = segno.make(url, error="m")
    size = qr.symbol_size(border=4)[0]
    scale = width // size
    image = Image.new("L", (width, width + 280), 255)
    offset = (width - size * scale) // 2
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(qr.matrix):
        for x, dark in enumerate(row):
            if dark:
                left, top = offset + (x + 4) * scale, offset + (y + 4) * scale
                draw.rectangle((left, top, left + scale - 1, top + scale - 1), fill=0)
    for line, top, points in ((grade_label, width + 20, 96), (number, width + 160, 64)):
        draw.text((width / 2, top), line, fill=0, font=_plaque_font(points), anchor="mt")
    out = io.BytesIO()
    image.save(out, "PNG", dpi=(PNG_DPI, PNG_DPI))
    return out.getvalue()


async def plaque(request: Request) -> Response:
    number = request.path_params["number"].strip()
    fmt = request.path_params["format"]
    if fmt not in ("svg", "png"):
        raise NotFound("a plaque is .svg or .png")
    cert = await request.app.state.services.certificates.public(number, utcnow())
    if cert is None:
        raise NotFound("no certificate with this number")
    if cert.status is not CertificateStatus.VALID:
        raise Gone(
            f"this certificate is {cert.status.value.lower()}: only a certificate in service "
            "has a plaque"
        )
    url = page_url(request.app.state.services.settings.public_url, cert.number)
    headers = {
        "Cache-Control": f"public, max-age={PLAQUE_MAX_AGE_S}",
        "Content-Disposition": f'inline; filename="plaque-{cert.number}.{fmt}"',
    }
    if fmt == "svg":
        label = f"{cert.grade.label['zh']} · {cert.grade.label['en']}"
        return Response(
            plaque_svg(url, cert.number, label), media_type="image/svg+xml", headers=headers
        )
    return Response(
        plaque_png(url, cert.number, cert.grade.label["zh"]),
        media_type="image/png",
        headers=headers,
    )
