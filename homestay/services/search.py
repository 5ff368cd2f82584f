"""Tourist search over VALID certificates: near a point, in a map viewport, by grade, by text.

A certificate carries a listing of its homestay (name, point, H3 cells at several
resolutions), so a search reads one collection. The certificates in the cells that cover the
circle or viewport are fetched through a single-field index (`listing.cells.hN $in [...]`,
the only predicate, which every planner serves from the index; naming the index with a hint
is two orders of magnitude slower on the embedded server), then refined here: status VALID
and not expired, grade, county, text, exact geodesic distance or inclusive box. The status
lives on the same document as the cells, so a suspension hides the stay in the same write.

One command a page, whatever its size: the hits come in full from that one find, so there is
no second round trip for the page (fetching twenty ids again costs the embedded server more
than fetching them with the candidates). Cursors are keyset positions, so a stay certified
between two pages causes no duplicate and no skip.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from homestay.clock import utcnow
from homestay.domain import geo
from homestay.domain.certificates import CertificateStatus, Listed
from homestay.domain.grades import ALL_GRADES, Grade
from homestay.errors import BadUserInput
from homestay.services.pagination import decode_cursor, encode_cursor, keyset_after
from homestay.storage.database import Database

MAX_RADIUS_M = 100_000
MAX_TEXT = 50
# everything a hit shows; the history can be long and is never shown in a search
_PROJECTION = None  # measured: excluding fields costs the embedded server more than sending them


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
    certificate: dict
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
        return cls(frozenset(g.rank for g in grades), query.county, text,
                   Listed(query.now or utcnow()))

    def keeps(self, cert: dict) -> bool:
        if not self.listed.keeps(CertificateStatus(cert["status"]), cert["expiresAt"]):
            return False
        if cert["gradeRank"] not in self.ranks:
            return False
        if self.county is not None and cert["county"] != self.county:
            return False
        if self.text is not None:
            listing = cert["listing"]
            names = (listing.get("name") or "", listing.get("nameEn") or "")
            return any(self.text in name.casefold() for name in names)
        return True

    def mongo(self) -> dict:
        """The same conditions as a query, for the index on (status, county, name)."""
        flt: dict[str, Any] = self.listed.mongo()
        if len(self.ranks) < len(ALL_GRADES):
            flt["gradeRank"] = {"$in": sorted(self.ranks)}
        if self.county is not None:
            flt["county"] = self.county
        if self.text is not None:
            pattern = {"$regex": re.escape(self.text), "$options": "i"}
            flt["$or"] = [{"listing.name": pattern}, {"listing.nameEn": pattern}]
        return flt


def _key(sort: StaySort, cert: dict, distance: float | None) -> list[Any]:
    name = cert["listing"]["name"]
    if sort is StaySort.GRADE:
        return [-cert["gradeRank"], distance if distance is not None else name, cert["_id"]]
    if sort is StaySort.NAME or distance is None:
        return [name, cert["_id"]]
    return [distance, cert["_id"]]


def _shape(sort: StaySort, with_distance: bool) -> list[Any]:
    number = (float, int)
    if sort is StaySort.GRADE:
        return [int, number if with_distance else str, str]
    if sort is StaySort.NAME or not with_distance:
        return [str, str]
    return [number, str]


class SearchService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(self, query: SearchQuery) -> SearchPage:
        _check(query)
        conditions = _Filter.of(query)
        if not conditions.ranks:
            return SearchPage([], False, _zero)
        if query.near is not None or query.bbox is not None:
            return await self._area(query, conditions)
        return await self._listed(query, conditions)

    async def _in_cells(self, cover: geo.Cover) -> list[dict]:
        return await self.db.search_certificates.find(
            {f"listing.cells.{cover.field}": {"$in": cover.cells}},
            _PROJECTION, batch_size=100_000).to_list()

    async def _area(self, query: SearchQuery, conditions: _Filter) -> SearchPage:
        """A circle or a viewport: every listing in its cells, refined and ordered here."""
        if query.near is not None:
            cover = geo.cover_circle(query.near, query.radius_m)
        else:
            assert query.bbox is not None
            cover = geo.cover_bbox(query.bbox)
        certs, points = [], []
        for cert in await self._in_cells(cover):
            point = geo.from_geojson(cert["listing"]["location"])
            if conditions.keeps(cert) and (query.bbox is None or geo.in_bbox(point, query.bbox)):
                certs.append(cert)
                points.append((point, cert["_id"]))
        if query.sort is StaySort.DISTANCE:
            return self._by_distance(query, certs, points)
        return self._by_key(query, certs, points)

    def _by_distance(self, query: SearchQuery, certs: list[dict],
                     points: list[tuple[geo.LatLng, str]]) -> SearchPage:
        """Nearest first from `near`, or from the viewport's centre."""
        origin, radius = query.near, float(query.radius_m)
        if origin is None:
            assert query.bbox is not None
            box = query.bbox
            origin = geo.LatLng((box.south + box.north) / 2, (box.west + box.east) / 2)
            radius = math.inf
        after = None
        if query.after is not None:
            distance, ident = decode_cursor(query.after, _shape(query.sort, True))
            after = (float(distance), ident)
        best = geo.nearest(origin, points, query.first + 1, radius, after)
        shown = query.near is not None
        hits = [Hit(certs[i], d if shown else None, encode_cursor([d, ident]))
                for d, ident, i in best[: query.first]]

        async def count() -> int:
            if math.isinf(radius):
                return len(points)
            return geo.count_within(origin, [p for p, _ in points], radius)

        return SearchPage(hits, len(best) > query.first, count)

    def _by_key(self, query: SearchQuery, certs: list[dict],
                points: list[tuple[geo.LatLng, str]]) -> SearchPage:
        """By grade (then distance, or name without `near`) or by name."""
        keyed = []
        for cert, (point, _) in zip(certs, points, strict=True):
            distance = None
            if query.near is not None:
                distance = geo.within(query.near, point, query.radius_m)
                if distance is None:
                    continue
            keyed.append((_key(query.sort, cert, distance), distance, cert))
        keyed.sort(key=lambda k: k[0])
        total = len(keyed)
        if query.after is not None:
            after = decode_cursor(query.after, _shape(query.sort, query.near is not None))
            keyed = [k for k in keyed if k[0] > after]
        hits = [Hit(c, d, encode_cursor(key)) for key, d, c in keyed[: query.first]]

        async def count() -> int:
            return total

        return SearchPage(hits, len(keyed) > query.first, count)

    async def _listed(self, query: SearchQuery, conditions: _Filter) -> SearchPage:
        """No place: by name, or by grade then name, through the (status, county, name) index."""
        if query.sort is StaySort.GRADE:
            order = [("gradeRank", -1), ("listing.name", 1), ("_id", 1)]
        else:
            order = [("listing.name", 1), ("_id", 1)]
        flt = conditions.mongo()
        page_filter = flt
        if query.after is not None:
            key = decode_cursor(query.after, _shape(query.sort, False))
            if query.sort is StaySort.GRADE:
                key[0] = -key[0]
            page_filter = {"$and": [flt, keyset_after(order, key)]}
        docs = await self.db.search_certificates.find(page_filter, _PROJECTION).sort(
            order).limit(query.first + 1).to_list()
        hits = [Hit(d, None, encode_cursor(_key(query.sort, d, None)))
                for d in docs[: query.first]]

        async def count() -> int:
            return await self.db.search_certificates.count_documents(flt)

        return SearchPage(hits, len(docs) > query.first, count)


async def _zero() -> int:
    return 0
