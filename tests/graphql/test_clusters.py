"""Map clusters: the pins a map draws at low zoom."""

from __future__ import annotations

import pytest

from tests.graphql.test_search import MOGANSHAN, certify, point_at

CLUSTERS = """query($bbox: BBoxInput!, $zoom: Int!, $minGrade: Grade, $cs: CoordSystem) {
  stayClusters(bbox: $bbox, zoom: $zoom, minGrade: $minGrade, coordSystem: $cs) {
    id count point { lat lng } counts { county { code } grade count } } }"""
TOTAL = """query($bbox: BBoxInput!, $minGrade: Grade) {
  searchStays(bbox: $bbox, minGrade: $minGrade) { totalCount } }"""
BOX = {"south": 30.4, "west": 119.6, "north": 30.8, "east": 120.1}


@pytest.fixture
async def spread(services, inspector, bureau):
    for i in range(12):  # a line of stays going east from Moganshan, 1.5 km apart
        await certify(
            services,
            inspector,
            bureau,
            point_at(1500 * i, 90),
            ["STANDARD", "PREMIUM", "BOUTIQUE"][i % 3],
        )
    await certify(services, inspector, bureau, point_at(15_000, 200))  # one farther off


@pytest.mark.parametrize("zoom", [3, 9, 12, 16])
@pytest.mark.parametrize("min_grade", [None, "PREMIUM"])
async def test_the_counts_add_up_to_the_search_over_the_same_viewport(api, spread, zoom, min_grade):
    found = (await api.query(CLUSTERS, {"bbox": BOX, "zoom": zoom, "minGrade": min_grade}))[
        "stayClusters"
    ]
    total = (await api.query(TOTAL, {"bbox": BOX, "minGrade": min_grade}))["searchStays"]
    assert sum(c["count"] for c in found) == total["totalCount"] > 0
    for cluster in found:
        assert sum(p["count"] for p in cluster["counts"]) == cluster["count"]
        assert BOX["south"] <= cluster["point"]["lat"] <= BOX["north"]
    assert len({c["id"] for c in found}) == len(found)


async def test_zooming_in_splits_clusters_and_zooming_out_merges_them(api, spread):
    counts = [
        len((await api.query(CLUSTERS, {"bbox": BOX, "zoom": zoom}))["stayClusters"])
        for zoom in (3, 10, 16)
    ]
    assert counts[0] == 1 and counts[0] < counts[1] < counts[2] <= 13


async def test_a_viewport_of_a_whole_country_at_a_street_zoom_stays_a_few_hundred(api, spread):
    china = {"south": 18.0, "west": 73.0, "north": 54.0, "east": 135.0}
    found = (await api.query(CLUSTERS, {"bbox": china, "zoom": 20}))["stayClusters"]
    assert 1 <= len(found) <= 256 and sum(c["count"] for c in found) == 13


async def test_points_come_in_the_coordinate_system_asked_for(api, spread):
    one = {
        "south": MOGANSHAN.lat - 0.001,
        "west": MOGANSHAN.lng - 0.001,
        "north": MOGANSHAN.lat + 0.001,
        "east": MOGANSHAN.lng + 0.001,
    }
    gps = (await api.query(CLUSTERS, {"bbox": one, "zoom": 18}))["stayClusters"]
    assert [c["count"] for c in gps] == [1]
    assert abs(gps[0]["point"]["lat"] - MOGANSHAN.lat) < 1e-9


@pytest.mark.parametrize("zoom", [-1, 21])
async def test_a_zoom_off_the_map_is_refused_naming_it(api, zoom):
    body = await api.raw(CLUSTERS, {"bbox": BOX, "zoom": zoom})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "zoom" in body["errors"][0]["message"]
