"""Two API processes over one database, one of them with its clock ten minutes behind
(libfaketime): what either writes is in the other's very next search, because changes are
stamped, and read, by the database's clock (storage.database.stamped, DatabaseClock)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import httpx
import pytest

from tests.graphql.flows import REGISTER, REVIEW, SUBMIT, checklist, homestay_input
from tests.served import account, served

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
SEARCH = """query($text: String) { searchStays(near: {lat: 30.5751, lng: 119.8779},
  radiusMeters: 2000, text: $text) { edges { node { name certificate { number } } } } }"""
RENAME = """mutation($input: UpdateHomestayInput!) { updateHomestay(input: $input) {
  errors { code } } }"""


def graphql(base: str, query: str, variables: dict, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables},
        headers=headers,
        timeout=30,
    ).json()
    assert "errors" not in body, body
    return body["data"]


def certify(base: str, inspector: str, bureau: str, name: str) -> tuple[str, str]:
    """A homestay certified through the API at `base`: (its id, the certificate's number)."""
    stay = graphql(base, REGISTER, {"input": homestay_input(name=name)}, inspector)
    stay_id = stay["registerHomestay"]["homestay"]["id"]
    submitted = graphql(
        base,
        SUBMIT,
        {
            "input": {
                "clientSubmissionId": str(uuid.uuid4()),
                "homestayId": stay_id,
                "results": checklist(),
            }
        },
        inspector,
    )
    inspection = submitted["submitInspection"]["inspection"]["id"]
    done = graphql(
        base, REVIEW, {"input": {"inspectionId": inspection, "decision": "APPROVE"}}, bureau
    )
    return stay_id, done["reviewInspection"]["certificate"]["number"]


def found(base: str, text: str | None = None) -> set[str]:
    edges = graphql(base, SEARCH, {"text": text})["searchStays"]["edges"]
    return {e["node"]["certificate"]["number"] for e in edges}


@pytest.mark.skipif(not LIBFAKETIME.exists(), reason="libfaketime (Debian's faketime)")
def test_a_process_ten_minutes_behind_neither_hides_its_writes_nor_misses_others(
    mongodb_uri, tmp_path
):
    assert shutil.which("faketime")
    database = f"skew_{uuid.uuid4().hex[:8]}"
    behind = {
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME": "-10m",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_NO_CACHE": "1",
    }
    with served(mongodb_uri, tmp_path / "a", database) as right:
        inspector = account(mongodb_uri, database, "inspector")
        bureau = account(mongodb_uri, database, "bureau")
        with served(mongodb_uri, tmp_path / "b", database, **behind) as late:
            found(right)  # both copies built and caught up before the writes
            found(late)
            _, through_late = certify(late, inspector, bureau, "慢钟民宿")
            assert through_late in found(right)  # the right clock sees the late one's write
            stay, through_right = certify(right, inspector, bureau, "准钟民宿")
            assert through_right in found(late)  # and the late clock sees the right one's
            graphql(late, RENAME, {"input": {"id": stay, "name": "改名民宿"}}, inspector)
            assert found(right, "改名") == {through_right}
