"""The grade lists' read model: always the certificates' rows, never behind for long."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from homestay.clock import shifted, utcnow
from homestay.domain.certificates import CertificateStatus
from homestay.domain.grades import Grade
from homestay.exports import feed, grade_list, read_model
from tests.graphql.flows import THRESHOLDS, certify, review, submit

CHANGE = """mutation($n: String!) { %s(input: {number: $n, reason: "检查"}) {
  errors { code } } }"""
RENAME = """mutation($id: ID!, $name: String!) { updateHomestay(input: {id: $id, name: $name}) {
  errors { code } } }"""


async def _listed(db, query: grade_list.ExportQuery, *, from_model: bool) -> list[dict]:
    if not from_model:
        await db.meta.delete_one({"_id": "certificate_rows"})  # read the certificates
    try:
        return [row async for batch in feed.certificate_rows(db, query, utcnow()) for row in batch]
    finally:
        if not from_model:
            await db.meta.insert_one(
                {"_id": "certificate_rows", "version": read_model.MODEL_VERSION}
            )


@pytest.fixture
async def history(api, inspector, bureau, anji_inspector, anji_bureau):
    """Certificates in every status, a renamed homestay, two counties."""
    certs = []
    for i in range(6):
        stay, cert = await certify(
            api,
            inspector.token,
            bureau.token,
            name=f"民宿{i}",
            points=THRESHOLDS["PREMIUM"] + i if i % 2 else None,
        )
        certs.append((stay, cert))
    await api.query(CHANGE % "suspendCertificate", {"n": certs[1][1]["number"]}, bureau.token)
    await api.query(CHANGE % "revokeCertificate", {"n": certs[2][1]["number"]}, bureau.token)
    again = await submit(api, inspector.token, certs[3][0]["id"])  # supersedes certs[3]
    assert (await review(api, bureau.token, again["id"]))["errors"] == []
    await api.query(RENAME, {"id": certs[4][0]["id"], "name": "改名后的民宿"}, inspector.token)
    with shifted(-timedelta(days=3 * 365 + 10)):  # one issued long ago: EXPIRED now
        await certify(api, inspector.token, bureau.token, name="老证书")
    await certify(
        api,
        anji_inspector.token,
        anji_bureau.token,
        name="安吉竹海",
        county="330523",
        address="安吉县天荒坪镇",
        location={"lat": 30.63, "lng": 119.68},
    )
    return certs


@pytest.mark.calendar
@pytest.mark.parametrize(
    "query",
    [
        grade_list.ExportQuery(counties=None),
        grade_list.ExportQuery(counties=["330521"]),
        grade_list.ExportQuery(counties=["330521"], status=CertificateStatus.VALID),
        grade_list.ExportQuery(counties=["330521"], status=CertificateStatus.EXPIRED),
        grade_list.ExportQuery(counties=["330521"], status=CertificateStatus.SUPERSEDED),
        grade_list.ExportQuery(counties=["330521", "330523"], grade=Grade.PREMIUM),
        grade_list.ExportQuery(counties=None, expiring_before=utcnow() + timedelta(days=30)),
    ],
    ids=["all", "county", "valid", "expired", "superseded", "premium", "expiring"],
)
async def test_the_read_model_lists_exactly_what_the_certificates_say(db, history, query):
    from_model = await _listed(db, query, from_model=True)
    from_certificates = await _listed(db, query, from_model=False)
    assert from_model == from_certificates
    assert from_model or query.status is CertificateStatus.EXPIRED or query.expiring_before


async def test_the_read_model_shows_every_change_at_once(db, history):
    listed = {
        r["number"]: r for r in await _listed(db, grade_list.ExportQuery(None), from_model=True)
    }
    assert listed[history[1][1]["number"]]["status"] == "SUSPENDED"
    assert listed[history[2][1]["number"]]["status"] == "REVOKED"
    assert listed[history[3][1]["number"]]["status"] == "SUPERSEDED"
    assert listed[history[4][1]["number"]]["homestayName"] == "改名后的民宿"
    assert sorted(listed) == list(listed)  # number order


async def test_an_older_row_never_replaces_a_newer_one(db, history):
    number = history[1][1]["number"]  # suspended after it was issued
    cert = await db.certificates.find_one({"_id": number})
    stale = {**cert, "status": "VALID", "updatedAt": cert["updatedAt"] - timedelta(hours=1)}
    await read_model.sync(db, [stale])  # a slower writer, arriving late
    bucket = await db.certificate_rows.find_one({"_id": read_model.bucket_of(number)})
    assert bucket["rows"][number]["status"] == "SUSPENDED"


async def test_a_row_left_behind_is_healed_by_the_reconciler(db, history):
    number = history[0][1]["number"]
    # as if the process stopped between the certificate's write and its row's
    await db.certificates.update_one(
        {"_id": number}, {"$set": {"status": "SUSPENDED", "updatedAt": utcnow()}}
    )
    bucket = await db.certificate_rows.find_one({"_id": read_model.bucket_of(number)})
    assert bucket["rows"][number]["status"] == "VALID"
    healed = await read_model.reconcile(db, utcnow() - read_model.RECONCILE_WINDOW)
    assert healed == 1  # only the row that differed is written
    assert await read_model.reconcile(db, utcnow() - read_model.RECONCILE_WINDOW) == 0
    bucket = await db.certificate_rows.find_one({"_id": read_model.bucket_of(number)})
    assert bucket["rows"][number]["status"] == "SUSPENDED"


async def test_a_database_without_the_read_model_gets_it_built_whole(db, history):
    expected = await _listed(db, grade_list.ExportQuery(None), from_model=True)
    await db.certificate_rows.delete_many({})
    await db.meta.delete_one({"_id": "certificate_rows"})
    # until it is built, lists come from the certificates, complete
    assert await _listed(db, grade_list.ExportQuery(None), from_model=True) == expected
    assert await read_model.ensure_built(db) is True
    assert await read_model.ensure_built(db) is False
    assert await _listed(db, grade_list.ExportQuery(None), from_model=True) == expected
    assert await db.certificate_rows.count_documents({}) >= 2  # two counties' buckets


def test_bucket_keys_keep_number_order():
    numbers = [
        "330521-2026-00001",
        "330521-2026-00099",
        "330521-2026-00100",
        "330521-2026-99999",
        "330521-2027-00001",
        "330523-2026-00001",
    ]
    keys = [read_model.bucket_of(n) for n in numbers]
    assert keys == sorted(keys)
    assert keys[0] == keys[1] != keys[2]


async def test_the_open_data_version_moves_when_the_rows_do_not_before(db, history):
    before = await feed.open_data_changed_at(db, utcnow())
    number = history[0][1]["number"]
    await db.certificates.update_one(
        {"_id": number}, {"$set": {"status": "SUSPENDED", "updatedAt": utcnow()}}
    )  # its row not synced yet
    assert await feed.open_data_changed_at(db, utcnow()) == before  # the feed has not moved
    await read_model.reconcile(db, utcnow() - read_model.RECONCILE_WINDOW)
    assert await feed.open_data_changed_at(db, utcnow()) > before


async def test_the_reconciler_looks_at_the_databases_recent_writes_whatever_its_own_clock(
    db, history
):
    """A process whose clock runs ten minutes ahead: its window, read by its own clock,
    would hold no write; read by the database's clock (which stamped them), it heals the row."""
    from homestay.clock import shifted
    from homestay.storage.database import stamped

    number = history[0][1]["number"]
    await db.certificates.update_one({"_id": number}, stamped({"$set": {"status": "SUSPENDED"}}))
    with shifted(timedelta(minutes=10)):
        assert await read_model.reconcile(db, utcnow() - read_model.RECONCILE_WINDOW) == 0
        assert await read_model.reconcile_recent(db) == 1
    bucket = await db.certificate_rows.find_one({"_id": read_model.bucket_of(number)})
    assert bucket["rows"][number]["status"] == "SUSPENDED"


async def test_one_pass_a_minute_of_all_processes_compares_each_change_once(db, history):
    """The reconciler's passes (one a minute, in whichever process claims it first) read
    only what was written since the last one began: a row broken before it is not looked at
    again, one broken after is healed by the next."""
    from homestay.storage.database import stamped

    first, second = history[0][1]["number"], history[1][1]["number"]
    await db.certificates.update_one({"_id": first}, stamped({"$set": {"status": "SUSPENDED"}}))
    await asyncio.sleep(1.1)  # stamped before the pass's overlap
    assert await read_model.reconcile_due(db, every_s=60) == 1
    # another process, within the minute: no pass
    assert await read_model.reconcile_due(db, every_s=60) is None
    # the row set back behind every pass's back, the certificate unchanged: a later pass
    # does not read the certificate again (it was compared once)
    await db.certificate_rows.update_one(
        {"_id": read_model.bucket_of(first)}, {"$set": {f"rows.{first}.status": "VALID"}}
    )
    await db.certificates.update_one({"_id": second}, stamped({"$set": {"status": "REVOKED"}}))
    assert await read_model.reconcile_due(db, every_s=0) == 1
    rows = {
        number: (await db.certificate_rows.find_one({"_id": read_model.bucket_of(number)}))["rows"][
            number
        ]["status"]
        for number in (first, second)
    }
    assert rows == {first: "VALID", second: "REVOKED"}


async def test_the_reconciler_compares_a_long_window_in_chunks(db, history, monkeypatch):
    monkeypatch.setattr(read_model, "RECONCILE_CHUNK", 2)
    from homestay.storage.database import stamped

    numbers = [h[1]["number"] for h in history[:5]]
    changed = await db.certificates.update_many(
        {"_id": {"$in": numbers}, "status": "VALID"}, stamped({"$set": {"status": "SUSPENDED"}})
    )
    assert changed.modified_count >= 2  # rows left behind, in more than one chunk's worth
    assert await read_model.reconcile_recent(db) == changed.modified_count
    assert await read_model.reconcile_recent(db) == 0
