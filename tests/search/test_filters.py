"""Each filter is one object with two forms, for a document in hand and for MongoDB: the two
must choose the same certificates, at the edges too (expiring this instant, every status).
(A search's filters have one form: the stay index's, checked against reading everything in
tests/search/test_index.py.)"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from homestay.domain.certificates import CertificateStatus, Listed
from homestay.domain.grades import ALL_GRADES, Grade
from homestay.exports import grade_list

NOW = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
# what can be stored: EXPIRED is never stored, it is read from the expiry (the validator's enum)
STORED = [s for s in CertificateStatus if s is not CertificateStatus.EXPIRED]
NAMES = ["竹隐山居", "Bamboo Inn", "莫干山·云舍", "山居", "bamboo HOUSE", "溪畔"]


def certificates(n: int = 300) -> list[dict]:
    rnd = random.Random(7)
    docs = []
    for i in range(n):
        grade = rnd.choice(ALL_GRADES)
        issued = NOW - timedelta(days=rnd.randint(0, 1200), milliseconds=rnd.choice([0, 1]))
        expires = rnd.choice(
            [
                NOW,
                NOW - timedelta(milliseconds=1),
                NOW + timedelta(milliseconds=1),
                NOW + timedelta(days=rnd.randint(-400, 400)),
            ]
        )
        docs.append(
            {
                "_id": f"330521-2026-{i:05d}",
                "status": rnd.choice(STORED).value,
                "grade": grade.value,
                "gradeRank": grade.rank,
                "county": rnd.choice(["330521", "330523"]),
                "issuedAt": issued,
                "expiresAt": expires,
                "listing": {"name": rnd.choice(NAMES), "nameEn": rnd.choice([None, "Hill House"])},
            }
        )
    return docs


@pytest.fixture
async def scratch(db):
    collection = db.db["filter_cases"]
    docs = certificates()
    await collection.insert_many(docs)
    return collection, docs


async def chosen(collection, flt: dict) -> set[str]:
    return {d["_id"] async for d in collection.find(flt, {"_id": 1})}


async def test_the_listed_rule_says_the_same_in_python_and_in_mongodb(scratch):
    collection, docs = scratch
    listed = Listed(NOW)
    in_python = {
        d["_id"] for d in docs if listed.keeps(CertificateStatus(d["status"]), d["expiresAt"])
    }
    assert in_python and in_python != {d["_id"] for d in docs}
    assert await chosen(collection, listed.mongo()) == in_python


@pytest.mark.parametrize(
    "query",
    [
        grade_list.ExportQuery(counties=None),
        grade_list.ExportQuery(counties=["330521"], status=CertificateStatus.VALID),
        grade_list.ExportQuery(counties=None, status=CertificateStatus.EXPIRED),
        grade_list.ExportQuery(counties=None, status=CertificateStatus.SUSPENDED),
        grade_list.ExportQuery(counties=None, status=CertificateStatus.REVOKED),
        grade_list.ExportQuery(counties=["330523"], grade=Grade.BOUTIQUE),
        grade_list.ExportQuery(counties=None, expiring_before=NOW + timedelta(days=30)),
        grade_list.ExportQuery(
            counties=None, issued_from=NOW - timedelta(days=100), issued_to=NOW - timedelta(days=10)
        ),
    ],
)
async def test_the_export_filter_says_the_same_in_python_and_in_mongodb(scratch, query):
    collection, docs = scratch
    assert await chosen(collection, query.filter(NOW)) == {
        d["_id"] for d in docs if query.matches(d, NOW)
    }
