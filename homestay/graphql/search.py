"""searchStays and gradeStatistics: what the tourist app and the console read most."""

from __future__ import annotations

import strawberry

from homestay.domain import geo
from homestay.domain.grades import Grade as DomainGrade
from homestay.graphql.common import (
    BBoxInput,
    Connection,
    CoordSystem,
    County,
    Edge,
    GeoPointInput,
    Grade,
    Info,
    StaySort,
)
from homestay.graphql.permissions import IsBureau
from homestay.graphql.types import Homestay
from homestay.services import statistics
from homestay.services.search import SearchQuery
from homestay.services.search import StaySort as DomainStaySort


@strawberry.type
class GradeCount:
    county: County
    grade: Grade
    count: int


@strawberry.type
class SearchQueries:
    @strawberry.field(description="Certified stays (certificate VALID now), nearest first by "
                      "default. Points in and out are in coordSystem.")
    async def search_stays(
        self, info: Info, near: GeoPointInput | None = None, radius_meters: int = 5000,
        bbox: BBoxInput | None = None, county: str | None = None,
        grades: list[Grade] | None = None, min_grade: Grade | None = None,
        text: str | None = None, coord_system: CoordSystem = geo.CoordSystem.WGS84,
        sort: StaySort = DomainStaySort.DISTANCE, first: int = 20, after: str | None = None,
    ) -> Connection[Homestay]:
        if text is not None:
            text = text.strip() or None
        query = SearchQuery(
            near=near.to_wgs84(coord_system, "near") if near else None,
            radius_m=radius_meters,
            bbox=bbox.to_wgs84(coord_system) if bbox else None,
            county=county, grades=grades, min_grade=min_grade, text=text, sort=sort,
            first=first, after=after, now=info.context.now,
        )
        page = await info.context.services.search.search(query)
        edges = [Edge(cursor=hit.cursor,
                      node=Homestay.from_certificate(hit.certificate, coord_system, hit.distance_m))
                 for hit in page.hits]
        return Connection.of(edges, page.has_next, page.count, after)

    @strawberry.field(permission_classes=[IsBureau],
                      description="VALID certificates by county and grade, in the caller's "
                      "counties (or the one asked for).")
    async def grade_statistics(self, info: Info, county: str | None = None) -> list[GradeCount]:
        counties = info.context.caller.counties_filter(county)
        rows = await statistics.listed_counts(info.context.services.db, counties,
                                              info.context.now)
        return [GradeCount(county=County.of(r["county"], info.context.lang),
                           grade=DomainGrade(r["grade"]), count=r["count"]) for r in rows]
