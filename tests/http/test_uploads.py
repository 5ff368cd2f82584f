"""Photos from the field are hostile until decoded: what an attacker sends, what is stored."""

from __future__ import annotations

import io

from PIL import Image

from tests.graphql.flows import SUBMIT, checklist, register
from tests.images import JPEG, photo, png_declaring


def bearer(staff) -> dict[str, str]:
    return {"Authorization": f"Bearer {staff.token}"}


async def test_a_polyglot_with_a_jpeg_header_is_refused(api, inspector):
    polyglot = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00<html><script>alert(document.cookie)</script>"
    response = await api.http.post("/uploads", content=polyglot, headers=bearer(inspector))
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"] == {
        "code": "UNSUPPORTED_MEDIA_TYPE",
        "field": "body",
    }


async def test_a_picture_declaring_billions_of_pixels_is_refused_undecoded(api, inspector, db):
    bomb = png_declaring(60_000, 60_000)
    assert len(bomb) < 200  # small on the wire: only its header tells
    response = await api.http.post("/uploads", content=bomb, headers=bearer(inspector))
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "IMAGE_TOO_LARGE" and "50,000,000" in error["message"]
    assert await db.db["uploads.files"].count_documents({}) == 0


async def test_what_is_stored_is_re_encoded_without_the_phones_location(api, inspector):
    sent = photo("JPEG", size=(120, 90), gps=True)
    assert Image.open(io.BytesIO(sent)).getexif().get_ifd(0x8825)  # the phone wrote GPS
    stored = await api.http.post("/uploads", content=sent, headers=bearer(inspector))
    assert stored.status_code == 201, stored.text
    back = await api.http.get(stored.json()["url"], headers=bearer(inspector))
    assert back.content != sent
    image = Image.open(io.BytesIO(back.content))
    assert image.format == "JPEG" and image.size == (120, 90)
    assert not image.getexif()  # no GPS, no maker: nothing of the phone's metadata


async def test_a_photo_is_served_so_that_no_browser_runs_it(api, inspector):
    for sent, media_type in ((photo("PNG"), "image/jpeg"), (photo("WEBP"), "image/jpeg")):
        stored = await api.http.post("/uploads", content=sent, headers=bearer(inspector))
        assert stored.status_code == 201 and stored.json()["contentType"] == media_type
        back = await api.http.get(stored.json()["url"], headers=bearer(inspector))
        assert back.headers["content-type"] == media_type
        assert back.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in back.headers["content-security-policy"]
        assert back.headers["content-disposition"].startswith("inline; filename=")


async def test_uploads_have_a_quota_per_account(app_with, inspector, bureau):
    async with await app_with(rate_uploads="2/hour") as client:
        codes = [
            (await client.post("/uploads", content=JPEG, headers=bearer(inspector))).status_code
            for _ in range(3)
        ]
        assert codes == [201, 201, 429]
        assert (
            await client.post("/uploads", content=JPEG, headers=bearer(bureau))
        ).status_code == 201  # the quota is the account's, not the address's


async def test_an_inspection_cites_only_photos_of_its_own_county(api, inspector, anji_inspector):
    anji_photo = (
        await api.http.post("/uploads", content=JPEG, headers=bearer(anji_inspector))
    ).json()["url"]
    stay = await register(api, inspector.token)
    results = [
        {**r, "photoUrls": [anji_photo]} if r["itemCode"] == "LS03" else r for r in checklist()
    ]
    payload = (
        await api.query(
            SUBMIT,
            {
                "input": {
                    "clientSubmissionId": "photo-county",
                    "homestayId": stay["id"],
                    "results": results,
                }
            },
            inspector.token,
        )
    )["submitInspection"]
    assert payload["inspection"] is None
    [error] = payload["errors"]
    assert error["code"] == "OTHER_COUNTY" and error["field"][-2:] == ["photoUrls", "0"]


async def test_a_photo_sent_twice_with_the_same_key_is_stored_once(api, inspector, db):
    import asyncio

    headers = {**bearer(inspector), "Idempotency-Key": "3f1c2a9e-photo-1"}
    first = await api.http.post("/uploads", content=JPEG, headers=headers)
    again = await api.http.post("/uploads", content=JPEG, headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()
    racing = await asyncio.gather(
        *[
            api.http.post(
                "/uploads",
                content=JPEG,
                headers={**bearer(inspector), "Idempotency-Key": "3f1c2a9e-photo-2"},
            )
            for _ in range(4)
        ]
    )
    assert all(r.status_code in (200, 201) for r in racing), [r.text for r in racing]
    assert len({r.json()["id"] for r in racing}) == 1
    assert await db.db["uploads.files"].count_documents({}) == 2
    assert await db.db["uploads.chunks"].count_documents({}) == 2  # no orphan left behind
    other = await api.http.post("/uploads", content=JPEG, headers=bearer(inspector))
    assert other.json()["id"] not in (first.json()["id"], racing[0].json()["id"])
