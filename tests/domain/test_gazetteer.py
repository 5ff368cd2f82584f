from __future__ import annotations

from homestay.domain.gazetteer import GazetteerGeocoder, gazetteer


def test_deqing_towns_and_villages_lie_inside_the_county():
    deqing = gazetteer().county("330521")
    assert deqing is not None and deqing.name_zh == "德清县"
    assert len(deqing.places) >= 20
    for place in deqing.places:
        assert 30.42 <= place.lat <= 30.72 and 119.73 <= place.lng <= 120.35, place


def test_neighbouring_counties_are_known_by_code():
    names = {code: c.name_zh for code, c in gazetteer().counties.items()}
    assert names["330523"] == "安吉县"
    assert names["330522"] == "长兴县"


def test_the_geocoder_prefers_the_village_to_its_town():
    found = GazetteerGeocoder().geocode("浙江省德清县莫干山镇劳岭村12号")
    assert found is not None
    assert (found.latitude, found.longitude) == (30.575, 119.878)
    assert found.raw["town"] == "莫干山镇"


def test_the_geocoder_reads_english_and_stays_in_the_county_asked_for():
    found = GazetteerGeocoder().geocode("8 Xiantan Village, Moganshan", county="330521")
    assert found is not None and found.raw["county"] == "330521"
    assert GazetteerGeocoder().geocode("递铺街道 1号", county="330521") is None


def test_unknown_addresses_are_not_guessed():
    assert GazetteerGeocoder().geocode("北京市朝阳区") is None
