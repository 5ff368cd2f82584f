"""GraphiQL works without the internet: its page and every asset come from this server."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid

from tests.http.test_doorway_browser import browse
from tests.served import served

GRAPHIQL_HEADERS = {"Accept": "text/html"}


async def test_the_page_names_no_other_host_and_every_asset_is_what_its_hash_says(api):
    page = await api.http.get("/graphql", headers=GRAPHIQL_HEADERS)
    assert page.status_code == 200 and "graphiql" in page.text
    assert not re.search(r"""(src|href)=["']https?://""", page.text)
    assets = re.findall(
        r"""(?:src|href)="(/graphiql/[^"]+)"\s+integrity="(sha384-[^"]+)""", page.text
    )
    assert len(assets) == 7  # React, ReactDOM, js-cookie, GraphiQL and its explorer (js, css)
    for path, integrity in assets:
        served_asset = await api.http.get(path)
        assert served_asset.status_code == 200, path
        digest = base64.b64encode(hashlib.sha384(served_asset.content).digest()).decode()
        assert integrity == f"sha384-{digest}", path  # what the browser checks before it runs
        assert "immutable" in served_asset.headers["cache-control"]
    assert (await api.http.get("/graphiql/../settings.py")).status_code == 404


def test_graphiql_draws_its_editor_in_a_browser_that_reaches_no_other_host(mongodb_uri, tmp_path):
    with served(mongodb_uri, tmp_path, f"graphiql_{uuid.uuid4().hex[:8]}") as base:
        dom = browse(
            f"{base}/graphql",
            tmp_path / "profile",
            "--dump-dom",
            "--virtual-time-budget=15000",
            # every name but this machine's fails to resolve: an offline network
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        )
    assert "graphiql-editor" in dom and "graphiql-execute-button" in dom
