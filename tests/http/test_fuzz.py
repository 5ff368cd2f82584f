"""Fuzzing /graphql with schemathesis: generated queries and mutations for every root field,
sent to a real server process, as the public and as a bureau officer. None may yield a 5xx or
an INTERNAL_SERVER_ERROR.

Bounded for the suite: HOMESTAY_FUZZ_EXAMPLES per operation (default 25), derandomized so
that CI is repeatable. For a longer, random run:

    HOMESTAY_FUZZ_EXAMPLES=300 HOMESTAY_FUZZ_RANDOM=1 python3 dev.py test tests/http/test_fuzz.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homestay.settings import ROOT
from homestay.storage.embedded import free_port
from tests.served import wait_for

EXAMPLES = int(os.environ.get("HOMESTAY_FUZZ_EXAMPLES", "25"))
RANDOM = bool(os.environ.get("HOMESTAY_FUZZ_RANDOM"))
HOMESTAY = [sys.executable, "-m", "homestay.cli"]

SCHEMA = schemathesis.graphql.from_path(ROOT / "schema" / "schema.graphql")
OPERATIONS = {op.ok().label: op.ok() for op in SCHEMA.get_all_operations()}


@pytest.fixture(scope="module")
def server(mongodb_uri: str, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A served API over its own database, and a bureau token for Deqing."""
    env = {
        **os.environ,
        "MONGODB_URI": mongodb_uri,
        "HOMESTAY_DB": f"fuzz_{uuid.uuid4().hex[:8]}",
        "HOMESTAY_RATE_PUBLIC": "1000000/minute",
        "HOMESTAY_RATE_ACCOUNT": "1000000/minute",
        "LOG_LEVEL": "WARNING",
        "HOMESTAY_DATA_DIR": str(tmp_path_factory.mktemp("fuzz")),
    }
    made = subprocess.run(
        [
            *HOMESTAY,
            "account",
            "create",
            "--role",
            "bureau",
            "--county",
            "330521",
            "--name",
            "Fuzz",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    token = made.stdout.strip().splitlines()[-1]
    port = free_port()
    env["PORT"] = str(port)
    process = subprocess.Popen(
        [*HOMESTAY, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/readyz", process, 60)
        yield url, token
    finally:
        process.terminate()
        process.wait(30)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_generated_requests_never_yield_a_server_error(server, label):
    url, token = server
    operation = OPERATIONS[label]
    failures: list[str] = []

    with httpx.Client(base_url=url, timeout=30) as client:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=not RANDOM,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), as_bureau=st.booleans())
        def run(case, as_bureau: bool) -> None:
            headers = {"Authorization": f"Bearer {token}"} if as_bureau else {}
            response = client.post("/graphql", json={"query": case.body}, headers=headers)
            codes = []
            if response.headers.get("content-type", "").startswith("application/json"):
                codes = [
                    e.get("extensions", {}).get("code") for e in response.json().get("errors") or []
                ]
            if response.status_code >= 500 or "INTERNAL_SERVER_ERROR" in codes:
                failures.append(f"{response.status_code} {codes}\n{case.body}")

        run()
    assert failures == [], failures[0]


def _no_server_error(response: httpx.Response, failures: list[str], what: str) -> None:
    codes = []
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        if isinstance(body, dict):
            codes = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
    if response.status_code >= 500 or "INTERNAL_SERVER_ERROR" in codes:
        failures.append(f"{response.status_code} {codes}: {what}")


PARAMETER = st.one_of(
    st.text(max_size=40),
    st.dates().map(str),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "BOUTIQUE",
            "valid",
            "330521",
            "330999",
            "",
            " ",
            "\x00",
            "9999-12-31",
            "0001-01-01T00:00:00+14:00",
            "NaN",
            "-1",
            "1e309",
        ]
    ),
)
# what a client can put in a header at all: visible ASCII (httpx refuses the rest itself)
HEADER = PARAMETER.map(str.strip).filter(lambda v: all(" " <= c <= "~" for c in v))
DOWNLOADS = [
    "/exports/certificates.csv",
    "/exports/certificates.json",
    "/exports/certificates.xlsx",
    "/exports/certificates.pdf",
    "/open-data/certificates.json",
]


def test_download_parameters_never_yield_a_server_error(server):
    url, token = server
    failures: list[str] = []
    names = st.sampled_from(
        ["county", "grade", "status", "issuedFrom", "issuedTo", "expiringBefore", "lang", "x"]
    )
    with httpx.Client(base_url=url, timeout=30) as client:

        @settings(
            max_examples=EXAMPLES * 4,
            deadline=None,
            database=None,
            derandomize=not RANDOM,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            path=st.sampled_from(DOWNLOADS),
            params=st.dictionaries(names, PARAMETER, max_size=4),
            headers=st.fixed_dictionaries(
                {},
                optional={
                    "If-Modified-Since": HEADER,
                    "If-None-Match": HEADER,
                    "Accept-Language": HEADER,
                },
            ),
        )
        def run(path: str, params: dict, headers: dict) -> None:
            response = client.get(
                path, params=params, headers={**headers, "Authorization": f"Bearer {token}"}
            )
            _no_server_error(response, failures, f"{path} {params} {headers}")

        run()
    assert failures == [], failures[0]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)


def test_json_bodies_of_any_shape_never_yield_a_server_error(server):
    url, _ = server
    failures: list[str] = []
    shaped = st.fixed_dictionaries(
        {},
        optional={
            "query": JSON | st.just("{ __typename }"),
            "variables": JSON,
            "operationName": JSON,
            "extensions": JSON,
        },
    )
    with httpx.Client(base_url=url, timeout=30) as client:

        @settings(
            max_examples=EXAMPLES * 4,
            deadline=None,
            database=None,
            derandomize=not RANDOM,
            suppress_health_check=list(HealthCheck),
        )
        @given(body=JSON | shaped)
        def run(body: object) -> None:
            content = json.dumps(body, allow_nan=True).encode()
            response = client.post(
                "/graphql", content=content, headers={"Content-Type": "application/json"}
            )
            _no_server_error(response, failures, content.decode()[:300])

        run()
    assert failures == [], failures[0]
