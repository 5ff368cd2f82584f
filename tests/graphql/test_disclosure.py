"""What the public sees: one rule, whichever field or feed it asks."""

from __future__ import annotations

from homestay.auth import PUBLIC
from homestay.domain.certificates import CertificateStatus
from homestay.domain.disclosure import (
    PUBLIC_CERTIFICATE_FIELDS,
    PUBLIC_LISTING_FIELDS,
    homestay_is_public,
    sees_homestay,
)
from tests.conftest import key
from tests.graphql.flows import certify, register

CERTIFICATE = """query($n: String!) { certificate(number: $n) {
  number status grade totalPoints homestay { id name address } inspection { id }
  history { action } } }"""
HOMESTAY = """query($id: ID!) { homestay(id: $id) { id name address certificate { number } } }"""
SUSPEND = """mutation($n: String!) { suspendCertificate(input: {number: $n, reason: "投诉"}) {
  errors { code } } }"""


def test_only_a_valid_certificate_makes_a_homestay_public() -> None:
    assert homestay_is_public(CertificateStatus.VALID)
    for status in (
        None,
        CertificateStatus.SUSPENDED,
        CertificateStatus.REVOKED,
        CertificateStatus.EXPIRED,
        CertificateStatus.SUPERSEDED,
    ):
        assert not homestay_is_public(status)
        assert not sees_homestay(PUBLIC, "330521", "h1", status)
    assert not PUBLIC_CERTIFICATE_FIELDS & {"totalPoints", "inspection", "history", "inspector"}


async def test_the_public_sees_no_score_of_a_certificate(api, inspector, bureau):
    _, cert = await certify(api, inspector.token, bureau.token)
    public = (await api.query(CERTIFICATE, {"n": cert["number"]}))["certificate"]
    assert public["status"] == "VALID" and public["homestay"]["name"]
    assert public["totalPoints"] is None and public["inspection"] is None
    assert public["history"] is None
    staff = (await api.query(CERTIFICATE, {"n": cert["number"]}, bureau.token))["certificate"]
    assert staff["totalPoints"] > 0 and staff["inspection"] and staff["history"]


async def test_the_open_data_feed_shows_only_public_fields(api, inspector, bureau):
    await certify(api, inspector.token, bureau.token)
    [row] = (await api.http.get("/open-data/certificates.json")).json()
    assert set(row) <= PUBLIC_CERTIFICATE_FIELDS | PUBLIC_LISTING_FIELDS


async def test_an_uncertified_homestay_is_not_public(api, inspector, anji_inspector):
    stay = await register(api, inspector.token)
    assert (await api.query(HOMESTAY, {"id": stay["id"]}))["homestay"] is None
    assert (await api.query(HOMESTAY, {"id": stay["id"]}, anji_inspector.token))[
        "homestay"
    ] is None  # staff of another county are the public here
    assert (await api.query(HOMESTAY, {"id": stay["id"]}, inspector.token))["homestay"]["address"]


async def test_a_suspended_homestay_leaves_the_public_at_once(api, inspector, bureau):
    stay, cert = await certify(api, inspector.token, bureau.token)
    assert (await api.query(HOMESTAY, {"id": stay["id"]}))["homestay"]["id"] == stay["id"]
    await api.query(SUSPEND, {"n": cert["number"]}, bureau.token)
    assert (await api.query(HOMESTAY, {"id": stay["id"]}))["homestay"] is None
    public = (await api.query(CERTIFICATE, {"n": cert["number"]}))["certificate"]
    assert public["status"] == "SUSPENDED" and public["homestay"] is None  # verifiable still


async def test_homestay_ids_are_not_guessable_from_one_another(api, inspector):
    ids = [(await register(api, inspector.token, name=f"宿{i}"))["id"] for i in range(5)]
    keys = [key(i) for i in ids]
    assert len({k[:8] for k in keys}) == 5  # no shared timestamp prefix, no counter
    assert all(len(k) == 24 and int(k, 16) >= 0 for k in keys)
