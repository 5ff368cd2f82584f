"""The inspector's day as a route: the order in which to visit stops from where one stands.

A travelling-salesman path (open: it need not return) over straight-line (geodesic)
distances, not roads: nearest neighbour from the start, then improved by 2-opt (reversing any
stretch of the path that makes it shorter) until no reversal helps. Never longer than nearest
neighbour's tour, as 2-opt only ever shortens; on the few stops of a working day it is at or
near the optimum. Deterministic: the same stops in the same order give the same route.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from homestay.domain.geo import LatLng, distance_m

Distance = Callable[[LatLng, LatLng], float]


@dataclass(frozen=True)
class Route:
    order: list[int]  # indexes into the stops, in visiting order
    legs: list[float]  # metres from the previous stop (the first: from the start)

    @property
    def total(self) -> float:
        return sum(self.legs)


def matrix(
    start: LatLng, stops: Sequence[LatLng], metric: Distance = distance_m
) -> list[list[float]]:
    """Distances between every two places, the start being place 0 and stop i place i+1."""
    places = [start, *stops]
    n = len(places)
    table = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            table[i][j] = table[j][i] = metric(places[i], places[j])
    return table


def length(path: Sequence[int], table: Sequence[Sequence[float]]) -> float:
    """The length of a path of places that begins at the start (place 0)."""
    total, here = 0.0, 0
    for place in path:
        total += table[here][place]
        here = place
    return total


def nearest_neighbour(table: Sequence[Sequence[float]]) -> list[int]:
    """Places 1..n-1, each next the nearest not yet visited (ties: the lower index)."""
    left = set(range(1, len(table)))
    path, here = [], 0
    while left:
        here = min(left, key=lambda p: (table[here][p], p))
        left.remove(here)
        path.append(here)
    return path


def two_opt(path: list[int], table: Sequence[Sequence[float]]) -> list[int]:
    """Reverse any stretch path[i..j] that shortens the path, until none does. The start is
    fixed and the end is free (an open path: the last leg has no successor)."""
    path = list(path)
    n = len(path)
    improved = True
    while improved:
        improved = False
        for i in range(n - 1):
            before = 0 if i == 0 else path[i - 1]
            for j in range(i + 1, n):
                after = path[j + 1] if j + 1 < n else None
                old = table[before][path[i]] + (table[path[j]][after] if after is not None else 0)
                new = table[before][path[j]] + (table[path[i]][after] if after is not None else 0)
                if new < old - 1e-6:
                    path[i : j + 1] = reversed(path[i : j + 1])
                    improved = True
    return path


def plan(start: LatLng, stops: Sequence[LatLng], metric: Distance = distance_m) -> Route:
    """The route through every stop from `start`."""
    if not stops:
        return Route([], [])
    table = matrix(start, stops, metric)
    path = two_opt(nearest_neighbour(table), table)
    legs, here = [], 0
    for place in path:
        legs.append(table[here][place])
        here = place
    return Route([p - 1 for p in path], legs)
