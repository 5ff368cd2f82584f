"""The finder's copy in each process: exact in the very next request of any process."""

from __future__ import annotations

import pytest

from homestay.auth import Role
from homestay.clock import utcnow
from homestay.services.homestays import HomestayInput
from homestay.services.registry import Services


async def test_two_processes_find_each_others_registrations_renames_and_certificates(
    db, settings, make_staff
):
    inspector = (await make_staff(Role.INSPECTOR, "330521")).caller
    first, second = Services.build(settings, db), Services.build(settings, db)

    async def found(
        services: Services, text: str | None = None, certified: bool | None = None
    ) -> list[str]:
        page, _, count = await services.homestays.find(
            inspector,
            county=None,
            text=text,
            certified=certified,
            now=utcnow(),
            first=50,
            after=None,
        )
        assert await count() == len(page)
        return [h.listing.name for h, _ in page]

    assert await found(second) == []  # built, empty
    stay = await first.homestays.register(
        inspector,
        HomestayInput(
            name="竹隐山居",
            address="德清县莫干山镇劳岭村8号",
            county="330521",
            rooms=3,
            location=(30.5751, 119.8779),
        ),
    )
    assert await found(second, "劳岭") == ["竹隐山居"]
    await first.homestays.update(inspector, stay.id, HomestayInput(name="溪畔小筑"))
    assert await found(second, "溪畔") == ["溪畔小筑"]
    assert await found(second, "竹隐") == []
    assert await found(second, certified=True) == []
    # a certificate's VALID status reaches the other process's `certified` at once
    await db.homestays.update_one(
        {"_id": stay.id},
        {"$set": {"listedUntil": utcnow().replace(year=utcnow().year + 1), "updatedAt": utcnow()}},
    )
    assert await found(second, certified=True) == ["溪畔小筑"]


@pytest.mark.parametrize("settle_at", [3, 50, 100_000])
def test_the_copy_agrees_with_testing_every_homestay_on_random_queries(monkeypatch, settle_at):
    """Built, then changed between rounds of queries (renamed, re-described, moved to another
    county, listed or not, registered): the changes found beside the name order (merged into
    it every 3 or 50, or never) or in it."""
    import random
    from datetime import timedelta

    from homestay.domain.finding import searchable
    from homestay.search import finder
    from homestay.search.finder import FinderIndex

    monkeypatch.setattr(finder, "SETTLE_AT", settle_at)

    rng = random.Random(5)
    now = utcnow()
    chars = "竹溪云山莫干村镇德清AbBa "
    docs = [
        {
            "_id": f"h{i:03d}",
            "county": rng.choice(["330521", "330523"]),
            "name": "".join(rng.choices(chars, k=4)),
            "listedUntil": now + timedelta(days=rng.choice([-1, 1]))
            if rng.random() < 0.5
            else None,
            "updatedAt": now,
        }
        for i in range(300)
    ]
    for doc in docs:
        doc["findText"] = searchable(doc["name"], "".join(rng.choices(chars, k=8)))
    index = FinderIndex(None)  # type: ignore[arg-type]  # fed by hand: no database
    index._fill(docs[:200])  # a build, then changes
    index._ordered()
    index._apply_all(docs[200:])
    for round_ in range(8):
        _agree(index, docs, rng, chars, now)
        for doc in rng.sample(docs, 12):
            what = rng.choice(["name", "text", "county", "listed"])
            if what == "name":
                doc["name"] = "".join(rng.choices(chars, k=4))
            if what in ("name", "text"):
                doc["findText"] = searchable(doc["name"], "".join(rng.choices(chars, k=8)))
            elif what == "county":
                doc["county"] = "330523" if doc["county"] == "330521" else "330521"
            else:
                doc["listedUntil"] = now + timedelta(days=1) if not doc["listedUntil"] else None
            index._apply_all([dict(doc)])
        fresh = {"_id": f"h{300 + round_:03d}", "county": "330521", "listedUntil": None}
        fresh["name"] = "".join(rng.choices(chars, k=4))
        fresh["findText"] = searchable(fresh["name"], "")
        docs.append(fresh)
        index._apply_all([dict(fresh)])
    _agree(index, docs, rng, chars, now)


def _agree(index, docs, rng, chars, now) -> None:
    from homestay.domain.finding import fold

    for _ in range(40):
        text = fold("".join(rng.choices(chars, k=rng.randint(2, 3))))
        if rng.random() < 0.2:
            text = None  # every homestay, in name order
        counties = rng.choice([None, {"330521"}])
        certified = rng.choice([None, True, False])
        want = sorted(
            (d["name"], d["_id"])
            for d in docs
            if (text is None or text in d["findText"])
            and (counties is None or d["county"] in counties)
            and (
                certified is None
                or (d["listedUntil"] is not None and d["listedUntil"] > now) == certified
            )
        )
        got = index.find(
            counties=counties,
            ids=None,
            text=text,
            certified=certified,
            now=now,
            after=None,
            limit=None,
        )
        assert got == [key for _, key in want], text
        if len(want) > 3:  # and page by page from a cursor
            page = index.find(
                counties=counties,
                ids=None,
                text=text,
                certified=certified,
                now=now,
                after=want[1],
                limit=2,
            )
            assert page == [key for _, key in want[2:4]]


async def test_a_database_from_before_the_finder_is_made_findable_once(db, api, make_staff):
    from homestay.services.homestays import ensure_findable
    from tests.graphql.flows import certify, register

    inspector = await make_staff(Role.INSPECTOR, "330521", "Inspector Wang")
    bureau = await make_staff(Role.BUREAU, "330521", "Reviewer Li")
    await certify(api, inspector.token, bureau.token, name="竹隐山居")
    await register(api, inspector.token, name="溪语小院")
    # as an older version stored them: no finder fields at all
    await db.homestays.update_many({}, {"$unset": {"findText": "", "listedUntil": ""}})
    await db.meta.delete_one({"_id": "homestay_finder"})

    assert await ensure_findable(db) == 2
    stored = {d["name"]: d async for d in db.homestays.find({})}
    assert stored["竹隐山居"]["listedUntil"] is not None  # its certificate is VALID
    assert stored["溪语小院"]["listedUntil"] is None
    assert "竹隐" in stored["竹隐山居"]["findText"]
    assert await ensure_findable(db) == 0  # once


def test_a_homestay_read_twice_while_the_copy_is_built_is_one_homestay():
    """A homestay written while the build's read runs may be read again (an index scan
    meets it twice): the later read is applied as a change, not a second homestay."""
    from homestay.domain.finding import searchable
    from homestay.search.finder import FinderIndex

    now = utcnow()

    def homestay(key: str, name: str) -> dict:
        return {
            "_id": key,
            "county": "330521",
            "name": name,
            "findText": searchable(name, ""),
            "listedUntil": None,
            "updatedAt": now,
        }

    index = FinderIndex(None)  # type: ignore[arg-type]  # fed by hand: no database
    index._fill([homestay("h1", "竹隐山居"), homestay("h2", "溪畔小筑")])
    index._fill([homestay("h1", "云栖竹隐"), homestay("h3", "山月"), homestay("h3", "山月")])

    def found(text: str | None) -> list[str]:
        return index.find(
            counties=None, ids=None, text=text, certified=None, now=now, after=None, limit=None
        )

    assert len(index) == 3
    assert found(None) == ["h1", "h3", "h2"]  # 云栖竹隐, 山月, 溪畔小筑: in name order
    assert found("竹隐") == ["h1"]
    assert found("山居") == []


def test_a_homestay_renamed_to_before_a_cursor_is_not_found_at_its_old_place():
    """Renamed from the end of the name order to its start: a page after a cursor between
    the two places lists it nowhere (its new name is before the cursor, its old place is
    left), though nothing renamed since falls after the cursor."""
    from homestay.search.finder import FinderIndex

    now = utcnow()
    docs = [
        {"_id": f"h{i}", "county": "330521", "name": name, "findText": name.casefold()}
        for i, name in enumerate(["B山居", "C山居", "D山居", "Z山居"])
    ]
    index = FinderIndex(None)  # type: ignore[arg-type]  # fed by hand: no database
    index._fill(docs)
    index._ordered()
    index._apply_all([{**docs[3], "name": "A山居", "findText": "a山居"}])

    def page(after):
        return index.find(
            counties=None, ids=None, text=None, certified=None, now=now, after=after, limit=None
        )

    assert page(None) == ["h3", "h0", "h1", "h2"]
    assert page(("B山居", "h0")) == ["h1", "h2"]
