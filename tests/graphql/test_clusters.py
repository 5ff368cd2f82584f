"""Map clusters: the pins a map draws at low zoom."""

from __future__ import annotations

import pytest

from homestay.auth import Role
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


async def test_counts_are_by_grade_and_by_county_only_when_the_county_is_asked_for(
    api, services, make_staff, spread
):
    # two more stays in the neighbouring county (Deqing 330521 / Yuhang 330110)
    inspector = await make_staff(Role.INSPECTOR, "330110")
    bureau = await make_staff(Role.BUREAU, "330110")
    await certify(services, inspector, bureau, point_at(16_000, 135), "STANDARD", county="330110")
    await certify(services, inspector, bureau, point_at(16_500, 135), "PREMIUM", county="330110")
    box = {"south": 30.3, "west": 119.6, "north": 30.8, "east": 120.2}
    by_grade = """query($bbox: BBoxInput!) { stayClusters(bbox: $bbox, zoom: 3) {
      id count counts { grade count } } }"""
    fragment = """query($bbox: BBoxInput!) { stayClusters(bbox: $bbox, zoom: 3) {
      count counts { ...where } } } fragment where on GradeCount { county { code } grade count }"""
    [cluster] = (await api.query(by_grade, {"bbox": box}))["stayClusters"]
    by_grade_id = cluster["id"]
    grades = [c["grade"] for c in cluster["counts"]]
    assert sorted(grades) == ["BOUTIQUE", "PREMIUM", "STANDARD"]  # each grade once
    assert sum(c["count"] for c in cluster["counts"]) == cluster["count"] == 15
    for query in (CLUSTERS, fragment):  # asked for directly or through a fragment
        [cluster] = (await api.query(query, {"bbox": box, "zoom": 3}))["stayClusters"]
        pairs = [(c["county"]["code"], c["grade"]) for c in cluster["counts"]]
        assert len(pairs) == len(set(pairs))
        assert {county for county, _ in pairs} == {"330521", "330110"}
        assert sum(c["count"] for c in cluster["counts"]) == 15
    # counted another way, the same cell is another object for a client's cache
    [by_county] = (await api.query(CLUSTERS, {"bbox": box, "zoom": 3}))["stayClusters"]
    assert by_county["id"] != by_grade_id


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
