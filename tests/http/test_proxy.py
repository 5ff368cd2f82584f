"""Behind a proxy: the client's address is the connection's unless a proxy is trusted."""

from __future__ import annotations

import httpx

from tests.served import served

VERIFY = {"query": '{ verifyCertificate(number: "x") { found } }'}


def statuses(url: str, forwarded_for: list[str]) -> list[int]:
    return [
        httpx.post(
            f"{url}/graphql", json=VERIFY, headers={"X-Forwarded-For": address}, timeout=10
        ).status_code
        for address in forwarded_for
    ]


def test_a_client_cannot_choose_its_address_by_default(mongodb_uri, tmp_path):
    with served(mongodb_uri, tmp_path, HOMESTAY_RATE_PUBLIC="3/minute") as url:
        assert statuses(url, ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"]) == [200, 200, 200, 429]


def test_a_configured_proxy_names_the_client(mongodb_uri, tmp_path):
    with served(
        mongodb_uri, tmp_path, HOMESTAY_RATE_PUBLIC="3/minute", FORWARDED_ALLOW_IPS="127.0.0.1"
    ) as url:
        assert statuses(url, ["1.1.1.1"] * 4) == [200, 200, 200, 429]
        assert statuses(url, ["2.2.2.2"]) == [200]  # another client behind the proxy
