from __future__ import annotations

import pytest

from homestay.domain import geo
from tests.conftest import key
from tests.graphql.flows import REGISTER, homestay_input, register

UPDATE = """
mutation($input: UpdateHomestayInput!) {
  updateHomestay(input: $input) {
    homestay { id name rooms town address location { lat lng } }
    errors { field code message }
  }
}"""

READ = """query($id: ID!, $cs: CoordSystem!) { homestay(id: $id, coordSystem: $cs) {
  id name county { code name } town location { lat lng } certificate { number } grade } }"""


async def test_an_inspector_registers_a_homestay_in_the_county(api, inspector):
    stay = await register(api, inspector.token)
    assert stay["county"] == {"code": "330521", "name": "德清县"}
    assert stay["location"] == {"lat": 30.5751, "lng": 119.8779}
    assert stay["certificate"] is None and stay["grade"] is None
    read = (await api.query(READ, {"id": stay["id"], "cs": "WGS84"}, inspector.token))["homestay"]
    assert read["name"] == "竹隐山居"


async def test_an_address_without_a_point_is_geocoded_from_the_gazetteer(api, inspector):
    stay = await register(
        api, inspector.token, location=None, address="浙江省湖州市德清县莫干山镇仙潭村18号"
    )
    assert stay["location"] == {"lat": 30.647, "lng": 119.843}
    assert stay["town"] == "莫干山镇"


async def test_an_unknown_address_without_a_point_is_refused(api, inspector):
    body = await api.query(
        REGISTER, {"input": homestay_input(location=None, address="火星基地1号")}, inspector.token
    )
    assert body["registerHomestay"]["errors"] == [
        {
            "field": ["input", "address"],
            "code": "GEOCODE_FAILED",
            "message": "无法根据地址确定位置，请提供坐标",
            "messageEn": "the address names no known town or village; give a location",
        }
    ]


async def test_a_point_in_amap_coordinates_is_stored_as_gps(api, inspector, db):
    gps = geo.LatLng(30.5751, 119.8779)
    amap = geo.from_wgs84(gps, geo.CoordSystem.GCJ02)
    stay = await register(
        api, inspector.token, coordSystem="GCJ02", location={"lat": amap.lat, "lng": amap.lng}
    )
    stored = await db.homestays.find_one({"_id": key(stay["id"])})
    assert geo.distance_m(geo.from_geojson(stored["location"]), gps) < 0.05
    # read back in the system asked for
    for system, expected in [("GCJ02", amap), ("WGS84", gps)]:
        read = (await api.query(READ, {"id": stay["id"], "cs": system}, inspector.token))[
            "homestay"
        ]
        assert geo.distance_m(geo.LatLng(**read["location"]), expected) < 0.05


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"name": "  "}, ["input", "name"], "REQUIRED"),
        ({"name": "宿" * 101}, ["input", "name"], "TOO_LONG"),
        ({"address": ""}, ["input", "address"], "REQUIRED"),
        ({"rooms": 0}, ["input", "rooms"], "OUT_OF_RANGE"),
        ({"rooms": 501}, ["input", "rooms"], "OUT_OF_RANGE"),
        ({"county": "999999"}, ["input", "county"], "UNKNOWN_COUNTY"),
        ({"town": "不存在镇"}, ["input", "town"], "UNKNOWN_TOWN"),
        ({"location": {"lat": 91, "lng": 119.9}}, ["input", "location", "lat"], "OUT_OF_RANGE"),
        ({"location": {"lat": 119.87, "lng": 30.6}}, ["input", "location", "lat"], "OUT_OF_RANGE"),
        ({"location": {"lat": 39.9, "lng": 116.4}}, ["input", "location"], "OUTSIDE_COUNTY"),
        ({"facilities": ["x" * 51]}, ["input", "facilities", "0"], "UNKNOWN_FACILITY"),
        ({"facilities": ["WIFI", "温泉浴场"]}, ["input", "facilities", "1"], "UNKNOWN_FACILITY"),
    ],
)
async def test_bad_input_is_named_and_nothing_is_stored(api, inspector, db, overrides, field, code):
    body = await api.query(REGISTER, {"input": homestay_input(**overrides)}, inspector.token)
    errors = body["registerHomestay"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [(field, code)]
    assert body["registerHomestay"]["homestay"] is None
    assert await db.homestays.count_documents({}) == 0


async def test_a_resent_registration_returns_the_first(api, inspector, db):
    first = await register(api, inspector.token, clientRequestId="req-1")
    again = await register(api, inspector.token, clientRequestId="req-1")
    assert again["id"] == first["id"]
    assert await db.homestays.count_documents({}) == 1


async def test_registration_is_for_staff_of_the_county(api, inspector, anji_inspector):
    assert await api.error_code(REGISTER, {"input": homestay_input()}) == "UNAUTHENTICATED"
    assert (
        await api.error_code(REGISTER, {"input": homestay_input()}, anji_inspector.token)
        == "FORBIDDEN"
    )


async def test_an_update_changes_what_is_given_and_keeps_the_rest(api, inspector):
    stay = await register(api, inspector.token)
    payload = (
        await api.query(
            UPDATE,
            {"input": {"id": stay["id"], "rooms": 12, "name": "竹隐山居·新"}},
            inspector.token,
        )
    )["updateHomestay"]
    assert payload["errors"] == []
    assert payload["homestay"]["rooms"] == 12 and payload["homestay"]["name"] == "竹隐山居·新"
    assert payload["homestay"]["location"] == stay["location"]


async def test_an_update_cannot_move_a_homestay_to_another_county(api, inspector):
    stay = await register(api, inspector.token)
    payload = (
        await api.query(UPDATE, {"input": {"id": stay["id"], "county": "330523"}}, inspector.token)
    )["updateHomestay"]
    assert [e["code"] for e in payload["errors"]] == ["IMMUTABLE"]


async def test_another_countys_staff_cannot_update(api, inspector, anji_bureau):
    stay = await register(api, inspector.token)
    code = await api.error_code(
        UPDATE, {"input": {"id": stay["id"], "rooms": 3}}, anji_bureau.token
    )
    assert code == "FORBIDDEN"


async def test_an_unknown_homestay_is_null_for_a_read_and_an_error_for_an_update(api, inspector):
    assert (await api.query(READ, {"id": "nope", "cs": "WGS84"}))["homestay"] is None
    payload = (await api.query(UPDATE, {"input": {"id": "nope", "rooms": 3}}, inspector.token))[
        "updateHomestay"
    ]
    assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"]
