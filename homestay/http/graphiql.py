"""GraphiQL without the internet: strawberry's page, with its assets served from this package.

Strawberry's GraphiQL page loads React, GraphiQL and its explorer from a CDN, so on an
offline or firewalled network (a county office, a laptop in the field) it stays blank. The
same files, at the same versions, ship in homestay/static/graphiql (MIT licences beside
them); the page keeps its subresource-integrity hashes, so the browser checks that what it
runs is byte for byte what the CDN serves. Versioned paths: cached for a year.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from strawberry.http.ides import get_graphql_ide_html

ASSETS = Path(__file__).resolve().parents[1] / "static" / "graphiql"
MOUNT = "/graphiql"

# the CDN's address of each package, and where the same files are here
CDN = {
    "https://unpkg.com/react@18.2.0/": "react-18.2.0/",
    "https://unpkg.com/react-dom@18.2.0/": "react-dom-18.2.0/",
    "https://unpkg.com/js-cookie@3.0.5/": "js-cookie-3.0.5/",
    "https://unpkg.com/graphiql@3.8.3/": "graphiql-3.8.3/",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/": "graphiql-plugin-explorer-1.0.2/",
}


def page() -> str:
    """Strawberry's GraphiQL page, pointing at the assets here. Fails loudly (at start) when
    strawberry's page names an asset this package does not ship: after an upgrade of
    strawberry, vendor its new versions."""
    html = get_graphql_ide_html("graphiql")
    for cdn, local in CDN.items():
        html = html.replace(cdn, f"{MOUNT}/{local}")
    if "https://unpkg.com/" in html or "https://cdn." in html:
        raise RuntimeError(
            "strawberry's GraphiQL page names assets that homestay/static/"
            "graphiql does not hold: vendor them (see homestay/http/graphiql.py)"
        )
    return html


class Assets(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def assets() -> Assets:
    return Assets(directory=ASSETS)
