"""What a search's place and filters find, as the index answers it: how many, which grades,
the nearest first, by name, and whether a given stay is among them.

Two ways to look at a place: `Measured` holds the stays found, each measured (a narrow place,
a county, a text's few hits); `Gridded` looks at the place by the grid's cells (grid.py): a
cell wholly inside is counted from its counts, and its stays measured only when a page may
need them (nearest cells first); the stays of the cells on the place's edge are measured one
by one. Both answer the same questions the same way (tests/search/test_index.py reads every
stay to check them).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from homestay.domain import geo
from homestay.search.grid import RANKS

if TYPE_CHECKING:
    from homestay.search.index import StayIndex


def seconds(moment: datetime) -> float:
    """A moment as the index's columns hold it: seconds since the epoch, in UTC."""
    from homestay.search.caught_up import as_utc

    return as_utc(moment).timestamp()


NO_SLOTS = np.zeros(0, np.int64)


def rank_in(ranks: np.ndarray, asked: Iterable[int]) -> np.ndarray:
    """Which of `ranks` (grade ranks, 1-3) are among `asked`: a comparison a rank asked
    (np.isin would sort them)."""
    among = np.zeros(len(ranks), np.bool_)
    for rank in asked:
        among |= ranks == rank
    return among


def ranks_present(ranks: np.ndarray) -> list[int]:
    """The grade ranks among `ranks`, best first: counted in numpy, not made a set of."""
    return np.flatnonzero(np.bincount(ranks)).tolist()[::-1]


class Found:
    """The stays a search's place and filters find: how many, which grades, and in order."""

    index: StayIndex
    origin: geo.LatLng
    total: int
    exact: dict[int, float]  # slot -> exact distance from the origin, computed on the way

    def ranks(self) -> list[int]:
        """The grade ranks found, best first."""
        raise NotImplementedError

    def nearest(
        self, limit: int, after: tuple[float, str] | None, rank: int | None = None
    ) -> list[tuple[float, str]]:
        """The first `limit` by (exact distance, number) after `after`, of one rank or all."""
        raise NotImplementedError

    def slots(self) -> np.ndarray:
        """Every stay found."""
        raise NotImplementedError

    def count(self, rank: int | None) -> int:
        """How many stays found, of one rank or all."""
        raise NotImplementedError

    def contains(self, slots: np.ndarray) -> np.ndarray:
        """Which of `slots` are found (one bool each)."""
        return np.isin(slots, self.slots())


class Measured(Found):
    """Found stays measured one by one (a county's, or those whose names hold a text)."""

    def __init__(
        self,
        index: StayIndex,
        origin: geo.LatLng,
        slots: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        exact: dict[int, float],
    ) -> None:
        self.index, self.origin, self.exact = index, origin, exact
        self._slots, self._low, self._high = slots, low, high
        self.total = len(slots)

    def ranks(self) -> list[int]:
        return ranks_present(self.index.rank[self._slots])

    def nearest(
        self, limit: int, after: tuple[float, str] | None, rank: int | None = None
    ) -> list[tuple[float, str]]:
        slots, low, high = self._slots, self._low, self._high
        if rank is not None:
            group = self.index.rank[slots] == rank
            slots, low, high = slots[group], low[group], high[group]
        return self.index.nearest(self.origin, slots, low, high, self.exact, limit, after)

    def slots(self) -> np.ndarray:
        return self._slots

    def count(self, rank: int | None) -> int:
        if rank is None:
            return self.total
        return int(np.count_nonzero(self.index.rank[self._slots] == rank))


class Gridded(Found):
    """Found stays looked at by cells: a cell wholly in the place is counted from its
    counts, and its stays measured only when a page may need them (nearest cells first);
    the stays of the cells on the place's edge are measured one by one."""

    def __init__(
        self,
        index: StayIndex,
        now: datetime,
        ranks: frozenset[int],
        bbox: geo.BBox | None,
        origin: geo.LatLng,
        radius_m: float,
    ) -> None:
        self.index, self.origin = index, origin
        self.asked = np.array(sorted(ranks), np.int64)
        cells = self.cells = index.cells()
        place = cells.place(origin, radius_m, bbox, seconds(now))
        self.whole = np.compress(place.whole, place.cells)
        self.whole_low = np.compress(place.whole, place.low)
        self.whole_high = np.compress(place.whole, place.high)
        # the edge, and the stays loose since the cells were made (some no longer held):
        # each tested as a pool of stays is
        edge = cells.stays(np.compress(~place.whole, place.cells))
        if cells.loose:
            edge = np.concatenate((edge, cells.loose_slots()))
        self.edge, self.edge_low, self.edge_high, self.exact = index.around(
            index.listed_among(edge, now, ranks, bbox), origin, radius_m
        )
        self.by_rank = cells.count_by_rank(self.whole, self.asked) + np.bincount(
            index.rank[self.edge], minlength=RANKS
        )
        self.total = int(self.by_rank.sum())
        self.kept: np.ndarray | None = None  # one bool a slot: the only stays to find

    def narrow(self, kept: np.ndarray) -> None:
        """Only the stays `kept` marks (one bool a slot: those whose names hold a text) are
        found from now on. The whole cells' counts no longer tell how many: their stays are
        listed and counted, but still measured only when a page may need them."""
        self.kept = kept
        for made in ("_edge_sorted", "_every_whole"):  # what was derived without it
            self.__dict__.pop(made, None)
        held = np.take(kept, self.edge)
        self.edge, self.edge_low, self.edge_high = (
            np.compress(held, a) for a in (self.edge, self.edge_low, self.edge_high)
        )
        self.by_rank = np.bincount(
            self.index.rank[self._every_whole], minlength=RANKS
        ) + np.bincount(self.index.rank[self.edge], minlength=RANKS)
        self.total = int(self.by_rank.sum())

    def ranks(self) -> list[int]:
        return np.flatnonzero(self.by_rank).tolist()[::-1]

    def _whole_stays(self, cells: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        stays = self.cells.stays(cells)
        if len(ranks) < 3:
            stays = np.compress(rank_in(np.take(self.index.rank, stays), ranks.tolist()), stays)
        if self.kept is not None:
            stays = np.compress(np.take(self.kept, stays), stays)
        return stays

    def nearest(
        self, limit: int, after: tuple[float, str] | None, rank: int | None = None
    ) -> list[tuple[float, str]]:
        index = self.index
        ranks = self.asked if rank is None else np.array([rank], np.int64)
        edge, low, high = self.edge, self.edge_low, self.edge_high
        if rank is not None:
            group = index.rank[edge] == rank
            edge, low, high = edge[group], low[group], high[group]
        cells, cell_low, cell_high = self.whole, self.whole_low, self.whole_high
        if after is not None:  # cells wholly before the cursor hold nothing to show
            keep = cell_high >= after[0]
            cells, cell_low = np.compress(keep, cells), np.compress(keep, cell_low)
        order = np.argsort(cell_low, kind="stable")
        cells, cell_low = cells[order], cell_low[order]
        sizes = np.take(self.cells.counts, cells, axis=0)[:, ranks].sum(axis=1)
        # the nearest cells that hold `limit` stays; more while some may be before the cursor
        taken = min(len(cells), int(np.searchsorted(np.cumsum(sizes), limit)) + 1)
        while True:
            stays = self._whole_stays(cells[:taken], ranks)
            _, s_low, s_high = geo.approximate_distances(
                self.origin, np.take(index.xyz, stays, axis=0)
            )
            pool_low, pool_high = np.concatenate((low, s_low)), np.concatenate((high, s_high))
            sure = pool_low > after[0] if after is not None else np.ones(len(pool_low), np.bool_)
            if np.count_nonzero(sure) >= limit:
                # no stay of a cell beyond `edge` can come before `limit` of those held
                far = np.partition(np.compress(sure, pool_high), limit - 1)[limit - 1]
                more = taken + int(np.searchsorted(cell_low[taken:], far, side="right"))
                if more > taken:
                    extra = self._whole_stays(cells[taken:more], ranks)
                    _, e_low, e_high = geo.approximate_distances(
                        self.origin, np.take(index.xyz, extra, axis=0)
                    )
                    stays = np.concatenate((stays, extra))
                    pool_low = np.concatenate((pool_low, e_low))
                    pool_high = np.concatenate((pool_high, e_high))
                break
            if taken >= len(cells):
                break
            taken = min(len(cells), taken * 2)
        return index.nearest(
            self.origin,
            np.concatenate((edge, stays)),
            pool_low,
            pool_high,
            self.exact,
            limit,
            after,
        )

    def slots(self) -> np.ndarray:
        return np.concatenate((self._every_whole, self.edge))

    @cached_property
    def _every_whole(self) -> np.ndarray:
        """The stays of every whole cell, of the ranks asked (and kept, once narrowed)."""
        return self._whole_stays(self.whole, self.asked)

    def count(self, rank: int | None) -> int:
        return self.total if rank is None else int(self.by_rank[rank])

    @cached_property
    def _whole_cells(self) -> np.ndarray:
        return self.cells.mask_of(self.whole)

    @cached_property
    def _edge_sorted(self) -> np.ndarray:
        return np.sort(self.edge)

    def contains(self, slots: np.ndarray) -> np.ndarray:
        """A stay of a whole cell (of a rank asked), or of the edge: without listing the
        whole cells' stays."""
        inside = np.take(self._whole_cells, self.cells.cell_of_slots(slots))
        if len(self.asked) < RANKS - 1:
            inside &= rank_in(np.take(self.index.rank, slots), self.asked.tolist())
        if self.kept is not None:
            inside &= np.take(self.kept, slots)
        edge = self._edge_sorted
        at = np.minimum(np.searchsorted(edge, slots), max(len(edge) - 1, 0))
        on_edge = np.take(edge, at) == slots if len(edge) else np.zeros(len(slots), np.bool_)
        return inside | on_edge
