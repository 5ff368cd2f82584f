"""searchStays and gradeStatistics: what the tourist app and the console read most."""

from __future__ import annotations

import strawberry
from strawberry.types.nodes import FragmentSpread, InlineFragment, Selection

from homestay.domain import geo
from homestay.domain.grades import ALL_GRADES
from homestay.domain.grades import Grade as DomainGrade
from homestay.graphql.common import (
    BBoxInput,
    Connection,
    CoordSystem,
    County,
    Edge,
    GeoPoint,
    GeoPointInput,
    Grade,
    Info,
    StaySort,
    global_id,
)
from homestay.graphql.homestays import Homestay
from homestay.graphql.permissions import IsBureau
from homestay.search.service import SearchQuery
from homestay.search.service import StaySort as DomainStaySort

GRADE_OF_RANK = {g.rank: g for g in ALL_GRADES}


def _county_of(root: GradeCount, info: Info) -> County:
    # made when asked; and a cluster's counts are by county only when `county` is asked
    # for (stay_clusters looks ahead at the query), so a count reaching here has one
    assert root.county_code is not None
    return County.of(root.county_code, info.context.lang)


@strawberry.type
class GradeCount:
    county: County = strawberry.field(resolver=_county_of)
    grade: Grade
    count: int
    county_code: strawberry.Private[str | None]  # None: counted by grade alone


def _asks(selections: list[Selection], path: list[str]) -> bool:
    """Whether the selections reach the field `path` (through fragments too)."""
    for selection in selections:
        if isinstance(selection, FragmentSpread | InlineFragment):
            if _asks(selection.selections, path):
                return True
        elif selection.name == path[0] and (
            len(path) == 1 or _asks(selection.selections, path[1:])
        ):
            return True
    return False


@strawberry.type
class StayCluster:
    id: strawberry.ID = strawberry.field(
        description="The cell, the zoom's grid, the filters and how `counts` are broken down."
    )
    point: GeoPoint = strawberry.field(description="The mean point of its stays.")
    count: int
    counts: list[GradeCount] = strawberry.field(
        description="By grade, and by county too when `county` is asked for; together "
        "they make `count`."
    )


@strawberry.type
class SearchQueries:
    @strawberry.field(
        description="Public: the certified stays of a map viewport gathered into "
        "clusters for its zoom (0-20), at most a few hundred whatever the number "
        "of stays; their counts add up to searchStays' totalCount over the same "
        "viewport and grades."
    )
    async def stay_clusters(
        self,
        info: Info,
        bbox: BBoxInput,
        zoom: int,
        grades: list[Grade] | None = None,
        min_grade: Grade | None = None,
        coord_system: CoordSystem = geo.CoordSystem.WGS84,
    ) -> list[StayCluster]:
        box = bbox.to_wgs84(coord_system, max_corner_m=None)  # a province, a country
        # by county only when the query asks for it: a province's clusters each span several
        # counties, and every county is another entry to answer
        by_county = _asks(info.selected_fields[0].selections, ["counts", "county"])
        found = await info.context.services.search.clusters(
            box, zoom, grades, min_grade, info.context.now, by_county
        )
        filters = (
            ",".join(sorted(g.value for g in grades or []))
            + f"|{min_grade.value if min_grade else ''}"
            # the same cell counted by grade alone is another object (a client's cache keys
            # objects by id; the ids of clusters counted by county are as they were)
            + ("" if by_county else "|by-grade")
        )
        return [
            StayCluster(
                id=global_id("StayCluster", f"{c.cell[0]}/{c.cell[1]}/{c.cell[2]}|{filters}"),
                point=GeoPoint.from_geojson(geo.geojson(geo.LatLng(c.lat, c.lng)), coord_system),
                count=c.count,
                counts=[
                    GradeCount(county_code=county, grade=GRADE_OF_RANK[rank], count=n)
                    for county, rank, n in c.counts
                ],
            )
            for c in found
        ]

    @strawberry.field(
        description="Certified stays (certificate VALID now), nearest first by "
        "default (by name without `near` or `bbox`). Points in and out are in coordSystem."
    )
    async def search_stays(
        self,
        info: Info,
        near: GeoPointInput | None = None,
        radius_meters: int = 5000,
        bbox: BBoxInput | None = None,
        county: str | None = None,
        grades: list[Grade] | None = None,
        min_grade: Grade | None = None,
        text: str | None = None,
        coord_system: CoordSystem = geo.CoordSystem.WGS84,
        sort: StaySort = DomainStaySort.DISTANCE,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Homestay]:
        if text is not None:
            text = text.strip() or None
        query = SearchQuery(
            near=near.to_wgs84(coord_system, "near") if near else None,
            radius_m=radius_meters,
            bbox=bbox.to_wgs84(coord_system) if bbox else None,
            county=county,
            grades=grades,
            min_grade=min_grade,
            text=text,
            sort=sort,
            first=first,
            after=after,
            now=info.context.now,
        )
        page = await info.context.services.search.search(query)
        edges = [
            Edge(
                cursor=hit.cursor,
                node=Homestay.from_certificate(
                    hit.certificate, coord_system, info.context.lang, hit.distance_m
                ),
            )
            for hit in page.hits
        ]
        return Connection.of(edges, page.has_next, page.count, after)

    @strawberry.field(
        permission_classes=[IsBureau],
        description="VALID certificates by county and grade, in the caller's "
        "counties (or the one asked for).",
    )
    async def grade_statistics(self, info: Info, county: str | None = None) -> list[GradeCount]:
        counties = info.context.caller.counties_filter(county)
        rows = await info.context.services.statistics.listed(counties, info.context.now)
        return [
            GradeCount(
                county_code=r["county"],
                grade=DomainGrade(r["grade"]),
                count=r["count"],
            )
            for r in rows
        ]
