"""Tourist search over VALID certificates: near a point, in a map viewport, by grade, by text.

A certificate carries a listing of its homestay (name, point, H3 cells), so a search reads one
collection: an indexed `$in` over the cells that cover the circle or viewport fetches the
candidates with a small projection, they are refined exactly (geodesic distance, inclusive box)
and sorted here, and the page is fetched by id: two commands whatever the page size. Without a
place, an index on (status, county, name) serves the list. Cursors are keyset positions, so
a stay certified between two pages never causes a duplicate or a skip.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from homestay.clock import utcnow
from homestay.domain import geo
from homestay.domain.grades import ALL_GRADES, Grade
from homestay.errors import BadUserInput
from homestay.services.pagination import decode_cursor, encode_cursor, keyset_after
from homestay.storage.database import Database

MAX_RADIUS_M = 100_000
MAX_TEXT = 50


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


@dataclass(frozen=True)
class Hit:
    certificate: dict
    distance_m: float | None
    cursor: str


@dataclass(frozen=True)
class SearchPage:
    hits: list[Hit]
    total: int
    has_next: bool


def _allowed_ranks(query: SearchQuery) -> list[int]:
    grades = set(query.grades) if query.grades else set(ALL_GRADES)
    if query.min_grade is not None:
        grades = {g for g in grades if g >= query.min_grade}
    return sorted(g.rank for g in grades)


def _check(query: SearchQuery) -> None:
    if not 1 <= query.first <= 100:
        raise BadUserInput("first", "must be between 1 and 100")
    if query.near is not None and not 1 <= query.radius_m <= MAX_RADIUS_M:
        raise BadUserInput("radiusMeters", f"must be between 1 and {MAX_RADIUS_M}")
    if query.text is not None and len(query.text) > MAX_TEXT:
        raise BadUserInput("text", f"may have at most {MAX_TEXT} characters")


class SearchService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _filter(self, query: SearchQuery, ranks: list[int]) -> dict:
        flt: dict[str, Any] = {"status": "VALID", "expiresAt": {"$gt": utcnow()}}
        if len(ranks) < len(ALL_GRADES):
            flt["gradeRank"] = {"$in": ranks}
        if query.county is not None:
            flt["county"] = query.county
        if query.text:
            pattern = {"$regex": re.escape(query.text.strip()), "$options": "i"}
            flt["$or"] = [{"listing.name": pattern}, {"listing.nameEn": pattern}]
        return flt

    async def search(self, query: SearchQuery) -> SearchPage:
        _check(query)
        ranks = _allowed_ranks(query)
        if not ranks:
            return SearchPage([], 0, False)
        flt = self._filter(query, ranks)
        if query.near is not None or query.bbox is not None:
            return await self._search_area(query, flt)
        return await self._search_list(query, flt)

    async def _search_area(self, query: SearchQuery, flt: dict) -> SearchPage:
        if query.near is not None:
            cover = geo.cover_circle(query.near, query.radius_m)
        else:
            assert query.bbox is not None
            cover = geo.cover_bbox(query.bbox)
        flt["listing.cells"] = {"$in": cover}
        origin = query.near
        if origin is None and query.bbox is not None:
            box = query.bbox
            origin = geo.LatLng((box.south + box.north) / 2, (box.west + box.east) / 2)
        # named, because some planners (the embedded server's) scan the collection when the
        # filter has more predicates than the index has fields
        candidates = self.db.search_certificates.find(
            flt, {"_id": 1, "gradeRank": 1, "listing.name": 1, "listing.location": 1},
            hint="search_cells")
        keyed: list[tuple[list[Any], float | None]] = []
        async for c in candidates:
            point = geo.from_geojson(c["listing"]["location"])
            if query.bbox is not None and not geo.in_bbox(point, query.bbox):
                continue
            distance = geo.distance_m(origin, point) if origin is not None else None
            if query.near is not None and distance is not None and distance > query.radius_m:
                continue
            keyed.append((self._key(query.sort, c, distance), distance))
        keyed.sort(key=lambda pair: pair[0])
        total = len(keyed)
        if query.after is not None:
            after = decode_cursor(query.after, self._shape(query.sort))
            keyed = [pair for pair in keyed if pair[0] > after]
        page = keyed[: query.first]
        ids = [key[-1] for key, _ in page]
        docs = {d["_id"]: d async for d in self.db.search_certificates.find({"_id": {"$in": ids}})}
        hits = [
            Hit(docs[key[-1]], distance if query.near is not None else None, encode_cursor(key))
            for key, distance in page if key[-1] in docs
        ]
        return SearchPage(hits, total, len(keyed) > query.first)

    @staticmethod
    def _key(sort: StaySort, c: dict, distance: float | None) -> list[Any]:
        name = c["listing"]["name"]
        if sort is StaySort.GRADE:
            second: Any = distance if distance is not None else name
            return [-c["gradeRank"], second, c["_id"]]
        if sort is StaySort.NAME or distance is None:
            return [name, c["_id"]]
        return [distance, c["_id"]]

    @staticmethod
    def _shape(sort: StaySort, geo_search: bool = True) -> list[type]:
        if sort is StaySort.GRADE:
            return [int, (float, int) if geo_search else str, str]  # type: ignore[list-item]
        if sort is StaySort.NAME or not geo_search:
            return [str, str]
        return [(float, int), str]  # type: ignore[list-item]

    async def _search_list(self, query: SearchQuery, flt: dict) -> SearchPage:
        if query.sort is StaySort.GRADE:
            order = [("gradeRank", -1), ("listing.name", 1), ("_id", 1)]
        else:
            order = [("listing.name", 1), ("_id", 1)]
        page_filter = dict(flt)
        if query.after is not None:
            key = decode_cursor(query.after, self._shape(query.sort, geo_search=False))
            if query.sort is StaySort.GRADE:
                key[0] = -key[0]
            page_filter = {"$and": [flt, keyset_after(order, key)]}
        docs = await self.db.search_certificates.find(page_filter, hint="search_by_name").sort(
            order).limit(query.first + 1).to_list()
        total = await self.db.search_certificates.count_documents(flt, hint="search_by_name")
        hits = []
        for d in docs[: query.first]:
            if query.sort is StaySort.GRADE:
                key = [-d["gradeRank"], d["listing"]["name"], d["_id"]]
            else:
                key = [d["listing"]["name"], d["_id"]]
            hits.append(Hit(d, None, encode_cursor(key)))
        return SearchPage(hits, total, len(docs) > query.first)

