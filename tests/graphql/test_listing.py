"""The listing's content: written by the stay's operator, shown to tourists in the next
search; hostile input refused, naming the field, with nothing written."""

from __future__ import annotations

from tests.conftest import key
from tests.graphql.flows import certify, register

UPDATE = """mutation($input: UpdateListingInput!) { updateListing(input: $input) {
  homestay { description phone priceRange { min max currency } }
  errors { field code message } } }"""
SEARCH = """{ searchStays(near: {lat: 30.5751, lng: 119.8779}, radiusMeters: 5000) {
  edges { node { id description phone priceRange { min max } } } } }"""


async def test_an_operators_listing_shows_in_the_next_search_in_the_tourists_language(
    api, inspector, bureau, make_operator
):
    stay, _ = await certify(api, inspector.token, bureau.token)
    operator = await make_operator([key(stay["id"])])
    done = (
        await api.query(
            UPDATE,
            {
                "input": {
                    "homestayId": stay["id"],
                    "description": "竹林深处的老宅，推窗见山。",
                    "descriptionEn": "An old house deep in the bamboo.",
                    "phone": "0572-888 1234",
                    "priceMin": 380,
                    "priceMax": 980,
                }
            },
            operator.token,
        )
    )["updateListing"]
    assert done["errors"] == []
    assert done["homestay"]["phone"] == "05728881234"
    assert done["homestay"]["priceRange"] == {"min": 380, "max": 980, "currency": "CNY"}
    hit = (await api.query(SEARCH))["searchStays"]["edges"][0]["node"]
    assert hit["description"] == "竹林深处的老宅，推窗见山。"
    assert hit["priceRange"] == {"min": 380, "max": 980}
    english = (await api.query(SEARCH, headers={"Accept-Language": "en"}))["searchStays"]["edges"][
        0
    ]["node"]
    assert english["description"] == "An old house deep in the bamboo."
    # one side of the range alone: checked against the other as stored
    errors = (
        await api.query(
            UPDATE, {"input": {"homestayId": stay["id"], "priceMax": 200}}, operator.token
        )
    )["updateListing"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [(["input", "priceMin"], "INVALID")]


async def test_hostile_listing_input_is_refused_by_field_and_nothing_is_written(
    api, db, inspector, make_operator
):
    stay = await register(api, inspector.token)
    operator = await make_operator([key(stay["id"])])
    errors = (
        await api.query(
            UPDATE,
            {
                "input": {
                    "homestayId": stay["id"],
                    "description": "好" * 100_000,
                    "phone": "12345",
                    "priceMin": 900,
                    "priceMax": 300,
                }
            },
            operator.token,
        )
    )["updateListing"]["errors"]
    assert {(tuple(e["field"]), e["code"]) for e in errors} == {
        (("input", "description"), "TOO_LONG"),
        (("input", "phone"), "INVALID"),
        (("input", "priceMin"), "INVALID"),
    }
    stored = await db.homestays.find_one({"_id": key(stay["id"])})
    assert "description" not in stored and "priceMin" not in stored
    # another operator's homestay
    other = await make_operator([key((await register(api, inspector.token, name="别家"))["id"])])
    assert (
        await api.error_code(
            UPDATE, {"input": {"homestayId": stay["id"], "priceMin": 1}}, other.token
        )
        == "FORBIDDEN"
    )
    # a mobile number, with +86
    done = (
        await api.query(
            UPDATE,
            {"input": {"homestayId": stay["id"], "phone": "+86 139-0000-1234"}},
            operator.token,
        )
    )["updateListing"]
    assert done["errors"] == [] and done["homestay"]["phone"] == "+8613900001234"


FACILITIES = """mutation($input: UpdateListingInput!) { updateListing(input: $input) {
  homestay { facilities facilityDetails { code label } }
  errors { field code message messageEn } } }"""


async def test_facilities_come_from_a_vocabulary_shown_in_the_readers_language(
    api, inspector, bureau, make_operator
):
    stay, _ = await certify(api, inspector.token, bureau.token)
    operator = await make_operator([key(stay["id"])])
    done = (
        await api.query(
            FACILITIES,
            {
                "input": {
                    "homestayId": stay["id"],
                    "facilities": ["TEA_ROOM", "停车场", "wi-fi", "WIFI"],
                }
            },
            operator.token,
        )
    )["updateListing"]
    assert done["errors"] == []
    # labels read as their codes, each once; details in the vocabulary's order
    assert done["homestay"]["facilities"] == ["TEA_ROOM", "PARKING", "WIFI"]
    details = done["homestay"]["facilityDetails"]
    assert [f["label"] for f in details] == ["无线网络", "停车场", "茶室"]
    hit = (
        await api.query(
            """{ searchStays { edges { node { facilityDetails { label } } } } }""",
            headers={"Accept-Language": "en"},
        )
    )["searchStays"]["edges"][0]["node"]
    assert [f["label"] for f in hit["facilityDetails"]] == ["Wi-Fi", "Parking", "Tea room"]
    vocabulary = (
        await api.query("{ facilities { code label } }", headers={"Accept-Language": "en"})
    )["facilities"]
    assert {"code": "TEA_ROOM", "label": "Tea room"} in vocabulary

    refused = (
        await api.query(
            FACILITIES,
            {"input": {"homestayId": stay["id"], "facilities": ["WIFI", "私人直升机坪"]}},
            operator.token,
        )
    )["updateListing"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        (["input", "facilities", "1"], "UNKNOWN_FACILITY")
    ]
    assert "私人直升机坪" in refused["errors"][0]["messageEn"]  # which one, for the developer
    again = await api.query(
        """query($h: ID!) { homestay(id: $h) { facilities } }""", {"h": stay["id"]}
    )
    assert again["homestay"]["facilities"] == ["TEA_ROOM", "PARKING", "WIFI"]  # unchanged


async def test_free_words_from_before_the_vocabulary_are_read_as_codes_once(
    api, db, inspector, bureau
):
    from homestay.services.homestays import ensure_facility_codes

    stay, cert = await certify(api, inspector.token, bureau.token)
    await db.homestays.update_one(
        {"_id": key(stay["id"])}, {"$set": {"facilities": ["Wi-Fi", "早餐", "温泉"]}}
    )
    await db.certificates.update_one(
        {"_id": cert["number"]}, {"$set": {"listing.facilities": ["Wi-Fi", "早餐", "温泉"]}}
    )
    await db.meta.delete_one({"_id": "facility_codes"})
    assert await ensure_facility_codes(db) == (1, 1)
    assert (await db.homestays.find_one({"_id": key(stay["id"])}))["facilities"] == [
        "WIFI",
        "BREAKFAST",
        "温泉",
    ]  # the unknown word kept, for staff to replace
    assert (await db.certificates.find_one({"_id": cert["number"]}))["listing"]["facilities"] == [
        "WIFI",
        "BREAKFAST",
        "温泉",
    ]
    assert await ensure_facility_codes(db) == (0, 0)  # done once
