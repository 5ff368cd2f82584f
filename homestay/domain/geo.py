"""Points, coordinate systems, geodesic distances and H3 cell covers. Pure functions.

Everything is stored and computed in WGS-84. Chinese map apps speak GCJ-02 (AMap, Tencent)
or BD-09 (Baidu); prcoords converts, with its iterative inverse (sub-millimetre), so a point
that goes out to a client and comes back lands where it was.

Search is an indexed `$in` over H3 cells: every listed stay stores its cell at each of
RESOLUTIONS; a query covers its circle or viewport with the cells of one resolution that
overlap it, then refines exactly. Measured on the embedded server this is two orders of
magnitude faster than `$geoNear` (DOMAIN.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import h3
import prcoords
from geopy.distance import geodesic
from geopy.point import Point

RESOLUTIONS: tuple[int, ...] = (4, 5, 6, 7, 8, 9)
# a cover of about this many cells across its radius is precise and still cheap to look up
_CELLS_ACROSS_RADIUS = 8
_CIRCLE_SIDES = 24
MAX_COVER_CELLS = 2000


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


def distance_m(a: LatLng, b: LatLng) -> float:
    """Geodesic distance on the WGS-84 ellipsoid, in metres."""
    return geodesic((a.lat, a.lng), (b.lat, b.lng)).meters


def geojson(point: LatLng) -> dict:
    return {"type": "Point", "coordinates": [point.lng, point.lat]}


def from_geojson(doc: dict) -> LatLng:
    lng, lat = doc["coordinates"]
    return LatLng(lat, lng)


def cells(point: LatLng) -> list[str]:
    """The cell of the point at every indexed resolution, as stored on a listing."""
    return [h3.latlng_to_cell(point.lat, point.lng, res) for res in RESOLUTIONS]


def _resolution_for(span_m: float) -> int:
    for res in reversed(RESOLUTIONS):
        if span_m / h3.average_hexagon_edge_length(res, "m") <= _CELLS_ACROSS_RADIUS:
            return res
    return RESOLUTIONS[0]


def _cover(polygon: list[tuple[float, float]], span_m: float) -> list[str]:
    res = _resolution_for(span_m)
    while True:
        found = h3.h3shape_to_cells_experimental(h3.LatLngPoly(polygon), res, "overlap")
        if len(found) <= MAX_COVER_CELLS or res == RESOLUTIONS[0]:
            return sorted(found)
        res = RESOLUTIONS[RESOLUTIONS.index(res) - 1]


def cover_circle(center: LatLng, radius_m: float) -> list[str]:
    """Cells (one resolution) that together contain every point within radius_m of center."""
    # a polygon circumscribed about the circle, so that it contains the whole circle
    reach = radius_m / math.cos(math.pi / _CIRCLE_SIDES) * 1.001 + 1.0
    origin = Point(center.lat, center.lng)
    ring = []
    for side in range(_CIRCLE_SIDES):
        p = geodesic(meters=reach).destination(origin, bearing=360.0 * side / _CIRCLE_SIDES)
        ring.append((p.latitude, p.longitude))
    return _cover(ring, radius_m)


def cover_bbox(box: BBox) -> list[str]:
    span = distance_m(LatLng(box.south, box.west), LatLng(box.north, box.east)) / 2
    ring = [(box.south, box.west), (box.south, box.east), (box.north, box.east),
            (box.north, box.west)]
    return _cover(ring, span)


def in_bbox(point: LatLng, box: BBox) -> bool:
    """Inclusive at the edges, as a map viewport is."""
    return box.south <= point.lat <= box.north and box.west <= point.lng <= box.east


def check_bbox(box: BBox, field: str = "bbox") -> BBox:
    check_point(box.south, box.west, field)
    check_point(box.north, box.east, field)
    if box.south > box.north:
        raise GeoError(f"{field}.south", "south must not be north of north")
    if box.west > box.east:
        raise GeoError(f"{field}.west", "west must not be east of east (a box across the "
                       "antimeridian is not supported)")
    if distance_m(LatLng(box.south, box.west), LatLng(box.north, box.east)) > 400_000:
        raise GeoError(field, "a map viewport may span at most 400 km corner to corner")
    return box


def bbox_to_wgs84(box: BBox, system: CoordSystem) -> BBox:
    sw = to_wgs84(LatLng(box.south, box.west), system)
    ne = to_wgs84(LatLng(box.north, box.east), system)
    return BBox(sw.lat, sw.lng, ne.lat, ne.lng)
