"""The map's cells the stay index counts and searches by: a cell said to be wholly in a place
holds only stays in it (and none expired), no stay of the place lies in a cell left out, and
the counts are the stays'."""

from __future__ import annotations

import math
import random

import numpy as np

from homestay.domain import geo
from homestay.search.grid import Grid, _ranges

CENTRE = geo.LatLng(30.60, 119.87)


def test_ranges_are_the_runs_asked_for():
    rnd = random.Random(2)
    for _ in range(200):
        n = rnd.randint(1, 8)
        first = [rnd.randint(0, 50) for _ in range(n)]
        sizes = [rnd.choice([0, 0, 1, 2, 5]) for _ in range(n)]
        expected = [f + i for f, s in zip(first, sizes, strict=True) for i in range(s)]
        assert _ranges(np.array(first), np.array(sizes)).tolist() == expected
    assert _ranges(np.zeros(0, np.int64), np.zeros(0, np.int64)).tolist() == []


def _stays(n: int, seed: int) -> dict[str, np.ndarray]:
    rnd = np.random.default_rng(seed)
    # dense near the centre (cells of dozens), sparse further out, some on a cell's edge
    spread = rnd.choice([0.01, 0.05, 0.6], size=n)
    lat = CENTRE.lat + rnd.uniform(-1, 1, n) * spread
    lng = CENTRE.lng + rnd.uniform(-1, 1, n) * spread
    lat[::13] = np.round(lat[::13] / 0.02) * 0.02
    lng[::11] = np.round(lng[::11] / 0.02) * 0.02
    return {
        "lat": lat,
        "lng": lng,
        "xyz": geo.ecef(lat, lng),
        "rank": rnd.integers(1, 4, n).astype(np.int8),
        "expires": rnd.uniform(0, 100, n),
        "alive": rnd.random(n) < 0.9,
    }


def _cells(columns: dict[str, np.ndarray]) -> tuple[Grid, np.ndarray]:
    """The cells of the live stays, and those stays' slots."""
    held = np.flatnonzero(columns["alive"])
    cells = Grid(
        held, columns["lat"], columns["lng"], columns["xyz"], columns["rank"], columns["expires"]
    )
    return cells, held


def test_a_place_holds_every_stay_in_it_and_its_whole_cells_only_such_stays():
    columns = _stays(4000, seed=5)
    cells, held = _cells(columns)
    assert sorted(cells.stays(np.arange(len(cells))).tolist()) == held.tolist()
    assert cells.count_by_rank(np.arange(len(cells)), np.array([1, 2, 3])).sum() == len(held)
    rnd = random.Random(9)
    for _ in range(60):
        shift = rnd.uniform(-0.3, 0.3), rnd.uniform(-0.3, 0.3)
        origin = geo.LatLng(CENTRE.lat + shift[0], CENTRE.lng + shift[1])
        radius = rnd.choice([300.0, 1000.0, 5000.0, 20000.0, math.inf])
        bbox = None
        if radius == math.inf or rnd.random() < 0.3:
            south, west = origin.lat - rnd.uniform(0, 0.2), origin.lng - rnd.uniform(0, 0.2)
            bbox = geo.BBox(south, west, south + rnd.uniform(0, 0.4), west + rnd.uniform(0, 0.4))
        now = rnd.uniform(0, 30)
        place = cells.place(origin, radius, bbox, now)

        def inside(slot: int, bbox: geo.BBox | None = bbox, origin=origin, radius=radius) -> bool:
            point = geo.LatLng(float(columns["lat"][slot]), float(columns["lng"][slot]))
            return (bbox is None or geo.in_bbox(point, bbox)) and (
                radius == math.inf or geo.distance_m(origin, point) <= radius
            )

        truly = {s for s in held.tolist() if inside(s)}
        assert truly <= set(cells.stays(place.cells).tolist())
        whole = cells.stays(np.compress(place.whole, place.cells))
        assert all(s in truly for s in whole.tolist())
        assert bool(np.all(columns["expires"][whole] > now))
        for cell, low, high in zip(place.cells.tolist(), place.low, place.high, strict=True):
            for slot in cells.stays(np.array([cell])).tolist():
                point = geo.LatLng(float(columns["lat"][slot]), float(columns["lng"][slot]))
                assert low <= geo.distance_m(origin, point) <= high
        by_rank = cells.count_by_rank(np.compress(place.whole, place.cells), np.array([2, 3]))
        assert by_rank.tolist() == [
            0,
            0,
            int(np.sum(columns["rank"][whole] == 2)),
            int(np.sum(columns["rank"][whole] == 3)),
        ]


def test_a_detached_stay_leaves_its_cell_and_its_count():
    columns = _stays(3000, seed=6)
    cells, held = _cells(columns)
    every = np.arange(len(cells))
    rnd = random.Random(3)
    detached = rnd.sample(held.tolist(), 1100) + [len(columns["lat"]) + 5]  # one never held
    for slot in detached:
        rank = int(columns["rank"][slot]) if slot < len(columns["rank"]) else 1
        cells.detach(slot, rank)
        cells.detach(slot, rank)  # twice: counted off once
    attached = sorted(set(held.tolist()) - set(detached))
    assert sorted(cells.stays(every).tolist()) == attached
    assert cells.loose_slots().tolist() == sorted(detached)
    for rank in (1, 2, 3):
        assert cells.count_by_rank(every, np.array([rank]))[rank] == int(
            np.sum(columns["rank"][attached] == rank)
        )
    assert not cells.stale(200_000) and cells.stale(100_000)  # over 1/100, or 1,024


def test_the_stays_of_many_cells_are_those_of_each_cell():
    """Many cells' stays are picked by a mask over the slots, a few cells' by their runs:
    both the union of each cell's own, before and after stays are detached."""
    columns = _stays(3000, seed=8)
    cells, held = _cells(columns)
    rnd = random.Random(4)
    for detached in ([], rnd.sample(held.tolist(), 300)):
        for slot in detached:
            cells.detach(slot, int(columns["rank"][slot]))
        for share in (0.01, 0.1, 0.5, 1.0):
            chosen = np.array(
                sorted(rnd.sample(range(len(cells)), max(1, int(len(cells) * share)))), np.int64
            )
            each = [s for c in chosen.tolist() for s in cells.stays(np.array([c])).tolist()]
            assert sorted(cells.stays(chosen).tolist()) == sorted(each)
            assert not set(each) & set(detached)
