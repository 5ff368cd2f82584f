"""The map's clusters: the stays of a viewport gathered by square cells of a zoom's Web Mercator
grid, each with its number, mean point and grade counts (by county too, when asked), so that
the counts of a viewport's clusters add up to its total."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from homestay.domain import geo

if TYPE_CHECKING:
    from homestay.search.index import StayIndex


@dataclass(frozen=True)
class Cluster:
    """Stays near one another at a map's zoom: their number, mean point and grade counts."""

    cell: tuple[int, int, int]  # (cells per side, x, y) on the Web Mercator square
    count: int
    lat: float
    lng: float
    counts: list[tuple[str | None, int, int]]  # (county or None, grade rank, count)


CLUSTER_PX = 64  # a cluster gathers the stays of a 64-pixel square of the map
MAX_CLUSTERS = 256


def mercator(lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    phi = np.radians(np.clip(lat, -85.05112878, 85.05112878))
    return (lng + 180.0) / 360.0, (1 - np.log(np.tan(phi) + 1 / np.cos(phi)) / math.pi) / 2


def clusters(
    index: StayIndex, slots: np.ndarray, zoom: int, bbox: geo.BBox, by_county: bool = True
) -> list[Cluster]:
    """The stays of `slots` gathered by square cells of CLUSTER_PX pixels at `zoom` (tiles of
    256 px), coarser when the viewport would hold more than MAX_CLUSTERS cells; each counted
    by grade, and by county too when `by_county` (a cluster of a province's map spans
    several, and each county is an entry: ten times the entries to answer)."""
    per_side = 2**zoom * (256 // CLUSTER_PX)
    x0, y1 = mercator(np.array([bbox.south]), np.array([bbox.west]))
    x1, y0 = mercator(np.array([bbox.north]), np.array([bbox.east]))
    while (
        per_side > 1
        and (math.floor(x1[0] * per_side) - math.floor(x0[0] * per_side) + 1)
        * (math.floor(y1[0] * per_side) - math.floor(y0[0] * per_side) + 1)
        > MAX_CLUSTERS
    ):
        per_side //= 2
    if len(slots) == 0:
        return []
    # cells counted in the viewport's own numbering (at most MAX_CLUSTERS of them), so that
    # bincount gathers them: no sort of the stays, whatever their number
    left, top = math.floor(x0[0] * per_side), math.floor(y0[0] * per_side)
    tall = math.floor(y1[0] * per_side) - top + 1
    x, y = np.take(index.mx, slots), np.take(index.my, slots)
    cx = np.minimum((x * per_side).astype(np.int64), per_side - 1)
    cy = np.minimum((y * per_side).astype(np.int64), per_side - 1)
    local = (cx - left) * tall + (cy - top)
    sizes_all = np.bincount(local)
    present = np.flatnonzero(sizes_all)
    sizes = sizes_all[present]
    lat = np.bincount(local, weights=np.take(index.lat, slots))[present] / sizes
    lng = np.bincount(local, weights=np.take(index.lng, slots))[present] / sizes
    keys = (present // tall + left) * per_side + (present % tall + top)
    counties: dict[int, str | None] = {code: name for name, code in index._counties.items()}
    width = (len(counties) + 1) * 8  # a county and a grade rank (1-3) in one number
    breakdown = local * width + np.take(index.rank, slots)
    if by_county:
        breakdown += np.take(index.county, slots).astype(np.int64) * 8
    else:
        counties = {0: None}
    tallies = np.bincount(breakdown)
    parts = np.flatnonzero(tallies)
    group_of = np.full(len(sizes_all), -1, np.int64)
    group_of[present] = np.arange(len(present))
    counts: list[list[tuple[str | None, int, int]]] = [[] for _ in present]
    for part, n in zip(parts.tolist(), tallies[parts].tolist(), strict=True):
        cell, rest = divmod(part, width)
        county, rank = divmod(rest, 8)
        counts[int(group_of[cell])].append((counties[county], rank, n))
    return [
        Cluster(
            (per_side, int(k // per_side), int(k % per_side)),
            int(sizes[i]),
            float(lat[i]),
            float(lng[i]),
            counts[i],
        )
        for i, k in enumerate(keys.tolist())
    ]
