"""Tourist search over VALID certificates: near a point, in a map viewport, or anywhere; by
grade, by county, by text.

Every search is answered from the stay index each API process holds (search/index.py):
caught up with what changed (one command), filtered, measured and ordered there, and only the
page's certificates read, by number, the ones not already kept from an earlier page (a second
command, or none). So a search costs by its page, not by the stays it finds, never more than
two commands, reads the primary only, and what the public sees of a certificate is decided by
one rule (`Listed`) in one place, fresh in the very next search of every process. Without a
place a search is by name (or by grade, then name) across the province, counted in the index
too (docs/architecture.md says why not in the database).

Cursors are keyset positions, so a stay certified between two pages causes no duplicate and
no skip.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import numpy as np

from homestay.clock import utcnow
from homestay.domain import geo
from homestay.domain.certificates import Certificate, Listed
from homestay.domain.grades import ALL_GRADES, Grade
from homestay.errors import BadUserInput
from homestay.search.clusters import Cluster, clusters
from homestay.search.index import Ranked, StayIndex
from homestay.search.results import Found
from homestay.services.pagination import decode_cursor, encode_cursor
from homestay.storage.database import Database

MAX_RADIUS_M = 100_000
MAX_ZOOM = 20
MAX_TEXT = 50
# a search by name walks the name order when its page should lie in this many stays of it
WALK_NAMES = 4_096


class StaySort(Enum):
    DISTANCE = "DISTANCE"
    GRADE = "GRADE"
    NAME = "NAME"


@dataclass(frozen=True)
class SearchQuery:
    near: geo.LatLng | None = None  # WGS-84
    radius_m: int = 5000
    bbox: geo.BBox | None = None  # WGS-84
    county: str | None = None
    grades: Sequence[Grade] | None = None
    min_grade: Grade | None = None
    text: str | None = None
    sort: StaySort = StaySort.DISTANCE
    first: int = 20
    after: str | None = None
    now: datetime | None = None  # the request's clock; read here when not given


@dataclass(frozen=True)
class Hit:
    certificate: Certificate
    distance_m: float | None
    cursor: str


@dataclass(frozen=True)
class SearchPage:
    hits: list[Hit]
    has_next: bool
    count: Callable[[], Awaitable[int]]


def _check(query: SearchQuery) -> None:
    if not 1 <= query.first <= 100:
        raise BadUserInput("first", "must be between 1 and 100")
    if query.near is not None and not 1 <= query.radius_m <= MAX_RADIUS_M:
        raise BadUserInput("radiusMeters", f"must be between 1 and {MAX_RADIUS_M}")
    if query.text is not None and len(query.text) > MAX_TEXT:
        raise BadUserInput("text", f"may have at most {MAX_TEXT} characters")


@dataclass(frozen=True)
class _Filter:
    """What a listed certificate must satisfy besides its place."""

    ranks: frozenset[int]
    county: str | None
    text: str | None
    listed: Listed

    @classmethod
    def of(cls, query: SearchQuery) -> _Filter:
        grades = set(query.grades) if query.grades else set(ALL_GRADES)
        if query.min_grade is not None:
            grades = {g for g in grades if g >= query.min_grade}
        text = query.text.strip().casefold() if query.text and query.text.strip() else None
        return cls(
            frozenset(g.rank for g in grades), query.county, text, Listed(query.now or utcnow())
        )


def _shape(sort: StaySort, with_distance: bool) -> list[Any]:
    number = (float, int)
    if sort is StaySort.GRADE:
        return [int, number if with_distance else str, str]
    if sort is StaySort.NAME or not with_distance:
        return [str, str]
    return [number, str]


class SearchService:
    def __init__(self, db: Database) -> None:
        self.index = StayIndex(db)

    async def search(self, query: SearchQuery) -> SearchPage:
        _check(query)
        conditions = _Filter.of(query)
        if not conditions.ranks:
            return SearchPage([], False, _zero)
        return await self._found(query, conditions)

    async def clusters(
        self,
        bbox: geo.BBox,
        zoom: int,
        grades: Sequence[Grade] | None,
        min_grade: Grade | None,
        now: datetime,
        by_county: bool = True,
    ) -> list[Cluster]:
        """The map's pins at low zoom: the stays searchStays would find in bbox, gathered,
        counted by grade (and by county when `by_county`). One database command (what
        changed), whatever the viewport."""
        if not 0 <= zoom <= MAX_ZOOM:
            raise BadUserInput("zoom", f"must be between 0 and {MAX_ZOOM} (a web map's zoom)")
        conditions = _Filter.of(SearchQuery(bbox=bbox, grades=grades, min_grade=min_grade, now=now))
        if not conditions.ranks:
            return []
        await self.index.refresh()
        # the stays searchStays finds in the viewport, found the same way: counts add up
        found = self.index.find(
            now=now,
            ranks=conditions.ranks,
            county=None,
            text=None,
            bbox=bbox,
            origin=geo.LatLng((bbox.south + bbox.north) / 2, (bbox.west + bbox.east) / 2),
            radius_m=math.inf,
        )
        return clusters(self.index, found.slots(), zoom, bbox, by_county)

    async def _found(self, query: SearchQuery, conditions: _Filter) -> SearchPage:
        """A circle, a viewport or anywhere, from the in-process index: then the page by
        number."""
        index = self.index
        await index.refresh()  # the first command: what changed
        origin, radius = query.near, float(query.radius_m)
        if origin is None:  # a viewport (ordered from its centre) or anywhere: all count
            box = query.bbox
            origin = (
                geo.LatLng((box.south + box.north) / 2, (box.west + box.east) / 2)
                if box is not None
                else _ANYWHERE
            )
            radius = math.inf
        found = index.find(
            now=conditions.listed.now,
            ranks=conditions.ranks,
            county=conditions.county,
            text=conditions.text,
            bbox=query.bbox,
            origin=origin,
            radius_m=radius,
        )
        limit = query.first + 1
        shown = query.near is not None
        if query.sort is StaySort.DISTANCE and (shown or query.bbox is not None):
            after = None
            if query.after is not None:
                distance, ident = decode_cursor(query.after, _shape(query.sort, True))
                after = (float(distance), ident)
            ranked = [
                Ranked(n, d if shown else None, [d, n]) for d, n in found.nearest(limit, after)
            ]
        elif query.sort is StaySort.GRADE and shown:
            ranked = self._grade_then_distance(query, found, limit)
        else:  # by name; or by grade, then name; or anywhere by distance: by name
            ranked = self._by_name_key(query, found, limit)
            if shown:  # by name near a point: the page's distances, exactly
                ranked = [
                    Ranked(
                        r.number, index.distance(origin, index.slot(r.number), found.exact), r.key
                    )
                    for r in ranked
                ]
        page = ranked[: query.first]
        # the second command, if any: the page's certificates not kept, in full, by number;
        # one read after the catch-up may be newer than it (revoked meanwhile): the public
        # rule is asked again of what is shown, so no answer holds a stay no longer listed
        found_certificates = await index.certificates([r.number for r in page])
        listed = conditions.listed
        hits = [
            Hit(certificate, r.distance_m, encode_cursor(r.key))
            for r in page
            if (certificate := found_certificates.get(r.number)) is not None
            and listed.keeps(certificate.stored_status, certificate.expires_at)
        ]
        total = found.total

        async def count() -> int:
            return total

        return SearchPage(hits, len(ranked) > query.first, count)

    def _grade_then_distance(self, query: SearchQuery, found: Found, limit: int) -> list[Ranked]:
        """Best grade first, then nearest: the nearest of each grade in turn."""
        start_rank, after = 99, None
        if query.after is not None:
            neg_rank, distance, ident = decode_cursor(query.after, _shape(query.sort, True))
            start_rank, after = -int(neg_rank), (float(distance), ident)
        ranked: list[Ranked] = []
        for rank in found.ranks():
            if rank > start_rank or len(ranked) >= limit:
                continue
            best = found.nearest(limit - len(ranked), after if rank == start_rank else None, rank)
            ranked += [Ranked(n, d, [-rank, d, n]) for d, n in best]
        return ranked

    def _by_name_key(self, query: SearchQuery, found: Found, limit: int) -> list[Ranked]:
        """By name, or by grade then name (a viewport or anywhere, without `near`)."""
        index = self.index
        by_grade = query.sort is StaySort.GRADE
        after_rank, after_name = 99, None
        if query.after is not None:
            key = decode_cursor(query.after, _shape(query.sort, False))
            if by_grade:
                after_rank, key = -int(key[0]), key[1:]
            after_name = (key[0], key[1])
        ranked: list[Ranked] = []
        slots: np.ndarray | None = None
        groups: list[int | None] = [*found.ranks()] if by_grade else [None]
        for rank in groups:
            if len(ranked) >= limit or (rank is not None and rank > after_rank):
                continue
            start = after_name if rank is None or rank == after_rank else None
            wanted = limit - len(ranked)
            # the name order walked where the page is likely in its first few thousand
            # stays; else every stay found, partitioned
            if wanted * len(index) <= WALK_NAMES * found.count(rank):
                first = index.first_by_name(found, rank, start, wanted)
            else:
                if slots is None:
                    slots = found.slots()
                members = slots if rank is None else slots[index.rank[slots] == rank]
                first = index.by_name(members, start, wanted)
            for slot in first.tolist():
                name, number = index.name(slot), index.number(slot)
                ranked.append(
                    Ranked(
                        number, None, [-rank, name, number] if rank is not None else [name, number]
                    )
                )
        return ranked


_ANYWHERE = geo.LatLng(0.0, 0.0)  # a search without a place: every cell wholly inside


async def _zero() -> int:
    return 0
