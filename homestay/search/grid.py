"""The stay index's stays grouped by cells of the map, so that a wide search costs by its
edge and its page, not by the stays in its area.

Why: at 200,000 stays a 100 km circle holds 155,000 of them, and measuring each one
(approximate distance, the page's partition) was most of a wide search's time. Grouped in
cells of CELL_DEG degrees, each cell knows its stays' count by grade, their soonest expiry,
the box their points span and the sphere around them; so a cell wholly inside the circle (or
viewport) is counted without looking at its stays, a cell wholly outside is skipped, and only
the stays of cells on the edge are measured one by one. A page's nearest stays are looked
for in the nearest cells first.

Made in one go from the index's arrays (an argsort of the stays by cell). A stay that changes
after (added, removed, moved, regraded, renewed) is detached from its cell, whose counts drop
it, and is measured one by one with the edge's stays until the cells are made again, once 1 %
of the stays (or 1,024) are loose: so the counts are exact for what the index holds at every
use, and a write costs no search a rebuild.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from homestay.domain import geo

CELL_DEG = 0.02  # ~2.2 km of latitude: a town's search takes a few cells, 200,000 stays ~13,000
_ROW = 1 << 16  # a cell's key: row * _ROW + column (360 / CELL_DEG columns fit 16 bits)
RANKS = 4  # grade ranks are 1-3; 0 is unused
# the cells are made again once over 1/LOOSE_SHARE of the stays are loose, or LOOSE_AT_LEAST
LOOSE_SHARE = 100
LOOSE_AT_LEAST = 1024
_MANY_CELLS = 4  # over a quarter of the cells: their stays picked by a mask over the slots


def _row(lat: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(lat, np.float64) / CELL_DEG).astype(np.int64)


def _column(lng: np.ndarray) -> np.ndarray:
    return np.floor((np.asarray(lng, np.float64) + 180.0) / CELL_DEG).astype(np.int64)


# the same for one point, in plain floats (the same double operations: the same cell): numpy's
# scalar calls cost more than the arithmetic
def _row_of(lat: float) -> int:
    return math.floor(lat / CELL_DEG)


def _column_of(lng: float) -> int:
    return math.floor((lng + 180.0) / CELL_DEG)


@dataclass(frozen=True)
class Place:
    """The cells a circle and/or a viewport can touch, measured from the origin: `whole`
    cells lie wholly inside and no stay of theirs has expired (counted without looking),
    the others may hold stays inside (each tested)."""

    cells: np.ndarray  # cell numbers, none wholly outside
    low: np.ndarray  # bounds of the distance from the origin to any stay of each cell
    high: np.ndarray
    whole: np.ndarray  # bool, by cell


class Grid:
    """The live stays, cell after cell, and what each cell knows of its stays."""

    def __init__(
        self,
        held: np.ndarray,
        lat: np.ndarray,
        lng: np.ndarray,
        xyz: np.ndarray,
        rank: np.ndarray,
        expires: np.ndarray,
    ) -> None:
        """`held`: the live slots; the other arrays are the index's columns, by slot."""
        keys = _row(lat[held]) * _ROW + _column(lng[held])
        order = np.argsort(keys, kind="stable")
        self.slots = held[order]  # the live slots, cell after cell
        self.keys, self.start, self.size = np.unique(
            keys[order], return_index=True, return_counts=True
        )
        n = len(self.keys)
        cell = np.repeat(np.arange(n), self.size)
        # each slot's cell (-1: none, or detached since), and the stays detached since
        self.cell_of = np.full(len(lat), -1, np.int32)
        self.cell_of[self.slots] = cell
        self.loose: set[int] = set()
        self._loose_array: np.ndarray | None = None
        self.counts = (
            np.bincount(cell * RANKS + rank[self.slots], minlength=n * RANKS)
            .reshape(n, RANKS)
            .astype(np.int32)
        )
        if n == 0:
            self.soonest = self.south = self.north = self.west = self.east = np.zeros(0)
            self.centre, self.spread = np.zeros((0, 3)), np.zeros(0)
            return
        self.soonest = np.minimum.reduceat(expires[self.slots], self.start)
        lats, lngs = lat[self.slots], lng[self.slots]
        self.south = np.minimum.reduceat(lats, self.start)
        self.north = np.maximum.reduceat(lats, self.start)
        self.west = np.minimum.reduceat(lngs, self.start)
        self.east = np.maximum.reduceat(lngs, self.start)
        points = np.take(xyz, self.slots, axis=0)
        self.centre = np.add.reduceat(points, self.start, axis=0) / self.size[:, None]
        apart = points - self.centre[cell]
        # the sphere around each cell's stays (a hair wider, for rounding)
        self.spread = np.sqrt(np.maximum.reduceat(np.einsum("ij,ij->i", apart, apart), self.start))
        self.spread = self.spread * (1 + 1e-9) + 1e-6

    def __len__(self) -> int:
        return len(self.keys)

    def detach(self, slot: int, rank: int) -> None:
        """The stay at `slot` (of grade `rank` when the cells were made) changes or leaves:
        its cell counts it no more, and it is loose from now on."""
        if slot < len(self.cell_of) and self.cell_of[slot] >= 0:
            self.counts[self.cell_of[slot], rank] -= 1
            self.cell_of[slot] = -1
        self.loose.add(slot)
        self._loose_array = None

    def stale(self, stays: int) -> bool:
        """Whether so many stays are loose that the cells should be made again."""
        return len(self.loose) > max(LOOSE_AT_LEAST, stays // LOOSE_SHARE)

    def loose_slots(self) -> np.ndarray:
        """The slots detached since the cells were made (some of them no longer held)."""
        if self._loose_array is None:
            self._loose_array = np.array(sorted(self.loose), np.int64)
        return self._loose_array

    def in_box(self, south: float, west: float, north: float, east: float) -> np.ndarray:
        """The cells that can hold a point of the box (edges included), by number."""
        rows = np.arange(_row_of(south), _row_of(north) + 1, dtype=np.int64)
        first = np.searchsorted(self.keys, rows * _ROW + _column_of(west), side="left")
        last = np.searchsorted(self.keys, rows * _ROW + _column_of(east), side="right")
        return _ranges(first, last - first)

    def place(
        self,
        origin: geo.LatLng,
        radius_m: float,
        bbox: geo.BBox | None,
        now: float,
    ) -> Place:
        """The cells within radius_m of origin (math.inf: any distance) and in bbox."""
        south, west, north, east = -90.0, -180.0, 90.0, 180.0
        if bbox is not None:
            south, west, north, east = bbox.south, bbox.west, bbox.north, bbox.east
        if math.isfinite(radius_m):
            reach, across = geo.reach_degrees(origin, radius_m)
            south, north = max(south, origin.lat - reach), min(north, origin.lat + reach)
            west, east = max(west, origin.lng - across), min(east, origin.lng + across)
        if south > north or west > east:
            cells = np.zeros(0, np.int64)
        else:
            cells = self.in_box(south, west, north, east)
        centre = geo.ecef(np.array([origin.lat]), np.array([origin.lng]))[0]
        apart = np.take(self.centre, cells, axis=0) - centre
        chord = np.sqrt(np.einsum("ij,ij->i", apart, apart))
        spread = np.take(self.spread, cells)
        low, high = geo.distance_bounds(origin, np.maximum(chord - spread, 0.0), chord + spread)
        inside = high <= radius_m
        outside = low > radius_m
        if bbox is not None:
            s, n = np.take(self.south, cells), np.take(self.north, cells)
            w, e = np.take(self.west, cells), np.take(self.east, cells)
            inside &= (s >= bbox.south) & (n <= bbox.north) & (w >= bbox.west) & (e <= bbox.east)
            outside |= (n < bbox.south) | (s > bbox.north) | (e < bbox.west) | (w > bbox.east)
        whole = inside & (np.take(self.soonest, cells) > now)
        keep = ~outside
        return Place(
            np.compress(keep, cells),
            np.compress(keep, low),
            np.compress(keep, high),
            np.compress(keep, whole),
        )

    def stays(self, cells: np.ndarray) -> np.ndarray:
        """The slots `cells` hold (not those detached since). Of a few cells, cell after
        cell; of many (a province's map), in slot order, picked by a mask over the slots: the
        columns are then read in order, not at random."""
        if len(cells) * _MANY_CELLS > len(self.keys):
            return np.flatnonzero(np.take(self.mask_of(cells), self.cell_of))
        slots = np.take(self.slots, _ranges(np.take(self.start, cells), np.take(self.size, cells)))
        if self.loose:
            slots = np.compress(np.take(self.cell_of, slots) >= 0, slots)
        return slots

    def mask_of(self, cells: np.ndarray) -> np.ndarray:
        """A bool by cell number, true for `cells`, and a last false one: taken at a stay's
        `cell_of` (or `cell_of_slots`), whether it is in one of them."""
        mask = np.zeros(len(self.keys) + 1, np.bool_)
        mask[cells] = True
        return mask

    def cell_of_slots(self, slots: np.ndarray) -> np.ndarray:
        """Each slot's cell, -1 where none: detached, or a slot past those the cells knew
        (added since they were made)."""
        if len(slots) == 0 or int(slots.max()) < len(self.cell_of):
            return np.take(self.cell_of, slots)
        cell = np.full(len(slots), -1, self.cell_of.dtype)
        known = slots < len(self.cell_of)
        cell[known] = np.take(self.cell_of, slots[known])
        return cell

    def count_by_rank(self, cells: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """How many stays of each grade rank (0-3) `cells` hold, of the ranks asked."""
        by_rank = np.take(self.counts, cells, axis=0).sum(axis=0, dtype=np.int64)
        asked = np.zeros(RANKS, np.bool_)
        asked[ranks] = True
        return np.where(asked, by_rank, 0)


def _ranges(first: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """first[0], first[0]+1, ... (sizes[0] of them), then the same from first[1], ..."""
    sizes = np.asarray(sizes, np.int64)
    total = int(sizes.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(sizes)
    steps = np.ones(total, np.int64)
    nonempty = sizes > 0
    starts = np.asarray(first, np.int64)[nonempty]
    at = (ends - sizes)[nonempty]
    # each run begins with the jump from the previous run's last value to its first
    steps[at[0]] = starts[0]
    steps[at[1:]] = starts[1:] - (starts[:-1] + sizes[nonempty][:-1] - 1)
    return np.cumsum(steps)
