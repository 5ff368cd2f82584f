"""Listing photos: uploaded by the operator, re-encoded, drawn at the widths phones ask for,
WebP where the client reads it, cached forever; public while the stay is listed, evidence
never."""

from __future__ import annotations

import asyncio
import io
from urllib.parse import urlsplit

from PIL import Image

from tests.conftest import key
from tests.graphql.flows import certify, register
from tests.images import JPEG, photo

UPDATE = """mutation($input: UpdateListingInput!) { updateListing(input: $input) {
  homestay { photos { id width height } coverPhoto { id } }
  errors { field code } } }"""
HIT = """{ searchStays { edges { node { coverPhoto { url thumbnailUrl(width: 500) }
  photos { id } } } } }"""


def bearer(account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


def path(url: str) -> str:
    return urlsplit(url).path


async def _upload(api, account, homestay_id, data, **headers):
    return await api.http.post(
        f"/uploads?purpose=listing&homestay={homestay_id}",
        content=data,
        headers={**bearer(account), **headers},
    )


async def test_an_operators_photo_is_shown_in_search_at_the_width_the_phone_asks(
    api, inspector, bureau, make_operator
):
    stay, _ = await certify(api, inspector.token, bureau.token)
    operator = await make_operator([key(stay["id"])])
    sent = [photo("JPEG", size=(2000, 1500), gps=True), photo("PNG", size=(3000, 2000))]
    uploaded = [await _upload(api, operator, stay["id"], data) for data in sent]
    assert [u.status_code for u in uploaded] == [201, 201], [u.text for u in uploaded]
    ids = [u.json()["id"] for u in uploaded]
    done = (
        await api.query(
            UPDATE,
            {"input": {"homestayId": stay["id"], "photoIds": [ids[1], ids[0]]}},
            operator.token,
        )
    )["updateListing"]
    assert done["errors"] == []
    # the long side capped at 2560 px, the cover first
    assert done["homestay"]["photos"] == [
        {"id": ids[1], "width": 2560, "height": 1707},
        {"id": ids[0], "width": 2000, "height": 1500},
    ]
    assert done["homestay"]["coverPhoto"]["id"] == ids[1]

    hit = (await api.query(HIT))["searchStays"]["edges"][0]["node"]
    assert [p["id"] for p in hit["photos"]] == [ids[1], ids[0]]
    thumbnail = path(hit["coverPhoto"]["thumbnailUrl"])
    assert thumbnail == f"/photos/{ids[1]}/640"  # 500 asked: the next width drawn
    webp = await api.http.get(thumbnail, headers={"Accept": "image/webp,image/*"})
    jpeg = await api.http.get(thumbnail, headers={"Accept": "image/jpeg"})
    for response, fmt in ((webp, "WEBP"), (jpeg, "JPEG")):
        assert response.status_code == 200
        image = Image.open(io.BytesIO(response.content))
        assert (image.format, image.width) == (fmt, 640)
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "Accept" in response.headers["vary"]
        assert response.headers["x-content-type-options"] == "nosniff"
    assert len(webp.content) < len(jpeg.content)
    full = await api.http.get(path(hit["coverPhoto"]["url"]))
    whole = Image.open(io.BytesIO(full.content))
    assert (whole.format, whole.size) == ("JPEG", (2560, 1707))
    assert not whole.getexif()
    # what was drawn is what was sent: the corner colour survives the re-encoding
    assert all(
        abs(a - b) < 12
        for a, b in zip(whole.convert("RGB").getpixel((5, 5)), (200, 120, 40), strict=True)
    )
    again = await api.http.get(thumbnail, headers={"If-None-Match": jpeg.headers["etag"]})
    assert again.status_code == 304


async def test_a_private_homes_photos_and_evidence_are_never_public(api, inspector, make_operator):
    stay = await register(api, inspector.token)  # not certified: a private home
    operator = await make_operator([key(stay["id"])])
    uploaded = (await _upload(api, operator, stay["id"], JPEG)).json()
    assert (await api.http.get(uploaded["url"])).status_code == 404
    own = await api.http.get(uploaded["url"], headers=bearer(operator))
    assert own.status_code == 200 and own.headers["cache-control"] == "private, no-store"
    evidence = (await api.http.post("/uploads", content=JPEG, headers=bearer(inspector))).json()
    for headers in ({}, bearer(inspector)):
        assert (await api.http.get(f"/photos/{evidence['id']}", headers=headers)).status_code == 404


async def test_hostile_photo_input_is_refused_by_field(api, db, inspector, make_operator):
    ours = await register(api, inspector.token)
    theirs = await register(api, inspector.token, name="别家")
    operator = await make_operator([key(ours["id"])])
    neighbour = await make_operator([key(theirs["id"])])
    their_photo = (await _upload(api, neighbour, theirs["id"], JPEG)).json()["id"]
    assert (await _upload(api, operator, theirs["id"], JPEG)).status_code == 403
    refused = await api.http.post(
        "/uploads?purpose=listing", content=JPEG, headers=bearer(operator)
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["field"] == "homestay"
    assert (
        await api.http.post("/uploads?purpose=cover", content=JPEG, headers=bearer(operator))
    ).status_code == 400
    evidence = (await api.http.post("/uploads", content=JPEG, headers=bearer(inspector))).json()
    done = (
        await api.query(
            UPDATE,
            {
                "input": {
                    "homestayId": ours["id"],
                    "photoIds": [their_photo, evidence["id"], "not-an-id"],
                }
            },
            operator.token,
        )
    )["updateListing"]
    assert [(e["field"], e["code"]) for e in done["errors"]] == [
        (["input", "photoIds", "0"], "OTHER_HOMESTAY"),
        (["input", "photoIds", "1"], "NOT_FOUND"),
        (["input", "photoIds", "2"], "NOT_FOUND"),
    ]
    assert "photos" not in await db.homestays.find_one({"_id": key(ours["id"])})


async def test_a_listing_photo_sent_again_is_stored_once(api, db, inspector, make_operator):
    stay = await register(api, inspector.token)
    operator = await make_operator([key(stay["id"])])
    racing = await asyncio.gather(
        *[
            _upload(api, operator, stay["id"], JPEG, **{"Idempotency-Key": "cover-1"})
            for _ in range(3)
        ]
    )
    assert all(r.status_code in (200, 201) for r in racing), [r.text for r in racing]
    assert len({r.json()["id"] for r in racing}) == 1
    files = db.db["uploads.files"]
    assert await files.count_documents({"metadata.purpose": "listing"}) == 1
    # its thumbnails once (a 64 px photo: drawn at its own width, in WebP and JPEG, for every
    # width asked), none left behind by the losers
    stored = await files.find_one({"metadata.purpose": "listing"})
    named = {i for sizes in stored["metadata"]["renditions"].values() for i in sizes.values()}
    assert len(named) == 2
    assert await files.count_documents({"metadata.purpose": "thumbnail"}) == 2
    assert await db.db["uploads.chunks"].count_documents({}) == 3
