"""Fuzzing /graphql with schemathesis: generated queries and mutations for every root field,
sent to a real server process, as the public and as a bureau officer. None may yield a 5xx or
an INTERNAL_SERVER_ERROR.

Bounded for the suite: HOMESTAY_FUZZ_EXAMPLES per operation (default 25), derandomized so
that CI is repeatable. For a longer, random run:

    HOMESTAY_FUZZ_EXAMPLES=300 HOMESTAY_FUZZ_RANDOM=1 python3 dev.py test tests/http/test_fuzz.py
"""

from __future__ import annotations

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
    env = {**os.environ, "MONGODB_URI": mongodb_uri, "HOMESTAY_DB": f"fuzz_{uuid.uuid4().hex[:8]}",
           "HOMESTAY_RATE_PUBLIC": "1000000/minute", "LOG_LEVEL": "WARNING",
           "HOMESTAY_DATA_DIR": str(tmp_path_factory.mktemp("fuzz"))}
    made = subprocess.run([*HOMESTAY, "account", "create", "--role", "bureau", "--county",
                           "330521", "--name", "Fuzz"], env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    token = made.stdout.strip().splitlines()[-1]
    port = free_port()
    env["PORT"] = str(port)
    process = subprocess.Popen([*HOMESTAY, "serve"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
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
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not RANDOM,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(), as_bureau=st.booleans())
        def run(case, as_bureau: bool) -> None:
            headers = {"Authorization": f"Bearer {token}"} if as_bureau else {}
            response = client.post("/graphql", json={"query": case.body}, headers=headers)
            codes = []
            if response.headers.get("content-type", "").startswith("application/json"):
                codes = [e.get("extensions", {}).get("code")
                         for e in response.json().get("errors") or []]
            if response.status_code >= 500 or "INTERNAL_SERVER_ERROR" in codes:
                failures.append(f"{response.status_code} {codes}\n{case.body}")

        run()
    assert failures == [], failures[0]
