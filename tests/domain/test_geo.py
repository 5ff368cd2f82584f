from __future__ import annotations

import random

import pytest
from geopy.distance import geodesic

from homestay.domain import geo
from homestay.domain.geo import BBox, CoordSystem, LatLng

MOGANSHAN = LatLng(30.60, 119.87)


@pytest.mark.parametrize("system", [CoordSystem.GCJ02, CoordSystem.BD09])
def test_chinese_map_points_round_trip_within_centimetres(system):
    rng = random.Random(1)
    for _ in range(50):
        p = LatLng(rng.uniform(22, 42), rng.uniform(100, 122))
        back = geo.to_wgs84(geo.from_wgs84(p, system), system)
        assert geo.distance_m(p, back) < 0.05


@pytest.mark.parametrize(
    ("system", "low", "high"), [(CoordSystem.GCJ02, 200, 800), (CoordSystem.BD09, 800, 1500)]
)
def test_map_systems_differ_from_gps_by_hundreds_of_metres(system, low, high):
    shown = geo.from_wgs84(MOGANSHAN, system)
    assert low < geo.distance_m(MOGANSHAN, shown) < high


def test_points_outside_china_are_left_as_they_are():
    tokyo = LatLng(35.68, 139.76)
    assert geo.from_wgs84(tokyo, CoordSystem.GCJ02) == tokyo
    assert geo.to_wgs84(tokyo, CoordSystem.BD09) == tokyo


@pytest.mark.parametrize(
    ("lat", "lng", "field"),
    [
        (91, 120, "p.lat"),
        (-90.5, 120, "p.lat"),
        (float("nan"), 120, "p.lat"),
        (30, 180.01, "p.lng"),
        (30, float("inf"), "p.lng"),
    ],
)
def test_out_of_range_points_name_the_coordinate(lat, lng, field):
    with pytest.raises(geo.GeoError) as err:
        geo.check_point(lat, lng, "p")
    assert err.value.field == field


def test_viewports_are_inclusive_and_checked():
    box = BBox(30.5, 119.8, 30.7, 120.0)
    assert geo.in_bbox(LatLng(30.5, 119.8), box)
    assert geo.in_bbox(LatLng(30.7, 120.0), box)
    assert not geo.in_bbox(LatLng(30.70001, 120.0), box)
    with pytest.raises(geo.GeoError) as err:
        geo.check_bbox(BBox(30.7, 119.8, 30.5, 120.0))
    assert err.value.field == "bbox.south"


def test_the_fast_distances_bound_the_exact_geodesic_up_to_two_hundred_km() -> None:
    import numpy as np
    from geopy.distance import geodesic as _geodesic

    rnd = random.Random(5)
    for _ in range(2000):
        origin = geo.LatLng(rnd.uniform(15, 55), rnd.uniform(75, 135))
        far = _geodesic(
            meters=rnd.choice([rnd.uniform(0, 2000), rnd.uniform(0, 200_000)])
        ).destination((origin.lat, origin.lng), rnd.uniform(0, 360))
        point = geo.LatLng(far.latitude, far.longitude)
        exact = geo.distance_m(origin, point)
        approx, low, high = geo.approximate_distances(
            origin, geo.ecef(np.array([point.lat]), np.array([point.lng]))
        )
        assert low[0] <= exact <= high[0]
        assert high[0] - low[0] < 0.021 + exact**3 * 1e-16  # tight: a few cm at 200 km


def test_distances_are_geopys_geodesic_to_the_last_digit():
    """The tourist sees geopy's figure (WGS-84, Karney), however the service computes it."""
    rng = random.Random(7)
    for _ in range(2000):
        a = LatLng(rng.uniform(-89.9, 89.9), rng.uniform(-180, 180))
        near = rng.choice([0.0001, 0.01, 1.0, 90.0])
        b = LatLng(
            max(-90.0, min(90.0, a.lat + rng.uniform(-near, near))),
            (a.lng + rng.uniform(-2 * near, 2 * near) + 180) % 360 - 180,
        )
        assert geo.distance_m(a, b) == geodesic((a.lat, a.lng), (b.lat, b.lng)).meters
    assert geo.distance_m(MOGANSHAN, MOGANSHAN) == 0.0
