"""Points, coordinate systems, geodesic distances and the bounds search measures with. Pure.

Everything is stored and computed in WGS-84. Chinese map apps speak GCJ-02 (AMap, Tencent)
or BD-09 (Baidu); prcoords converts, with its iterative inverse (sub-millimetre), so a point
that goes out to a client and comes back lands where it was. Distances shown to people are
geodesic on the WGS-84 ellipsoid; the fast bounds (`distance_bounds`) let the search
measure exactly only the stays that may be on a page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np
import prcoords
from geographiclib.geodesic import Geodesic
from geopy.distance import ELLIPSOIDS


class CoordSystem(Enum):
    WGS84 = "WGS84"
    GCJ02 = "GCJ02"
    BD09 = "BD09"


class GeoError(ValueError):
    """A point or box that cannot be used; `field` names the offending part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class LatLng:
    lat: float
    lng: float


@dataclass(frozen=True)
class BBox:
    south: float
    west: float
    north: float
    east: float


def check_point(lat: float, lng: float, field: str = "location") -> LatLng:
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise GeoError(f"{field}.lat", f"latitude must be between -90 and 90, not {lat}")
    if not (math.isfinite(lng) and -180.0 <= lng <= 180.0):
        raise GeoError(f"{field}.lng", f"longitude must be between -180 and 180, not {lng}")
    return LatLng(float(lat), float(lng))


def _in_china(point: LatLng) -> bool:
    # the published GCJ-02 algorithm applies inside this box and leaves the rest as it is
    return 0.8293 <= point.lat <= 55.8271 and 72.004 <= point.lng <= 137.8347


def to_wgs84(point: LatLng, system: CoordSystem) -> LatLng:
    if system is CoordSystem.WGS84 or not _in_china(point):
        return point
    convert = prcoords.gcj_wgs_bored if system is CoordSystem.GCJ02 else prcoords.bd_wgs_bored
    out = convert(prcoords.Coords(point.lat, point.lng), False)
    return LatLng(out.lat, out.lon)


def from_wgs84(point: LatLng, system: CoordSystem) -> LatLng:
    if system is CoordSystem.WGS84 or not _in_china(point):
        return point
    convert = prcoords.wgs_gcj if system is CoordSystem.GCJ02 else prcoords.wgs_bd
    out = convert(prcoords.Coords(point.lat, point.lng), False)
    return LatLng(out.lat, out.lon)


# geopy's geodesic() is geographiclib's Geodesic on geopy's WGS-84 constants (in km), which it
# builds anew for every pair, a third of its cost. Built once here: the same figures to the
# last digit (tests/domain/test_geo.py).
_MAJOR_KM, _, _FLATTENING = ELLIPSOIDS["WGS-84"]
_WGS84 = Geodesic(_MAJOR_KM, _FLATTENING)


def distance_m(a: LatLng, b: LatLng) -> float:
    """Geodesic distance on the WGS-84 ellipsoid, in metres: geopy's geodesic(a, b).meters."""
    return _WGS84.Inverse(a.lat, a.lng, b.lat, b.lng, Geodesic.DISTANCE)["s12"] * 1000


def geojson(point: LatLng) -> dict:
    return {"type": "Point", "coordinates": [point.lng, point.lat]}


def from_geojson(doc: dict) -> LatLng:
    lng, lat = doc["coordinates"]
    return LatLng(lat, lng)


def in_bbox(point: LatLng, box: BBox) -> bool:
    """Inclusive at the edges, as a map viewport is."""
    return box.south <= point.lat <= box.north and box.west <= point.lng <= box.east


def check_bbox(box: BBox, field: str = "bbox", max_corner_m: float | None = 400_000) -> BBox:
    check_point(box.south, box.west, field)
    check_point(box.north, box.east, field)
    if box.south > box.north:
        raise GeoError(f"{field}.south", "south must not be north of north")
    if box.west > box.east:
        raise GeoError(
            f"{field}.west",
            "west must not be east of east (a box across the antimeridian is not supported)",
        )
    if (
        max_corner_m is not None
        and distance_m(LatLng(box.south, box.west), LatLng(box.north, box.east)) > max_corner_m
    ):
        raise GeoError(
            field, f"a map viewport may span at most {max_corner_m / 1000:.0f} km corner to corner"
        )
    return box


def bbox_to_wgs84(box: BBox, system: CoordSystem) -> BBox:
    sw = to_wgs84(LatLng(box.south, box.west), system)
    ne = to_wgs84(LatLng(box.north, box.east), system)
    return BBox(sw.lat, sw.lng, ne.lat, ne.lng)


# -- many points at once (the in-process stay index) -------------------------------------
# A point is kept as its WGS-84 earth-centred coordinates; the straight chord between two of
# them, corrected by c³/24R² with R the Gaussian radius at the origin's latitude, gives the
# geodesic distance within 0.0003·d³/R² (checked against geopy over 20,000 pairs at latitudes
# 15°-55° up to 200 km). BOUND takes seven times that, so only points whose bounds straddle a
# radius or a page's edge need the exact computation.
_A = 6_378_137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)
_BOUND_CUBIC = 0.002
_BOUND_ABS_M = 0.01


def ecef(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    """Earth-centred coordinates (metres) of WGS-84 points, as an (n, 3) array."""
    phi, lam = np.radians(lat), np.radians(lng)
    sin_phi = np.sin(phi)
    n = _A / np.sqrt(1 - _E2 * sin_phi * sin_phi)
    return np.column_stack(
        (n * np.cos(phi) * np.cos(lam), n * np.cos(phi) * np.sin(lam), n * (1 - _E2) * sin_phi)
    )


def _gaussian_radius(lat: float) -> float:
    s = math.sin(math.radians(lat))
    w = math.sqrt(1 - _E2 * s * s)
    return math.sqrt((_A / w) * (_A * (1 - _E2) / w**3))


def reach_degrees(origin: LatLng, radius_m: float) -> tuple[float, float]:
    """Degrees of latitude and of longitude a circle of radius_m around origin can span
    either way (a degree of latitude is over 110 km; one of longitude that times the cosine
    of the farthest latitude reached)."""
    lat = radius_m / 110_000 + 1e-6
    lng = lat / max(math.cos(math.radians(min(abs(origin.lat) + lat, 89.9))), 1e-6)
    return lat, lng


def approximate_distances(
    origin: LatLng, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(approximate, lower bound, upper bound) of the geodesic distances from origin to each
    earth-centred point, in metres; for distances up to a few hundred kilometres."""
    delta = points - ecef(np.array([origin.lat]), np.array([origin.lng]))[0]
    squared = np.einsum("ij,ij->i", delta, delta)
    return _from_chord(origin, np.sqrt(squared), squared)


def distance_bounds(
    origin: LatLng, chord_low: np.ndarray, chord_high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the geodesic distance from origin to any point whose chord from it lies
    between chord_low and chord_high (metres; both bounds increase with the chord)."""
    _, low, _ = _from_chord(origin, chord_low, chord_low * chord_low)
    _, _, high = _from_chord(origin, chord_high, chord_high * chord_high)
    return low, high


def _from_chord(
    origin: LatLng, chord: np.ndarray, squared: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    radius = _gaussian_radius(origin.lat)
    r2 = radius * radius
    # products, not powers: numpy's `x**3` calls pow() for each element (a search of
    # 100 km at 200,000 stays spent a third of its arrays' time there)
    approx = chord * (1 + squared / (24 * r2))
    slack = (_BOUND_CUBIC / r2) * (approx * approx * approx) + _BOUND_ABS_M
    return approx, approx - slack, approx + slack
