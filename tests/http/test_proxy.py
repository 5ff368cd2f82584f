"""Behind a proxy: the client's address is the connection's unless a proxy is trusted."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from homestay.storage.embedded import free_port
from tests.served import wait_for

VERIFY = {"query": '{ verifyCertificate(number: "x") { found } }'}


@contextmanager
def served(mongodb_uri: str, tmp_path, **settings: str) -> Iterator[str]:
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if k != "FORWARDED_ALLOW_IPS"}
    env = {**inherited, "MONGODB_URI": mongodb_uri, "PORT": str(port),
           "HOMESTAY_DB": f"proxy_{uuid.uuid4().hex[:8]}", "HOMESTAY_DATA_DIR": str(tmp_path),
           "LOG_LEVEL": "WARNING", "HOMESTAY_RATE_PUBLIC": "3/minute", **settings}
    process = subprocess.Popen([sys.executable, "-m", "homestay.cli", "serve"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/readyz", process, 60)
        yield url
    finally:
        process.terminate()
        process.wait(30)


def statuses(url: str, forwarded_for: list[str]) -> list[int]:
    return [httpx.post(f"{url}/graphql", json=VERIFY, headers={"X-Forwarded-For": address},
                       timeout=10).status_code for address in forwarded_for]


def test_a_client_cannot_choose_its_address_by_default(mongodb_uri, tmp_path):
    with served(mongodb_uri, tmp_path) as url:
        assert statuses(url, ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"]) == \
            [200, 200, 200, 429]


def test_a_configured_proxy_names_the_client(mongodb_uri, tmp_path):
    with served(mongodb_uri, tmp_path, FORWARDED_ALLOW_IPS="127.0.0.1") as url:
        assert statuses(url, ["1.1.1.1"] * 4) == [200, 200, 200, 429]
        assert statuses(url, ["2.2.2.2"]) == [200]  # another client behind the proxy
