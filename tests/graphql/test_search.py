from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest
from geopy.distance import geodesic
from geopy.point import Point

from homestay.clock import shifted
from homestay.domain import geo
from homestay.domain.certificates import Certificate, CertificateAction
from homestay.domain.listings import Homestay
from homestay.search.service import SearchQuery, StaySort
from homestay.services.homestays import HomestayInput
from homestay.services.inspections import ResultInput, SubmissionInput
from tests.conftest import key
from tests.graphql.flows import THRESHOLDS, checklist

MOGANSHAN = geo.LatLng(30.60, 119.87)
GRADE_POINTS = {
    "STANDARD": THRESHOLDS["STANDARD"],
    "PREMIUM": THRESHOLDS["PREMIUM"],
    "BOUTIQUE": THRESHOLDS["BOUTIQUE"],
}

SEARCH = """
query($near: GeoPointInput, $radius: Int!, $bbox: BBoxInput, $county: String, $grades: [Grade!],
      $minGrade: Grade, $text: String, $cs: CoordSystem!, $sort: StaySort!, $first: Int!,
      $after: String) {
  searchStays(near: $near, radiusMeters: $radius, bbox: $bbox, county: $county, grades: $grades,
              minGrade: $minGrade, text: $text, coordSystem: $cs, sort: $sort, first: $first,
              after: $after) {
    totalCount
    edges { cursor node { id name nameEn grade distanceMeters location { lat lng }
                          county { code name } certificate { number status grade } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def variables(**given) -> dict:
    base = {"radius": 5000, "cs": "WGS84", "sort": "DISTANCE", "first": 20}
    base.update(given)
    return base


def point_at(meters: float, bearing: float, origin: geo.LatLng = MOGANSHAN) -> geo.LatLng:
    p = geodesic(meters=meters).destination(Point(origin.lat, origin.lng), bearing)
    return geo.LatLng(p.latitude, p.longitude)


async def certify(
    services,
    inspector,
    bureau,
    where: geo.LatLng,
    grade: str = "PREMIUM",
    name: str | None = None,
    name_en: str | None = None,
    county: str = "330521",
) -> tuple[Homestay, Certificate]:
    stay = await services.homestays.register(
        inspector.caller,
        HomestayInput(
            name=name or f"宿{uuid.uuid4().hex[:6]}",
            name_en=name_en,
            address="德清县莫干山镇",
            county=county,
            location=(where.lat, where.lng),
            rooms=5,
        ),
    )
    results = [
        ResultInput(r["itemCode"], r.get("passed"), r.get("points"))
        for r in checklist(GRADE_POINTS[grade])
    ]
    inspection = await services.inspections.submit(
        inspector.caller,
        SubmissionInput(
            client_submission_id=str(uuid.uuid4()), homestay_id=stay.id, results=results
        ),
    )
    _, cert = await services.certificates.review(bureau.caller, inspection.id, "APPROVE", None)
    assert cert is not None and cert.grade.value == grade
    return stay, cert


async def page_through(api, **given) -> list[dict]:
    nodes, after = [], None
    while True:
        page = (await api.query(SEARCH, variables(**given, after=after)))["searchStays"]
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            assert len(nodes) == page["totalCount"]
            return nodes
        after = page["pageInfo"]["endCursor"]


async def test_only_stays_valid_now_are_found(api, services, inspector, bureau):
    valid, _ = await certify(services, inspector, bureau, point_at(100, 0), name="有效")
    _, suspended = await certify(services, inspector, bureau, point_at(200, 0))
    _, revoked = await certify(services, inspector, bureau, point_at(300, 0))
    regraded, old = await certify(services, inspector, bureau, point_at(400, 0), "STANDARD")
    with shifted(timedelta(days=-1200)):
        await certify(services, inspector, bureau, point_at(500, 0), name="过期")
    await services.certificates.change(
        bureau.caller, suspended.number, CertificateAction.SUSPEND, "spot check"
    )
    await services.certificates.change(
        bureau.caller, revoked.number, CertificateAction.REVOKE, "unlicensed"
    )
    again = await services.inspections.submit(
        inspector.caller,
        SubmissionInput(
            client_submission_id=str(uuid.uuid4()),
            homestay_id=regraded.id,
            results=[
                ResultInput(r["itemCode"], r.get("passed"), r.get("points")) for r in checklist()
            ],
        ),
    )
    await services.certificates.review(bureau.caller, again.id, "APPROVE", None)
    found = await page_through(api, near={"lat": MOGANSHAN.lat, "lng": MOGANSHAN.lng})
    assert [(key(n["id"]), n["grade"]) for n in found] == [
        (valid.id, "PREMIUM"),
        (regraded.id, "BOUTIQUE"),
    ]
    assert all(n["certificate"]["status"] == "VALID" for n in found)
    assert old.number not in {n["certificate"]["number"] for n in found}


async def test_near_finds_within_the_radius_nearest_first_with_true_distances(
    api, services, inspector, bureau
):
    for meters in (4990, 120, 2500, 5020, 800):
        await certify(services, inspector, bureau, point_at(meters, meters % 360))
    found = await page_through(api, near={"lat": MOGANSHAN.lat, "lng": MOGANSHAN.lng}, radius=5000)
    distances = [n["distanceMeters"] for n in found]
    assert distances == sorted(distances)
    assert [round(d) for d in distances] == [120, 800, 2500, 4990]
    for node in found:
        exact = geodesic(
            (MOGANSHAN.lat, MOGANSHAN.lng), (node["location"]["lat"], node["location"]["lng"])
        ).meters
        assert abs(node["distanceMeters"] - exact) < 0.01


async def test_ties_in_distance_are_broken_stably(api, services, inspector, bureau):
    spot = point_at(1000, 90)
    certs = [(await certify(services, inspector, bureau, spot))[1].number for _ in range(4)]
    for _ in range(2):
        found = await page_through(api, near={"lat": MOGANSHAN.lat, "lng": MOGANSHAN.lng}, first=1)
        assert [n["certificate"]["number"] for n in found] == sorted(certs)


@pytest.mark.parametrize("system", ["WGS84", "GCJ02", "BD09"])
async def test_every_coordinate_system_sees_the_same_distances(
    api, services, inspector, bureau, system
):
    target = point_at(3000, 45)
    await certify(services, inspector, bureau, target)
    cs = geo.CoordSystem(system)
    near = geo.from_wgs84(MOGANSHAN, cs)
    found = await page_through(api, near={"lat": near.lat, "lng": near.lng}, cs=system)
    assert len(found) == 1
    assert abs(found[0]["distanceMeters"] - geo.distance_m(MOGANSHAN, target)) < 0.1
    shown = geo.LatLng(**found[0]["location"])
    assert geo.distance_m(shown, geo.from_wgs84(target, cs)) < 0.05


async def test_a_map_viewport_is_inclusive_at_its_edges(api, services, inspector, bureau):
    box = {"south": 30.55, "west": 119.80, "north": 30.65, "east": 119.95}
    on_edge, _ = await certify(services, inspector, bureau, geo.LatLng(30.65, 119.90))
    inside, _ = await certify(services, inspector, bureau, geo.LatLng(30.60, 119.85))
    await certify(services, inspector, bureau, geo.LatLng(30.6501, 119.90))
    found = await page_through(api, bbox=box, sort="NAME")
    assert {key(n["id"]) for n in found} == {on_edge.id, inside.id}
    assert all(n["distanceMeters"] is None for n in found)


async def test_grade_county_and_text_filters(
    api, services, inspector, bureau, anji_inspector, anji_bureau
):
    s, _ = await certify(
        services, inspector, bureau, point_at(100, 0), "STANDARD", "溪居", "Brook House"
    )
    p, _ = await certify(
        services, inspector, bureau, point_at(200, 0), "PREMIUM", "竹.隐", "Bamboo Inn"
    )
    b, _ = await certify(services, inspector, bureau, point_at(300, 0), "BOUTIQUE", "竹隐山居")
    near = {"lat": MOGANSHAN.lat, "lng": MOGANSHAN.lng}

    async def ids(**given) -> list[str]:
        return [key(n["id"]) for n in await page_through(api, near=near, **given)]

    assert await ids(grades=["STANDARD", "BOUTIQUE"]) == [s.id, b.id]
    assert await ids(minGrade="PREMIUM") == [p.id, b.id]
    assert await ids(grades=["STANDARD"], minGrade="PREMIUM") == []
    assert await ids(text="竹") == [p.id, b.id]
    assert await ids(text="竹.") == [p.id]  # literal, not a regular expression
    assert await ids(text=".*") == []
    assert await ids(text="bamboo") == [p.id]
    assert await ids(county="330521") == [s.id, p.id, b.id]
    assert await ids(county="330523") == []


async def test_sorting_by_grade_and_by_name(api, services, inspector, bureau):
    a, _ = await certify(services, inspector, bureau, point_at(300, 0), "PREMIUM", "甲")
    b, _ = await certify(services, inspector, bureau, point_at(100, 0), "PREMIUM", "乙")
    c, _ = await certify(services, inspector, bureau, point_at(900, 0), "BOUTIQUE", "丙")
    d, _ = await certify(services, inspector, bureau, point_at(50, 0), "STANDARD", "丁")
    near = {"lat": MOGANSHAN.lat, "lng": MOGANSHAN.lng}
    by_grade = [key(n["id"]) for n in await page_through(api, near=near, sort="GRADE", first=2)]
    assert by_grade == [c.id, b.id, a.id, d.id]
    by_name = [n["name"] for n in await page_through(api, near=near, sort="NAME", first=3)]
    assert by_name == sorted(["甲", "乙", "丙", "丁"])
    # without a place: the whole county, by name or by grade then name, in pages
    listed = [n["name"] for n in await page_through(api, county="330521", sort="NAME", first=3)]
    assert listed == sorted(["甲", "乙", "丙", "丁"])
    graded = [key(n["id"]) for n in await page_through(api, county="330521", sort="GRADE", first=1)]
    assert graded[0] == c.id and graded[-1] == d.id
    assert sorted(graded[1:3]) == sorted([a.id, b.id])


async def test_pages_stay_right_when_stays_are_certified_in_between(
    api, services, inspector, bureau
):
    before = [
        (await certify(services, inspector, bureau, point_at(500 * (i + 1), 10 * i)))[0]
        for i in range(6)
    ]
    near = {"lat": MOGANSHAN.lat, "lng": MOGANSHAN.lng}
    first = (await api.query(SEARCH, variables(near=near, first=3)))["searchStays"]
    # certified while the tourist reads the first page: one nearer, one farther
    await certify(services, inspector, bureau, point_at(50, 0))
    later, _ = await certify(services, inspector, bureau, point_at(2800, 0))
    rest = await page_through_from(api, near, first["pageInfo"]["endCursor"])
    seen = [key(e["node"]["id"]) for e in first["edges"]] + rest
    assert len(seen) == len(set(seen))
    assert {s.id for s in before} <= set(seen)
    assert later.id in rest


async def page_through_from(api, near: dict, after: str) -> list[str]:
    ids = []
    while after:
        page = (await api.query(SEARCH, variables(near=near, first=3, after=after)))["searchStays"]
        ids += [key(e["node"]["id"]) for e in page["edges"]]
        after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    return ids


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"near": {"lat": 30.6, "lng": 119.87}, "radius": 100001}, "radiusMeters"),
        ({"near": {"lat": 30.6, "lng": 119.87}, "radius": 0}, "radiusMeters"),
        ({"first": 101}, "first"),
        ({"first": 0}, "first"),
        ({"after": "bm90IGEgY3Vyc29y"}, "after"),
        ({"near": {"lat": 95, "lng": 119.87}}, "near.lat"),
        ({"bbox": {"south": 31, "west": 119, "north": 30, "east": 120}}, "bbox.south"),
        ({"text": "x" * 51}, "text"),
    ],
)
async def test_bad_search_arguments_are_named(api, given, field):
    body = await api.raw(SEARCH, variables(**given))
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field


async def test_a_tourist_at_moganshan_pages_premium_stays_in_amap_coordinates(
    api, services, inspector, bureau
):
    """The issue's 'done when': every such stay exactly once, nearest first, true distances."""
    rng = random.Random(7)
    expected = set()
    for _ in range(25):
        where = point_at(rng.uniform(0, 14000), rng.uniform(0, 360))
        grade = rng.choice(["STANDARD", "PREMIUM", "BOUTIQUE"])
        stay, _ = await certify(services, inspector, bureau, where, grade)
        if grade != "STANDARD" and geo.distance_m(MOGANSHAN, where) <= 10000:
            expected.add(stay.id)
    amap = geo.from_wgs84(MOGANSHAN, geo.CoordSystem.GCJ02)
    found = await page_through(
        api,
        near={"lat": amap.lat, "lng": amap.lng},
        radius=10000,
        minGrade="PREMIUM",
        cs="GCJ02",
        first=3,
    )
    assert [n["id"] for n in found] and {key(n["id"]) for n in found} == expected
    assert len(found) == len(expected)
    distances = [n["distanceMeters"] for n in found]
    assert distances == sorted(distances)
    for node in found:
        shown = geo.to_wgs84(geo.LatLng(**node["location"]), geo.CoordSystem.GCJ02)
        assert abs(geo.distance_m(MOGANSHAN, shown) - node["distanceMeters"]) < 0.1


async def test_a_page_costs_the_same_database_commands_whatever_its_size(
    api, services, inspector, bureau, command_counter, db
):
    for i in range(55):
        await certify(services, inspector, bureau, point_at(40 * i + 10, 7 * i))
    query = SEARCH.replace(
        "certificate { number status grade }",
        "certificate { number status grade issuedAt homestay { name } }",
    )

    async def cost(first: int) -> int:
        command_counter.commands.clear()
        page = (
            await api.query(
                query, variables(near={"lat": MOGANSHAN.lat, "lng": MOGANSHAN.lng}, first=first)
            )
        )["searchStays"]
        assert len(page["edges"]) == first
        return command_counter.count(db.db.name)

    await cost(1)  # the process's first search also builds its index, once
    assert await cost(5) == 2  # what changed, then the 4 certificates not yet read
    assert await cost(50) == 2  # and the 45 not yet read
    # the same page again, nothing changed: what changed is read, the page is not
    assert await cost(50) == 1


async def test_a_geo_search_reads_what_changed_then_its_page_both_through_indexes(
    db, services, inspector, bureau, command_counter
):
    await certify(services, inspector, bureau, point_at(100, 0))
    await services.search.search(SearchQuery(near=MOGANSHAN, radius_m=10))  # builds: no hit

    async def sent() -> list:
        command_counter.commands.clear()
        page = await services.search.search(SearchQuery(near=MOGANSHAN, radius_m=5000))
        assert len(page.hits) == 1
        return [
            (name, filter_)
            for database, name, filter_ in command_counter.commands
            if database == db.db.name
        ]

    assert await sent() == [("find", ["updatedAt"]), ("find", ["_id"])]
    # the page shown again: its certificate, unchanged since it was read, is not read again
    assert await sent() == [("find", ["updatedAt"])]
    since = services.search.index.version
    plan = await db.certificates.find({"updatedAt": {"$gte": since}}).explain()
    assert "IXSCAN" in str(plan["queryPlanner"]["winningPlan"])


async def test_a_search_without_a_place_counts_in_the_index_not_in_the_database(
    db, services, inspector, bureau, command_counter
):
    """An app without the phone's location asks the province, by name, with totalCount: no
    count, no sort in the database (at 200,000 stays those took 40 s on the embedded
    server), only what changed and the page by number, as any search."""
    await certify(services, inspector, bureau, point_at(100, 0), name_en="Bamboo Stay")
    await services.search.search(SearchQuery(near=MOGANSHAN, radius_m=10))  # builds: no hit

    async def sent(query: SearchQuery) -> list:
        command_counter.commands.clear()
        page = await services.search.search(query)
        assert len(page.hits) == 1 and await page.count() == 1
        return [(n, f) for database, n, f in command_counter.commands if database == db.db.name]

    assert await sent(SearchQuery()) == [("find", ["updatedAt"]), ("find", ["_id"])]
    for query in (SearchQuery(sort=StaySort.GRADE), SearchQuery(county="330521", text="Stay")):
        assert await sent(query) == [("find", ["updatedAt"])]  # the page kept


async def test_a_certificate_out_of_service_for_good_leaves_the_search_index(
    api, services, inspector, bureau, db
):
    stay, first = await certify(services, inspector, bureau, point_at(100, 0), "STANDARD")
    again = await services.inspections.submit(
        inspector.caller,
        SubmissionInput(
            client_submission_id=str(uuid.uuid4()),
            homestay_id=stay.id,
            results=[
                ResultInput(r["itemCode"], r.get("passed"), r.get("points")) for r in checklist()
            ],
        ),
    )
    _, second = await services.certificates.review(bureau.caller, again.id, "APPROVE", None)
    index = services.search.index

    async def held() -> set[str]:
        await index.refresh()
        found = set()
        for number in (first.number, second.number):
            try:
                index.slot(number)
            except KeyError:
                continue
            found.add(number)
        return found

    assert await held() == {second.number}  # the superseded one is gone for good
    await services.certificates.change(bureau.caller, second.number, CertificateAction.SUSPEND, "x")
    assert await held() == set()
    found = await services.search.search(SearchQuery(near=MOGANSHAN, radius_m=5000))
    assert found.hits == []
    await services.certificates.change(
        bureau.caller, second.number, CertificateAction.REINSTATE, "x"
    )
    assert await held() == {second.number}  # a suspension may end
    await services.certificates.change(bureau.caller, second.number, CertificateAction.REVOKE, "x")
    assert await held() == set()


async def test_statistics_count_valid_certificates_in_the_callers_counties(
    api, services, inspector, bureau, anji_inspector, anji_bureau
):
    for grade in ("PREMIUM", "PREMIUM", "BOUTIQUE"):
        await certify(services, inspector, bureau, point_at(100, 0), grade)
    _, suspended = await certify(services, inspector, bureau, point_at(100, 0), "STANDARD")
    await services.certificates.change(
        bureau.caller, suspended.number, CertificateAction.SUSPEND, "x"
    )
    anji = gazetteer_point("330523")
    await certify(services, anji_inspector, anji_bureau, anji, "STANDARD", county="330523")
    query = "query($c: String) { gradeStatistics(county: $c) { county { code } grade count } }"
    mine = (await api.query(query, {}, bureau.token))["gradeStatistics"]
    assert [(r["county"]["code"], r["grade"], r["count"]) for r in mine] == [
        ("330521", "PREMIUM", 2),
        ("330521", "BOUTIQUE", 1),
    ]
    assert await api.error_code(query, {"c": "330523"}, bureau.token) == "FORBIDDEN"
    assert await api.error_code(query, {}) == "UNAUTHENTICATED"
    assert await api.error_code(query, {}, inspector.token) == "FORBIDDEN"


def gazetteer_point(county: str) -> geo.LatLng:
    from homestay.domain.gazetteer import gazetteer

    place = gazetteer().county(county).places[0]
    return geo.LatLng(place.lat, place.lng)


async def test_a_certificate_revoked_after_the_catch_up_is_not_in_the_answer(
    api, services, inspector, bureau, monkeypatch
):
    """The page's certificates are read after the index caught up: one revoked in between is
    read as revoked, and the public rule, asked again, leaves it out."""
    _, cert = await certify(services, inspector, bureau, point_at(100, 0), "STANDARD")
    index = services.search.index
    query = SearchQuery(near=MOGANSHAN, radius_m=5000)
    assert [h.certificate.number for h in (await services.search.search(query)).hits] == [
        cert.number
    ]
    await services.certificates.change(bureau.caller, cert.number, CertificateAction.REVOKE, "x")

    async def caught_up_before_the_revocation() -> None:
        return None

    monkeypatch.setattr(index, "refresh", caught_up_before_the_revocation)
    index._kept.clear()  # the page is read from the database, after the revocation
    assert (await services.search.search(query)).hits == []


async def test_a_review_replayed_after_the_margin_is_found_by_the_next_search(
    api, services, inspector, bureau, monkeypatch
):
    """The first try of a review claimed the inspection and died before the certificate was
    written; the reviewer sends it again later. Copies that caught up meanwhile must still
    read the certificate it writes then."""
    import asyncio

    from homestay.search import caught_up

    monkeypatch.setattr(caught_up, "MARGIN", timedelta(milliseconds=200))
    stay = await services.homestays.register(
        inspector.caller,
        HomestayInput(
            name="迟到的证书",
            address="德清县莫干山镇",
            county="330521",
            location=(MOGANSHAN.lat, MOGANSHAN.lng),
            rooms=5,
        ),
    )
    results = [ResultInput(r["itemCode"], r.get("passed"), r.get("points")) for r in checklist()]
    inspection = await services.inspections.submit(
        inspector.caller,
        SubmissionInput(
            client_submission_id=str(uuid.uuid4()), homestay_id=stay.id, results=results
        ),
    )
    certificates = services.certificates
    issue = certificates._issue

    async def died(*args, **kwargs):
        raise ConnectionError("the process stopped here")

    monkeypatch.setattr(certificates, "_issue", died)
    with pytest.raises(ConnectionError):
        await certificates.review(bureau.caller, inspection.id, "APPROVE", None)
    monkeypatch.setattr(certificates, "_issue", issue)
    query = SearchQuery(near=MOGANSHAN, radius_m=1000)
    assert (await services.search.search(query)).hits == []
    await asyncio.sleep(0.5)  # past the margin: the copy's reads no longer look back to it
    assert (await services.search.search(query)).hits == []
    _, cert = await certificates.review(bureau.caller, inspection.id, "APPROVE", None)
    assert cert is not None
    hits = (await services.search.search(query)).hits
    assert [h.certificate.number for h in hits] == [cert.number]
