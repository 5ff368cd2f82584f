"""Photos as an attacker sends them: odd shapes, hidden bytes, shared keys, a crowd at once."""

from __future__ import annotations

import asyncio
import io
import threading

import pytest
from bson import ObjectId
from PIL import Image

from homestay import images
from homestay.http.errors import error_response
from homestay.http.uploads import Busy, DecodeGate
from tests.conftest import key
from tests.graphql.flows import certify
from tests.images import (
    JPEG,
    SECRET_WORDS,
    cmyk_jpeg,
    jpeg_carrying_secrets,
    photo,
    png_carrying_secrets,
    png_declaring,
    png_of,
)


def bearer(staff) -> dict[str, str]:
    return {"Authorization": f"Bearer {staff.token}"}


SHAPES = {
    # name: (bytes, the statuses it may get: stored, or refused with a coded 4xx)
    "100000 x 1": (png_of("RGB", (100_000, 1)), {201}),
    "70000 x 2": (png_of("RGB", (70_000, 2)), {201}),
    "1 x 100000": (png_of("L", (1, 100_000)), {201}),
    "1 x 1": (png_of("RGB", (1, 1)), {201}),
    "palette": (png_of("P", (300, 200)), {201}),
    "palette, transparent": (png_of("P", (300, 200), transparency=0), {201}),
    "grey and alpha": (png_of("LA", (300, 200)), {201}),
    "16-bit grey": (png_of("I;16", (300, 200)), {201}),
    "1-bit": (png_of("1", (300, 200)), {201}),
    "CMYK JPEG": (cmyk_jpeg(), {201}),
    "truncated JPEG": (photo("JPEG", (800, 600))[:700], {422}),
    "truncated PNG": (png_of("RGB", (800, 600))[:60], {415, 422}),
    "7000 x 7000 RGBA": (png_of("RGBA", (7000, 7000)), {413}),
    "declares 60000 x 60000": (png_declaring(60_000, 60_000), {413}),
    "declares 0 x 0": (png_declaring(0, 0), {415, 422}),
    "not an image": (b"GIF89a" + b"\0" * 100, {415}),
}


@pytest.mark.parametrize("name", list(SHAPES))
async def test_every_shape_is_stored_or_refused_with_a_coded_4xx_never_a_500(api, name):
    data, allowed = SHAPES[name]
    for sender in ({}, {"purpose": "anonymous guest"}):
        response = await api.http.post("/uploads", content=data)
        assert response.status_code in allowed, (name, sender, response.text)
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        if response.status_code == 201:
            served_w, served_h = body["width"], body["height"]
            assert max(served_w, served_h) <= images.Budget().max_side
            assert min(served_w, served_h) >= 1
        else:
            error = body["errors"][0]
            assert error["extensions"]["field"] == "body" and error["message"]
            assert error["extensions"]["code"] in {
                "IMAGE_TOO_LARGE",
                "IMAGE_UNREADABLE",
                "UNSUPPORTED_MEDIA_TYPE",
            }


async def test_a_16_bit_photo_keeps_its_tones(api, inspector):
    grey = Image.new("I;16", (64, 64), 0x8000)  # mid-grey in 16 bits
    out = io.BytesIO()
    grey.save(out, "PNG")
    stored = await api.http.post("/uploads", content=out.getvalue(), headers=bearer(inspector))
    back = await api.http.get(stored.json()["url"], headers=bearer(inspector))
    assert 120 <= Image.open(io.BytesIO(back.content)).convert("L").getpixel((5, 5)) <= 136


def _carries_nothing(data: bytes) -> None:
    for secret in SECRET_WORDS:
        assert secret.encode() not in data
    image = Image.open(io.BytesIO(data))
    assert not image.getexif()
    for kept in ("icc_profile", "comment", "xmp", "exif", "Comment", "Author"):
        assert kept not in image.info, kept


async def test_nothing_of_the_files_metadata_is_served_back(
    api, inspector, bureau, make_operator, db
):
    """Comments, EXIF, XMP, ICC profiles and PNG text, read back from the bytes served."""
    stay, _ = await certify(api, inspector.token, bureau.token)
    operator = await make_operator([key(stay["id"])])
    for sent in (jpeg_carrying_secrets(), png_carrying_secrets()):
        assert SECRET_WORDS[1].encode() in sent
        evidence = await api.http.post("/uploads", content=sent, headers=bearer(inspector))
        _carries_nothing(
            (await api.http.get(evidence.json()["url"], headers=bearer(inspector))).content
        )
        guest = await api.http.post("/uploads", content=sent)
        assert guest.status_code == 201  # no one may open it until a concern cites it
        chunks = db.db["uploads.chunks"].find({"files_id": ObjectId(guest.json()["id"])})
        _carries_nothing(b"".join([c["data"] async for c in chunks.sort("n")]))
        listing = await api.http.post(
            f"/uploads?purpose=listing&homestay={stay['id']}",
            content=sent,
            headers=bearer(operator),
        )
        url = listing.json()["url"]
        for path in (url, f"{url}/320", f"{url}/1280"):
            for accept in ("image/webp", "image/jpeg"):
                served = await api.http.get(path, headers={**bearer(operator), "Accept": accept})
                assert served.status_code == 200, path
                _carries_nothing(served.content)


async def test_an_idempotency_key_is_the_senders_own(app_with, settings, services, db):
    """Two guests sending the same key get their own photos; a key reused with another photo
    is refused rather than answered with the first."""
    import httpx

    from homestay.http.app import create_app

    app = create_app(settings, services)

    def guest(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 5000))
        return httpx.AsyncClient(transport=transport, base_url="http://t")

    headers = {"Idempotency-Key": "same-key-for-everyone"}
    red, blue = photo("JPEG", (40, 30)), photo("PNG", (50, 20))
    async with guest("10.0.0.1") as first, guest("10.0.0.2") as second:
        mine = await first.post("/uploads", content=red, headers=headers)
        theirs = await second.post("/uploads", content=blue, headers=headers)
        assert mine.status_code == theirs.status_code == 201
        assert mine.json()["id"] != theirs.json()["id"]
        assert (theirs.json()["width"], theirs.json()["height"]) == (50, 20)
        again = await first.post("/uploads", content=red, headers=headers)
        assert again.status_code == 200 and again.json()["id"] == mine.json()["id"]
        reused = await first.post("/uploads", content=blue, headers=headers)
        assert reused.status_code == 422
        assert reused.json()["errors"][0]["extensions"] == {
            "code": "IDEMPOTENCY_KEY_REUSED",
            "field": "Idempotency-Key",
        }
    assert await db.db["uploads.files"].count_documents({}) == 2


async def test_photos_are_decoded_a_few_at_a_time_and_the_rest_told_to_come_back():
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(10)
        return "decoded"

    no_line = DecodeGate(at_once=1, waiting=0, wait_s=5, budget=images.Budget())
    running = asyncio.create_task(no_line.run(slow))
    await asyncio.to_thread(started.wait, 5)
    with pytest.raises(Busy) as refused:
        await no_line.run(slow)
    response = error_response(refused.value)
    assert response.status_code == 503 and int(response.headers["retry-after"]) > 0
    short_wait = DecodeGate(at_once=1, waiting=1, wait_s=1, budget=images.Budget())
    started.clear()
    held = asyncio.create_task(short_wait.run(slow))
    await asyncio.to_thread(started.wait, 5)
    with pytest.raises(Busy):
        await short_wait.run(slow)  # waited its turn, too long
    release.set()
    assert await running == "decoded" and await held == "decoded"
    assert await short_wait.run(lambda: "next") == "next"  # the slot was given back


def test_a_jpeg_larger_than_what_is_kept_is_decoded_at_a_reduced_scale():
    big = photo("JPEG", (8000, 6000))
    budget = images.Budget(decode_bytes=64 * images.MIB)  # 8000 x 6000 whole: 183 MB
    picture = images.prepare(big, budget)
    assert picture.size == (2560, 1920)
    with pytest.raises(Exception) as refused:
        images.prepare(png_of("RGB", (5000, 4000)), budget)  # a PNG cannot be: 76 MB
    assert getattr(refused.value, "code", None) == "IMAGE_TOO_LARGE"
    assert "76 MB" in str(refused.value) and "64 MB" in str(refused.value)


def test_jpeg_bytes_are_what_the_tests_send():
    assert Image.open(io.BytesIO(JPEG)).format == "JPEG"
