"""The in-process stay index answers exactly what reading every candidate would: the same
stays, order, distances and totals, and the very next search sees every change."""

from __future__ import annotations

import asyncio
import math
import random
from datetime import timedelta

import numpy as np
import pytest

from homestay.clock import utcnow
from homestay.domain import geo
from homestay.domain.certificates import CertificateStatus, Listed
from homestay.domain.grades import ALL_GRADES, Grade
from homestay.search import service as search
from homestay.search.service import MAX_RADIUS_M, SearchQuery, SearchService, StaySort
from homestay.storage.database import stamped

CENTRE = geo.LatLng(30.60, 119.87)
COUNTIES = ["330521", "330523"]


def stays(count: int, seed: int = 3, spreads: tuple[float, ...] = (0.02, 0.2, 0.8)) -> list[dict]:
    rnd = random.Random(seed)
    now = utcnow()
    docs = []
    for n in range(count):
        # some far, most near; some exactly on top of one another (ties in distance)
        spread = rnd.choice(spreads)
        point = geo.LatLng(
            CENTRE.lat + rnd.uniform(-spread, spread), CENTRE.lng + rnd.uniform(-spread, spread)
        )
        if n % 17 == 0 and docs:
            point = geo.from_geojson(docs[-1]["listing"]["location"])
        grade = rnd.choice(ALL_GRADES)
        issued = now - timedelta(days=rnd.randint(0, 1200))
        status = rnd.choices(["VALID", "SUSPENDED", "REVOKED", "SUPERSEDED"], weights=[8, 1, 1, 1])[
            0
        ]
        docs.append(
            {
                "_id": f"{rnd.choice(COUNTIES)}-2026-{n:05d}",
                "homestayId": f"h{n:05d}",
                "county": rnd.choice(COUNTIES),
                "grade": grade.value,
                "gradeRank": grade.rank,
                "status": status,
                "current": True,
                "issuedAt": issued,
                "expiresAt": issued + timedelta(days=1095),
                "inspectionId": f"i{n}",
                "standard": {"code": "deqing-homestay", "version": 1},
                "totalPoints": 300,
                "listing": {
                    "name": rnd.choice(["竹隐", "山居", "Bamboo", "溪畔"]) + f"{n % 40:02d}",
                    "nameEn": rnd.choice([None, "Hill House"]),
                    "address": "浙江省",
                    "town": None,
                    "location": geo.geojson(point),
                    "rooms": 4,
                    "facilities": [],
                },
                "history": [
                    {
                        "at": issued,
                        "by": {"id": "t", "name": "t", "role": "BUREAU"},
                        "action": "ISSUE",
                        "from": None,
                        "to": "VALID",
                        "reason": None,
                    }
                ],
                "updatedAt": issued,
            }
        )
    return docs


@pytest.fixture
async def loaded(db, services):
    docs = stays(600)
    await db.certificates.insert_many(docs)
    return docs


def spy(method, calls: list):
    """`method`, with each call's documents added to `calls`."""

    def spied(self, docs):
        calls.extend(docs)
        return method(self, docs)

    return spied


def kept(query: SearchQuery, doc: dict) -> bool:
    """Whether a search's filters keep the certificate: listed now, of a grade asked, in the
    county asked, its name or English name holding the text (case folded)."""
    assert query.now is not None
    if not Listed(query.now).keeps(CertificateStatus(doc["status"]), doc["expiresAt"]):
        return False
    grades = set(query.grades or ALL_GRADES)
    if query.min_grade is not None:
        grades = {g for g in grades if g >= query.min_grade}
    if doc["gradeRank"] not in {g.rank for g in grades}:
        return False
    if query.county is not None and doc["county"] != query.county:
        return False
    if query.text is not None:
        text = query.text.strip().casefold()
        names = (doc["listing"]["name"], doc["listing"].get("nameEn") or "")
        return any(text in name.casefold() for name in names)
    return True


def brute_force(docs: list[dict], query: SearchQuery) -> tuple[list[tuple[str, float | None]], int]:
    """Every document read and measured exactly: what the search must answer."""
    keyed = []
    for doc in docs:
        point = geo.from_geojson(doc["listing"]["location"])
        if not kept(query, doc):
            continue
        if query.bbox is not None and not geo.in_bbox(point, query.bbox):
            continue
        distance = None
        if query.near is not None:
            distance = geo.distance_m(query.near, point)
            if distance > query.radius_m:
                continue
        origin = query.near or (
            geo.LatLng(
                (query.bbox.south + query.bbox.north) / 2, (query.bbox.west + query.bbox.east) / 2
            )
            if query.bbox
            else None
        )
        name, number = doc["listing"]["name"], doc["_id"]
        if query.sort is StaySort.DISTANCE and origin is not None:
            key = (geo.distance_m(origin, point), number)
        elif query.sort is StaySort.GRADE:
            key = (-doc["gradeRank"], distance if distance is not None else name, number)
        else:
            key = (name, number)
        keyed.append((key, number, distance))
    keyed.sort()
    return [(number, distance) for _, number, distance in keyed], len(keyed)


async def paged(
    search: SearchService, query: SearchQuery, pages: int | None = None
) -> tuple[list, int]:
    """The pages of a search, each after the last one's cursor (the first `pages` of them)."""
    seen, after, total = [], None, None
    while True:
        page = await search.search(SearchQuery(**{**query.__dict__, "after": after}))
        total = await page.count() if total is None else total
        seen += [(h.certificate.number, h.distance_m) for h in page.hits]
        pages = None if pages is None else pages - 1
        if not page.has_next or pages == 0:
            return seen, total
        after = page.hits[-1].cursor


def assert_agree(got: list, expected: list, query: SearchQuery) -> None:
    assert [n for n, _ in got] == [n for n, _ in expected[: len(got)]], query
    for (_, d), (_, want) in zip(got, expected, strict=False):
        assert (d is None) == (want is None) and (d is None or math.isclose(d, want, abs_tol=1e-6))


def random_query(rnd: random.Random, now) -> SearchQuery:
    near = bbox = None
    where = rnd.random()
    if where < 0.65:
        near = geo.LatLng(CENTRE.lat + rnd.uniform(-0.3, 0.3), CENTRE.lng + rnd.uniform(-0.3, 0.3))
    elif where < 0.9:
        south, west = CENTRE.lat + rnd.uniform(-0.5, 0.1), CENTRE.lng + rnd.uniform(-0.5, 0.1)
        bbox = geo.BBox(south, west, south + rnd.uniform(0.05, 0.5), west + rnd.uniform(0.05, 0.5))
    grades = rnd.choice([None, [Grade.PREMIUM], [Grade.STANDARD, Grade.BOUTIQUE]])
    radius = rnd.choice([1000, 5000, 20000, 50000, 100000])
    return SearchQuery(
        near=near,
        bbox=bbox,
        radius_m=radius,
        grades=grades,
        min_grade=rnd.choice([None, None, Grade.PREMIUM]),
        county=rnd.choice([None, None, "330523"]),
        text=rnd.choice([None, None, "bamboo", "山居1", "hill"]),
        sort=rnd.choice(list(StaySort)),
        first=rnd.choice([1, 7, 20]),
        now=now,
    )


# texts held by few names are looked up first; by many (over 5 here), tested in the place
# (a narrow one's stays one by one, a wide one's cells narrowed to the names holding it).
# The index built by reading every certificate (a database without the grade lists' rows),
# from the rows (in buckets, in no order: a restart), or by its first read of changes alone
# (rows built while there was nothing: these certificates were inserted around them)
# A search by name walks the name order (always, here: WALK_NAMES huge) or partitions every
# stay found (never: 0), or picks one by how many are found (the default).
@pytest.mark.parametrize(
    ("few_hits", "source", "walk"),
    [
        (2000, "certificates", 10**12),
        (5, "rows", 0),
        (2000, "changes", search.WALK_NAMES),
        (5, "certificates", 10**12),
    ],
)
async def test_the_index_agrees_with_reading_everything_on_random_queries(
    loaded, services, db, monkeypatch, few_hits, source, walk
):
    from homestay.exports import read_model
    from homestay.search import index as stay_index

    monkeypatch.setattr(stay_index, "SCAN_FROM", few_hits)
    monkeypatch.setattr(search, "WALK_NAMES", walk)
    if source == "certificates":
        await db.meta.delete_one({"_id": "certificate_rows"})
    elif source == "rows":
        await read_model.sync(db, loaded)
    built = []
    monkeypatch.setattr(stay_index.StayIndex, "_add", spy(stay_index.StayIndex._add, built))
    index = services.search.index
    await index.refresh()
    # the stays that came in bulk (the build's read), not one by one (as changes)
    assert len(index) > 0 and len(built) == (0 if source == "changes" else len(index))
    rnd = random.Random(11)
    now = utcnow()
    for _ in range(40):
        query = random_query(rnd, now)
        expected, total = brute_force(loaded, query)
        got, got_total = await paged(services.search, query)
        assert got_total == total, query
        assert len(got) == len(expected), query
        assert_agree(got, expected, query)


# a search without a place: across the province, by name (DISTANCE too: there is no origin),
# or by grade then name; paged to the end, counted, whatever the filters
@pytest.mark.parametrize("sort", list(StaySort))
@pytest.mark.parametrize(
    "given",
    [{}, {"county": "330523"}, {"text": "hill"}, {"min_grade": Grade.PREMIUM}, {"text": "竹隐0"}],
)
async def test_a_search_without_a_place_agrees_with_reading_everything(
    loaded, services, given, sort
):
    query = SearchQuery(**given, sort=sort, first=50, now=utcnow())
    expected, total = brute_force(loaded, query)
    got, got_total = await paged(services.search, query)
    assert got_total == total and total > 0
    assert got == expected  # every stay, in order, no distance


# cells made once, or again and again; by name walking the name order, or partitioning
# and a text held by over `few_hits` names found in a wide place by its cells, narrowed to
# those names (who holds it kept between searches, until a rename)
@pytest.mark.parametrize(
    ("loose_at_least", "walk", "few_hits"), [(1024, 10**12, 2000), (20, 0, 5), (1024, 10**12, 5)]
)
async def test_the_index_agrees_where_stays_crowd_and_change_between_searches(
    db, services, monkeypatch, loose_at_least, walk, few_hits
):
    """Stays crowded within a kilometre or two (the map's cells hold dozens, many wholly
    inside a circle or a viewport, counted without being looked at) while certificates are
    moved, regraded, suspended, reinstated and renewed or let expire between searches: the
    totals and the first pages are still what reading everything says."""
    from homestay.search import grid as cells
    from homestay.search import index as stay_index

    monkeypatch.setattr(cells, "LOOSE_AT_LEAST", loose_at_least)
    monkeypatch.setattr(search, "WALK_NAMES", walk)
    monkeypatch.setattr(stay_index, "SCAN_FROM", few_hits)
    docs = stays(1500, seed=8, spreads=(0.01, 0.03, 0.3))
    await db.certificates.insert_many(docs)
    rnd = random.Random(4)
    now = utcnow()
    # one kind of change at a time: each must be seen by itself
    kinds = ["move", "grade", "expiry", "status", "county", "new", "rename", "move", "status"]
    for what in [*kinds, "new", "county", "expiry", "rename", None]:
        for _ in range(6):
            query = random_query(rnd, now)
            expected, total = brute_force(docs, query)
            got, got_total = await paged(services.search, query, pages=3)
            assert got_total == total, query
            assert len(got) == min(len(expected), 3 * query.first), query
            assert_agree(got, expected, query)
        if what == "new":  # certified since: each joins its county and the name order
            added = stays(25, seed=len(docs), spreads=(0.01, 0.03))
            for n, doc in enumerate(added):
                doc["_id"] = f"{doc['county']}-2027-{len(docs) + n:05d}"
                doc["homestayId"] = f"h{len(docs) + n:05d}"
                doc["status"], doc["updatedAt"] = "VALID", utcnow()
            await db.certificates.insert_many(added)
            docs.extend(added)
            continue
        for doc in rnd.sample(docs, 25 if what else 0):
            change: dict = {"updatedAt": utcnow()}
            if what == "move":
                point = geo.LatLng(
                    CENTRE.lat + rnd.uniform(-0.02, 0.02), CENTRE.lng + rnd.uniform(-0.02, 0.02)
                )
                change["listing.location"] = geo.geojson(point)
                doc["listing"]["location"] = geo.geojson(point)
            elif what == "rename":
                name = rnd.choice(["竹隐", "山居", "Bamboo", "溪畔"]) + f"{rnd.randint(0, 60):02d}"
                change["listing.name"] = name
                doc["listing"]["name"] = name
            elif what == "grade":
                grade = rnd.choice(ALL_GRADES)
                change.update(grade=grade.value, gradeRank=grade.rank)
            elif what == "county":
                change["county"] = COUNTIES[1 - COUNTIES.index(doc["county"])]
            elif what == "status":
                change["status"] = rnd.choice(["VALID", "VALID", "SUSPENDED", "REVOKED"])
            else:  # renewed for a while, or expired an hour ago
                change["expiresAt"] = now + timedelta(hours=rnd.choice([-1, 1, 24 * 400]))
            doc.update({k: v for k, v in change.items() if not k.startswith("listing.")})
            await db.certificates.update_one({"_id": doc["_id"]}, {"$set": change})


async def test_two_processes_see_each_others_changes_in_the_very_next_search(loaded, db, settings):
    from homestay.services.registry import Services

    first, second = Services.build(settings, db), Services.build(settings, db)
    query = SearchQuery(near=CENTRE, radius_m=100_000, first=100, now=utcnow())
    before = {h.certificate.number for h in (await first.search.search(query)).hits}
    await second.search.search(query)  # both built
    # a change written as another process writes it: the document, with its updatedAt
    listed = next(d for d in loaded if d["status"] == "VALID" and d["_id"] in before)
    await db.certificates.update_one(
        {"_id": listed["_id"]},
        {"$set": {"status": CertificateStatus.SUSPENDED.value, "updatedAt": utcnow()}},
    )
    moved = next(d for d in loaded if d["status"] == "VALID" and d["_id"] != listed["_id"])
    await db.certificates.update_one(
        {"_id": moved["_id"]},
        {"$set": {"listing.location": geo.geojson(CENTRE), "updatedAt": utcnow()}},
    )
    for services in (first, second):
        page = await services.search.search(
            SearchQuery(near=CENTRE, radius_m=100_000, first=100, now=utcnow())
        )
        numbers = [h.certificate.number for h in page.hits]
        assert listed["_id"] not in numbers
        assert page.hits[0].distance_m == 0.0 and moved["_id"] in numbers[:5]
    # and back: reinstated, it is found again by both
    await db.certificates.update_one(
        {"_id": listed["_id"]},
        {"$set": {"status": CertificateStatus.VALID.value, "updatedAt": utcnow()}},
    )
    for services in (first, second):
        page = await services.search.search(
            SearchQuery(near=CENTRE, radius_m=100_000, first=100, now=utcnow())
        )
        assert listed["_id"] in {h.certificate.number for h in page.hits} | {
            n for n in [listed["_id"]] if await page.count() > 100
        }


async def test_a_certificate_kept_for_its_page_shows_any_change_in_the_very_next_search(
    loaded, db, settings
):
    """Pages' certificates are kept whole in each process; a change to a field the index
    itself does not hold (the rooms, the points) shows at once in both processes."""
    from homestay.services.registry import Services

    first, second = Services.build(settings, db), Services.build(settings, db)
    query = SearchQuery(near=CENTRE, radius_m=100_000, first=20)
    shown = (await first.search.search(query)).hits[0].certificate
    assert (await second.search.search(query)).hits[0].certificate.number == shown.number
    await db.certificates.update_one(
        {"_id": shown.number},
        {"$set": {"listing.rooms": 9, "totalPoints": 412, "updatedAt": utcnow()}},
    )
    for services in (first, second):
        again = (await services.search.search(query)).hits[0].certificate
        assert again.number == shown.number
        assert again.listing is not None and again.listing.rooms == 9
        assert again.total_points == 412


async def test_a_read_older_than_the_index_knows_is_not_used_for_a_page(loaded, services, db):
    """A page's read that raced a write may come back, and be kept, older than the change
    the index has since seen: it is read again rather than shown."""
    index = services.search.index
    query = SearchQuery(near=CENTRE, radius_m=100_000, first=1)
    shown = (await services.search.search(query)).hits[0].certificate
    stale_stamp, _ = index._kept[shown.number]
    await db.certificates.update_one(
        {"_id": shown.number}, {"$set": {"totalPoints": 401, "updatedAt": utcnow()}}
    )
    await index.refresh()  # the index sees the write...
    index._kept[shown.number] = (stale_stamp, shown)  # ...and a racing read keeps the old
    assert (await services.search.search(query)).hits[0].certificate.total_points == 401


async def test_a_stay_expiring_leaves_the_search_without_a_write(loaded, services):
    valid = [d for d in loaded if d["status"] == "VALID"]
    soonest = min(valid, key=lambda d: d["expiresAt"])
    query = dict(near=geo.from_geojson(soonest["listing"]["location"]), radius_m=1, first=100)
    before = await services.search.search(
        SearchQuery(**query, now=soonest["expiresAt"] - timedelta(seconds=1))
    )
    after = await services.search.search(SearchQuery(**query, now=soonest["expiresAt"]))
    assert soonest["_id"] in {h.certificate.number for h in before.hits}
    assert soonest["_id"] not in {h.certificate.number for h in after.hits}


@pytest.mark.parametrize("beside", [0, 10_000])
def test_the_text_haystack_finds_what_a_test_of_each_name_finds(monkeypatch, beside):
    """Built in chunks, changed in place, grown past its end; searched by scanning the whole
    text and by testing each slot: both say what `in` on each slot's names says, with the
    changes joined into the text first (beside: 0) or tested beside it."""
    import numpy as np

    from homestay.search import names as name_module
    from homestay.search.names import NameMatcher

    monkeypatch.setattr(name_module, "BESIDE_AT_MOST", beside)

    rnd = random.Random(7)
    words = ["竹", "山居", "Bamboo", "HILL", "溪", "小院", "Ｓｔａｙ", "cafe"]
    rare = [*words, "𠮷"]  # past U+FFFF: the names' code points then take four bytes

    def names(chinese: list[str], english: list[str]) -> tuple[str, str]:
        return "".join(rnd.choices(chinese, k=2)), " ".join(rnd.choices(english, k=2))

    # all at once in numpy (code points of 1, 2 or 4 bytes), or each slot tested; English
    # names of any characters, or all ASCII (a Chinese text then looked for in names only)
    for scan_from, chinese, english in [
        (0, words, words),
        (0, rare, rare),
        (10_000, rare, rare),
        (0, words, ["Bamboo", "HILL", "cafe 1"]),
    ]:
        hay = NameMatcher(scan_from=scan_from)
        truth: dict[int, tuple[str, str]] = {}
        for start in range(0, 3000, 1000):  # a build: contiguous chunks in slot order
            chunk = list(range(start, start + 1000))
            pairs = [names(chinese, english) for _ in chunk]
            hay.put(chunk, pairs)
            truth.update(zip(chunk, pairs, strict=True))
        for slot in rnd.sample(range(3000), 200) + [3500, 3001]:  # renames, new slots beyond
            truth[slot] = names(chinese, english)
            hay.put([slot], [truth[slot]])
        hay.put([5], [truth[5]])  # the same again: nothing to change
        slots = np.array(sorted(rnd.sample(sorted(truth), 1500)), dtype=np.int64)
        for text in ["竹", "bamboo", "hill", "山居竹", "stay", "caf", "zzz", "\x1e", "e 1", "𠮷竹"]:
            expected = [
                text != "\x1e" and any(text in n.casefold() for n in truth[s])
                for s in slots.tolist()
            ]
            assert hay.matching(text, slots).tolist() == expected, (scan_from, text)
            # and every slot holding it, found across the text (a search's text first)
            every = np.arange(3501, dtype=np.int64)
            hits = hay.hits(text, at_most=10_000)
            assert hits is not None
            assert hits.tolist() == np.flatnonzero(hay.matching(text, every)).tolist()
            # every holder at once, and again (kept)
            for _ in range(2):
                assert np.flatnonzero(hay.containing(text)).tolist() == hits.tolist(), text
        assert hay.hits("竹", at_most=5) is None  # too many: the place's stays are tested
        # a rename after: who holds a text kept is found again
        for slot in range(10):
            truth[slot] = ("竹" if slot % 2 else "溪", "cafe")
            hay.put([slot], [truth[slot]])
        for text in ["竹", "cafe"]:
            holders = [s for s in sorted(truth) if any(text in n.casefold() for n in truth[s])]
            assert np.flatnonzero(hay.containing(text)).tolist() == holders


async def test_once_nothing_has_changed_for_the_margin_the_read_of_changes_returns_nothing(
    loaded, services, db, monkeypatch
):
    """Every write stamped MARGIN before a read began had committed, and was read: so the
    newest change is not read again and again by every search, yet the next change is."""
    import asyncio

    from homestay.search import caught_up

    monkeypatch.setattr(caught_up, "MARGIN", timedelta(milliseconds=300))
    index = services.search.index
    returned: list[int] = []
    see = index._apply_all
    monkeypatch.setattr(
        index, "_apply_all", lambda docs: (returned.append(len(docs)), see(docs))[1]
    )
    await index.refresh()
    valid = [d for d in loaded if d["status"] == "VALID"]

    async def change(doc: dict) -> None:
        await db.certificates.update_one(
            {"_id": doc["_id"]}, {"$set": {"listing.name": "新名字", "updatedAt": utcnow()}}
        )

    for doc in valid[:2]:
        await change(doc)
        returned.clear()
        await index.refresh()
        await index.refresh()
        assert returned == [1, 1]  # within the margin: read again
        await asyncio.sleep(0.4)
        await index.refresh()  # began after the margin: the last read that must look back
        await index.refresh()
        assert returned[2:] == [1, 0]
        page = await services.search.search(
            SearchQuery(near=geo.from_geojson(doc["listing"]["location"]), radius_m=1)
        )
        assert doc["_id"] in {
            h.certificate.number
            for h in page.hits
            if h.certificate.listing and h.certificate.listing.name == "新名字"
        }


async def test_a_change_moves_one_stay_in_the_name_order_instead_of_sorting_every_name(
    loaded, services, db
):
    """A stay renamed, removed or certified is moved in the order the index keeps by name
    (at 200,000 stays, sorting every name again took 0.3 s of the next search by name)."""
    index = services.search.index
    now = utcnow()
    query = SearchQuery(near=CENTRE, radius_m=100_000, sort=StaySort.NAME, first=7, now=now)
    await services.search.search(query)
    valid = [d for d in loaded if d["status"] == "VALID"]
    renamed, revoked = valid[0], valid[1]
    reinstated = next(d for d in loaded if d["status"] == "SUSPENDED")
    changes = [
        (renamed, {"listing.name": "Aaa 改名"}),
        (revoked, {"status": "REVOKED"}),
        (reinstated, {"status": "VALID"}),
    ]
    for doc, change in changes:
        await db.certificates.update_one(
            {"_id": doc["_id"]}, {"$set": {**change, "updatedAt": utcnow()}}
        )
    renamed["listing"]["name"] = "Aaa 改名"
    revoked["status"], reinstated["status"] = "REVOKED", "VALID"
    await index.refresh()
    assert index._by_name.built  # kept, and moved
    expected, total = brute_force(loaded, query)
    got, got_total = await paged(services.search, query)
    assert got_total == total and len(got) == len(expected)
    assert_agree(got, expected, query)


def test_a_stay_read_twice_while_the_index_is_built_is_one_stay():
    """A certificate written while the build's read runs may be read again: the later read
    is applied as a change (moved, renamed), never a second stay. The build reads rows of
    the grade lists' read model, which name the grade only (no rank)."""
    from homestay.search.index import StayIndex

    first, second, third = stays(3, seed=11)
    for doc in (first, second, third):
        doc["status"] = "VALID"
    moved = {
        **first,
        "listing": {**first["listing"], "name": "云栖", "location": geo.geojson(CENTRE)},
        "updatedAt": first["updatedAt"] + timedelta(seconds=1),
    }
    for doc in (moved, third):
        del doc["gradeRank"]  # as a row is
    index = StayIndex(None)  # type: ignore[arg-type]  # fed by hand: no database
    index._fill([first, second])
    index._fill([moved, third, third])
    found = index.find(
        now=utcnow(),
        ranks=frozenset(g.rank for g in ALL_GRADES),
        county=None,
        text=None,
        bbox=None,
        origin=CENTRE,
        radius_m=math.inf,
    )
    assert len(index) == 3 and found.total == 3
    nearest = found.nearest(3, None)
    assert nearest[0] == (0.0, first["_id"])  # where it moved to
    for doc in (first, third):
        assert index.rank[index.slot(doc["_id"])] == Grade(doc["grade"]).rank
    assert (
        index.find(
            now=utcnow(),
            ranks=frozenset(g.rank for g in ALL_GRADES),
            county=None,
            text="云栖",
            bbox=None,
            origin=CENTRE,
            radius_m=math.inf,
        ).total
        == 1
    )


def test_which_stays_a_place_holds_is_what_it_lists_after_the_cells_were_made(monkeypatch):
    """`holds` (what a search by name walking the name order asks of each stay) says of every
    slot what `slots()` lists, also of stays added one by one after the cells were made, past
    the slots the cells knew."""
    from homestay.search import grid as cells
    from homestay.search.index import StayIndex

    monkeypatch.setattr(cells, "LOOSE_AT_LEAST", 10**6)  # the cells are not made again
    docs = stays(1400, seed=5)
    for doc in docs:
        doc["status"] = "VALID"
    index = StayIndex(None)  # type: ignore[arg-type]  # fed by hand: no database
    index._fill(docs[:200])
    index._fit()
    index.cells()
    known = len(index.cells().cell_of)
    for doc in docs[200:]:
        index._apply(doc)  # a change: a new stay, loose
    assert index._used > known  # some slots are past what the cells knew
    rnd = random.Random(2)
    every = np.arange(index._used)
    for _ in range(30):
        found = index.find(
            now=utcnow(),
            ranks=frozenset(g.rank for g in rnd.sample(ALL_GRADES, rnd.randint(1, 3))),
            county=None,
            text=None,
            bbox=None,
            origin=geo.LatLng(
                CENTRE.lat + rnd.uniform(-0.3, 0.3), CENTRE.lng + rnd.uniform(-0.3, 0.3)
            ),
            radius_m=rnd.choice([1000, 5000, 20000, 50000]),
        )
        assert len(index.cells().cell_of) == known  # the same cells
        assert (found.contains(every) == np.isin(every, found.slots())).all()
        assert found.contains(every).sum() == found.total


def test_what_the_index_keeps_of_removed_stays_is_pruned_once_no_read_can_need_it():
    from datetime import UTC, datetime

    from homestay.search.index import StayIndex

    index = StayIndex(db=None)  # type: ignore[arg-type]  # nothing is read here
    now = datetime.now(UTC)

    def removed(number: str, at: datetime) -> dict:
        return {
            "_id": number,
            "status": "REVOKED",
            "county": "330521",
            "grade": "STANDARD",
            "expiresAt": now + timedelta(days=300),
            "updatedAt": at,
            "listing": {"name": number},
        }

    for i in range(5000):
        index._apply(removed(f"old-{i}", now - timedelta(hours=1)))
    for i in range(10):
        index._apply(removed(f"new-{i}", now))
    index._forget_before(now - timedelta(minutes=1))
    assert sorted(index._removed) == sorted(f"new-{i}" for i in range(10))


async def test_a_backlog_larger_than_one_read_is_applied_in_chunks_and_agrees(
    loaded, db, services, settings, monkeypatch
):
    """Every certificate touched at once (a migration): the catch-up applies them in chunks
    through one cursor, and the index then answers as one built from nothing does."""
    import asyncio

    from homestay.search import caught_up

    monkeypatch.setattr(caught_up, "CATCH_UP_CHUNK", 37)
    index = services.search.index
    await index.refresh()
    chunks: list[int] = []
    see = index._apply_all
    monkeypatch.setattr(index, "_apply_all", lambda docs: (chunks.append(len(docs)), see(docs))[1])
    rnd = random.Random(5)
    for doc in loaded:
        change = {"listing.name": f"改名{rnd.randint(0, 99):02d}"}
        if rnd.random() < 0.2:
            change["status"] = rnd.choice(["VALID", "REVOKED"])
        await db.certificates.update_one({"_id": doc["_id"]}, stamped({"$set": change}))
    # twenty searches at once share one catch-up (and perhaps the one after it)
    await asyncio.gather(*(index.refresh() for _ in range(20)))
    assert sum(chunks) <= 2 * len(loaded) + 2 * 37
    assert max(chunks) == 37 and len(chunks) >= len(loaded) // 37
    rebuilt = SearchService(db)  # another process, started now: built from nothing
    for text in (None, "改名1", "改名42"):
        query = SearchQuery(near=CENTRE, radius_m=MAX_RADIUS_M, first=100, text=text, now=utcnow())
        assert await paged(services.search, query) == await paged(rebuilt, query)


async def test_a_county_search_where_nothing_is_listed_finds_nothing(services):
    """A new deployment, no stay listed yet: a search by county answers an empty page (the
    pools by county are made of no stays)."""
    page = await services.search.search(SearchQuery(county="330521", first=20, now=utcnow()))
    assert page.hits == [] and not page.has_next
    assert await page.count() == 0


async def test_a_catch_up_cut_short_leaves_no_change_behind(loaded, db, services, monkeypatch):
    """A catch-up whose cursor fails half-way (a dropped connection) has applied some changes
    and not others, and the cursor walks in no order (here: newest first, as a sharded
    cluster may merge them): the next catch-up still reads every change it missed, and the
    index then answers as one built from nothing does."""
    from pymongo.errors import AutoReconnect

    from homestay.search import caught_up

    monkeypatch.setattr(caught_up, "CATCH_UP_CHUNK", 10)
    monkeypatch.setattr(caught_up, "MARGIN", timedelta(milliseconds=1))
    index = services.search.index
    await index.refresh()
    for i, doc in enumerate(loaded[:60]):
        change = {"listing.name": f"断线{i:02d}"}
        await db.certificates.update_one({"_id": doc["_id"]}, stamped({"$set": change}))
        await asyncio.sleep(0.003)  # each its own stamp

    class NewestFirst:
        def __init__(self, collection):
            self.collection = collection

        def find(self, *args, **kwargs):
            return self.collection.find(*args, **kwargs).sort("updatedAt", -1)

    monkeypatch.setattr(index, "_collection", lambda: NewestFirst(db.certificates))
    apply, calls = index._apply_all, []

    def dropped_after_one_chunk(docs):
        calls.append(len(docs))
        if len(calls) == 2:
            raise AutoReconnect("connection closed")
        return apply(docs)

    monkeypatch.setattr(index, "_apply_all", dropped_after_one_chunk)
    with pytest.raises(AutoReconnect):
        await index.refresh()
    monkeypatch.setattr(index, "_apply_all", apply)
    await index.refresh()
    rebuilt = SearchService(db)  # another process, started now: built from nothing
    for text in (None, "断线"):
        query = SearchQuery(near=CENTRE, radius_m=MAX_RADIUS_M, first=100, text=text, now=utcnow())
        assert await paged(services.search, query) == await paged(rebuilt, query)


async def test_a_rename_storm_while_searching_each_rename_is_in_the_next_search(
    loaded, db, services
):
    """Renames written one after another while four other clients search without pause:
    each rename, once acknowledged, is found by its new name in the very next search (the
    shared catch-up is never one that began before the write), and at the end the index
    answers as one built from nothing does."""
    import asyncio

    from homestay.storage.database import stamped

    now = utcnow()
    listed = [
        d for d in loaded if d["status"] == "VALID" and d["expiresAt"] > now + timedelta(days=1)
    ][:40]
    stop = asyncio.Event()

    async def crowd(seed: int) -> int:
        rnd, searched = random.Random(seed), 0
        while not stop.is_set():
            query = SearchQuery(
                near=CENTRE,
                radius_m=rnd.choice([5_000, 50_000]),
                first=20,
                text=rnd.choice([None, "风暴", "山居"]),
                now=utcnow(),
            )
            await services.search.search(query)
            searched += 1
        return searched

    crowds = [asyncio.create_task(crowd(seed)) for seed in range(4)]
    try:
        for i, doc in enumerate(listed):
            name = f"风暴{i:03d}号"
            await db.certificates.update_one(
                {"_id": doc["_id"]}, stamped({"$set": {"listing.name": name}})
            )
            found = await services.search.search(
                SearchQuery(near=CENTRE, radius_m=MAX_RADIUS_M, first=5, text=name, now=utcnow())
            )
            assert [h.certificate.number for h in found.hits] == [doc["_id"]], name
    finally:
        stop.set()
        searched = await asyncio.gather(*crowds)
    assert min(searched) > 0  # the others searched meanwhile
    rebuilt = SearchService(db)
    for text in (None, "风暴", "风暴01", "山居"):
        query = SearchQuery(near=CENTRE, radius_m=MAX_RADIUS_M, first=100, text=text, now=utcnow())
        assert await paged(services.search, query) == await paged(rebuilt, query)


async def test_a_backlog_longer_than_the_wait_is_answered_from_what_is_applied(
    loaded, db, services, monkeypatch
):
    """Every certificate touched at once, a fifth revoked, and the catch-up slower than a
    request may wait: searches meanwhile answer (no error, no revoked stay on a page) from
    what is applied so far, the backlog goes on in the background, and once it is done the
    index answers as one built from nothing does."""
    import time

    from homestay.search import caught_up
    from homestay.storage.database import stamped

    monkeypatch.setattr(caught_up, "CATCH_UP_CHUNK", 20)
    monkeypatch.setattr(caught_up, "CATCH_UP_WAIT_S", 0.2)
    index = services.search.index
    await index.refresh()
    apply = index._apply_all

    def slowly(docs):
        time.sleep(0.05)  # a slow server's chunk: 30 of them, 1.5 s in all
        return apply(docs)

    monkeypatch.setattr(index, "_apply_all", slowly)
    rnd, revoked = random.Random(11), set()
    for doc in loaded:
        change: dict = {"listing.priceMin": rnd.randint(100, 900)}
        if doc["status"] == "VALID" and rnd.random() < 0.2:
            change["status"] = "REVOKED"
            revoked.add(doc["_id"])
        await db.certificates.update_one({"_id": doc["_id"]}, stamped({"$set": change}))
    query = SearchQuery(near=CENTRE, radius_m=MAX_RADIUS_M, first=100, now=utcnow())
    shown = [h.certificate.number for h in (await services.search.search(query)).hits]
    assert index.answered_behind >= 1 and not index._catching.done()  # the backlog goes on
    assert shown and not set(shown) & revoked
    await index._catching
    rebuilt = SearchService(db)
    assert await paged(services.search, query) == await paged(rebuilt, query)
