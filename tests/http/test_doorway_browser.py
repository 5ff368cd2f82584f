"""The verification page in a real browser, as a guest's phone opens it after scanning.

Headless Chromium (Debian's `chromium`) at a phone's 390 x 844: reads the status the page
shows, takes a screenshot, and reads it again after a suspension through the API.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.graphql.flows import REGISTER, REVIEW, SUBMIT, checklist, homestay_input
from tests.http.test_doorway import SUSPEND, decode_qr
from tests.served import account, served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=390,844",
]


def browse(url: str, profile: Path, *extra: str) -> str:
    assert CHROMIUM, "the browser tests need Chromium (Debian packages chromium, chromium-driver)"
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def shown_status(url: str, profile: Path) -> str:
    dom = browse(url, profile, "--dump-dom")
    return dom.split('id="status" data-status="')[1].split('"')[0]


def graphql(base: str, query: str, variables: dict, token: str) -> dict:
    body = httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture
def certified(mongodb_uri, tmp_path):
    """A served API with one certificate just issued: (base URL, number, bureau token)."""
    database = f"browser_{uuid.uuid4().hex[:8]}"
    with served(
        mongodb_uri, tmp_path, database, HOMESTAY_PUBLIC_URL="https://homestay.deqing.example"
    ) as base:
        inspector = account(mongodb_uri, database, "inspector")
        bureau = account(mongodb_uri, database, "bureau")
        stay = graphql(base, REGISTER, {"input": homestay_input()}, inspector)
        inspection = graphql(
            base,
            SUBMIT,
            {
                "input": {
                    "clientSubmissionId": str(uuid.uuid4()),
                    "homestayId": stay["registerHomestay"]["homestay"]["id"],
                    "results": checklist(),
                }
            },
            inspector,
        )
        done = graphql(
            base,
            REVIEW,
            {
                "input": {
                    "inspectionId": inspection["submitInspection"]["inspection"]["id"],
                    "decision": "APPROVE",
                }
            },
            bureau,
        )
        yield base, done["reviewInspection"]["certificate"]["number"], bureau


def test_a_guest_reads_the_status_then_sees_a_suspension_on_reload(certified, tmp_path):
    base, number, bureau = certified
    page = f"{base}/v/{number}"
    assert shown_status(page, tmp_path / "profile") == "VALID"
    shot = tmp_path / "valid.png"
    browse(page, tmp_path / "profile", f"--screenshot={shot}")
    image = Image.open(shot)
    assert image.size == (390, 844)
    # the status is drawn in its colour (green for VALID) near the top of a phone's screen
    colours = {image.convert("RGB").getpixel((195, y)) for y in range(40, 260, 4)}
    assert (31, 122, 61) in colours

    graphql(base, SUSPEND, {"n": number}, bureau)
    assert shown_status(page, tmp_path / "profile") == "SUSPENDED"
    assert shown_status(f"{base}/v/330521-2026-99999", tmp_path / "profile") == "NOT_FOUND"


def test_the_plaque_drawn_by_a_browser_scans_to_the_page(certified, tmp_path):
    base, number, _ = certified
    shot = tmp_path / "plaque.png"
    browse(f"{base}/certificates/{number}/plaque.svg", tmp_path / "profile", f"--screenshot={shot}")
    assert decode_qr(shot.read_bytes()) == f"https://homestay.deqing.example/v/{number}"
    png = httpx.get(f"{base}/certificates/{number}/plaque.png").content
    assert decode_qr(png) == f"https://homestay.deqing.example/v/{number}"
    assert Image.open(io.BytesIO(png)).width == 945


def test_a_third_party_page_cannot_make_a_browser_report_a_concern(certified, tmp_path):
    """A page of another origin that submits the concern form from its visitors' browsers:
    the browser sends it, the service refuses it, nothing is stored."""
    import http.server
    import threading

    from homestay.storage.embedded import free_port
    from tests.http.test_doorway import form_token

    base, number, bureau = certified
    profile = tmp_path / "profile"
    browse(f"{base}/v/{number}/concern", profile, "--dump-dom")  # the guest saw the form once
    stolen = form_token(httpx.get(f"{base}/v/{number}/concern").text)  # the attacker's own
    page = f"""<!doctype html><html><body>
<form id="f" method="post" action="{base}/v/{number}/concern">
<input name="category" value="SAFETY"><input name="description" value="消防通道被堵，速查">
<input name="token" value="{stolen}"></form>
<script>document.getElementById("f").submit()</script></body></html>"""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text(page, encoding="utf-8")
    port = free_port()
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(tmp_path / "site")
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dom = browse(
            f"http://127.0.0.1:{port}/index.html",
            profile,
            "--dump-dom",
            "--virtual-time-budget=10000",
        )
    finally:
        server.shutdown()
    from homestay.http.doorway import TEXT

    # the browser sent it, and was refused (in the browser's language)
    assert any(str(t["forbidden"]) in dom for t in TEXT.values()), dom[-600:]
    listed = graphql(base, "{ concerns { totalCount } }", {}, bureau)
    assert listed["concerns"]["totalCount"] == 0
