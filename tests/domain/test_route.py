"""The inspector's route: never longer than nearest neighbour's, near the optimum."""

from __future__ import annotations

import itertools
import random

from homestay.domain import route
from homestay.domain.geo import LatLng


def scattered(rng: random.Random, n: int) -> list[LatLng]:
    # a county's worth of countryside: about 40 km across
    return [LatLng(30.4 + rng.random() * 0.4, 119.7 + rng.random() * 0.4) for _ in range(n)]


def test_the_route_is_never_longer_than_nearest_neighbours():
    rng = random.Random(20261204)
    for _ in range(60):
        n = rng.randint(1, 25)
        start, stops = LatLng(30.6, 119.9), scattered(rng, n)
        table = route.matrix(start, stops)
        greedy = route.length(route.nearest_neighbour(table), table)
        planned = route.plan(start, stops)
        assert sorted(planned.order) == list(range(n))  # every stop once
        assert planned.total <= greedy + 1e-6
        assert abs(planned.total - route.length([i + 1 for i in planned.order], table)) < 1e-6


def test_on_eight_stops_the_route_is_within_ten_percent_of_the_best():
    rng = random.Random(7)
    worst = 1.0
    for _ in range(25):
        start, stops = LatLng(30.6, 119.9), scattered(rng, 8)
        table = route.matrix(start, stops)
        best = min(route.length(p, table) for p in itertools.permutations(range(1, 9)))
        worst = max(worst, route.plan(start, stops).total / best)
    assert worst <= 1.10


def test_no_stops_is_an_empty_route():
    assert route.plan(LatLng(30, 120), []).order == []
