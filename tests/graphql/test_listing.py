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
        api, inspector, bureau, make_operator):
    stay, _ = await certify(api, inspector.token, bureau.token)
    operator = await make_operator([key(stay["id"])])
    done = (await api.query(UPDATE, {"input": {
        "homestayId": stay["id"], "description": "竹林深处的老宅，推窗见山。",
        "descriptionEn": "An old house deep in the bamboo.", "phone": "0572-888 1234",
        "priceMin": 380, "priceMax": 980}}, operator.token))["updateListing"]
    assert done["errors"] == []
    assert done["homestay"]["phone"] == "05728881234"
    assert done["homestay"]["priceRange"] == {"min": 380, "max": 980, "currency": "CNY"}
    hit = (await api.query(SEARCH))["searchStays"]["edges"][0]["node"]
    assert hit["description"] == "竹林深处的老宅，推窗见山。"
    assert hit["priceRange"] == {"min": 380, "max": 980}
    english = (await api.query(SEARCH, headers={"Accept-Language": "en"})
               )["searchStays"]["edges"][0]["node"]
    assert english["description"] == "An old house deep in the bamboo."
    # one side of the range alone: checked against the other as stored
    errors = (await api.query(UPDATE, {"input": {"homestayId": stay["id"], "priceMax": 200}},
                              operator.token))["updateListing"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [(["input", "priceMin"], "INVALID")]


async def test_hostile_listing_input_is_refused_by_field_and_nothing_is_written(
        api, db, inspector, make_operator):
    stay = await register(api, inspector.token)
    operator = await make_operator([key(stay["id"])])
    errors = (await api.query(UPDATE, {"input": {
        "homestayId": stay["id"], "description": "好" * 100_000, "phone": "12345",
        "priceMin": 900, "priceMax": 300}}, operator.token))["updateListing"]["errors"]
    assert {(tuple(e["field"]), e["code"]) for e in errors} == {
        (("input", "description"), "TOO_LONG"), (("input", "phone"), "INVALID"),
        (("input", "priceMin"), "INVALID")}
    stored = await db.homestays.find_one({"_id": key(stay["id"])})
    assert "description" not in stored and "priceMin" not in stored
    # another operator's homestay
    other = await make_operator([key((await register(api, inspector.token, name="别家"))["id"])])
    assert await api.error_code(UPDATE, {"input": {"homestayId": stay["id"], "priceMin": 1}},
                                other.token) == "FORBIDDEN"
    # a mobile number, with +86
    done = (await api.query(UPDATE, {"input": {"homestayId": stay["id"],
                                               "phone": "+86 139-0000-1234"}}, operator.token)
            )["updateListing"]
    assert done["errors"] == [] and done["homestay"]["phone"] == "+8613900001234"
