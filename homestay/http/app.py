"""The HTTP application: which route and which middleware holds what.

GraphQL at /graphql (graphql_view), health and figures (health), evidence photos (uploads),
grade lists and open data (exports); before them the guard (who, how often, how much) and the
request's id and log line (observability); every refusal in one shape (errors).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette_compress import CompressMiddleware, add_compress_type

from homestay import heap, images
from homestay.graphql.schema import build_schema
from homestay.http import doorway, exports, graphiql, photos, uploads
from homestay.http.bootstrap import bootstrap
from homestay.http.errors import HANDLERS
from homestay.http.graphql_view import GraphQLView
from homestay.http.guard import GuardMiddleware, Limits, RateLimiter
from homestay.http.health import healthz, metrics, readyz
from homestay.http.observability import Metrics, RequestContextMiddleware
from homestay.services.registry import Services
from homestay.settings import Settings
from homestay.storage.database import open_database

if TYPE_CHECKING:
    from homestay.http.workers import Copies

# GraphQL over HTTP's own media type, and the grade lists streamed as CSV
add_compress_type("application/graphql-response+json")
add_compress_type("text/csv", streaming=True)


def _copies(services: Services | None) -> dict[str, Any]:
    """The process's in-process copies, by the name the metrics give them."""
    if services is None:
        return {}
    return {"stays": services.search.index, "finder": services.homestays.finder}


def _routes(graphql: GraphQLView) -> list[BaseRoute]:
    return [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),  # subscriptions (graphql-transport-ws)
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/uploads", uploads.upload, methods=["POST"]),
        Route("/uploads/{upload_id}", uploads.download),
        Route("/photos/{photo_id}", photos.photo, methods=["GET", "HEAD"]),
        Route("/photos/{photo_id}/{width:int}", photos.photo, methods=["GET", "HEAD"]),
        Route("/exports/certificates.{format}", exports.export_certificates),
        Route("/open-data/certificates.json", exports.open_data, methods=["GET", "HEAD"]),
        Route("/v/{number}/concern", doorway.concern_form, methods=["GET", "POST"]),
        Route("/v/{number:path}", doorway.verification_page),
        Route("/certificates/{number}/plaque.{format}", doorway.plaque),
        Mount(graphiql.MOUNT, graphiql.assets()),
    ]


def _middleware(settings: Settings, metrics_: Metrics, limiter: RateLimiter) -> list[Middleware]:
    """Outermost first."""
    return [
        Middleware(RequestContextMiddleware, metrics=metrics_),
        # a bureau console served from another origin: only the configured ones, and
        # before the guard, so that a preflight is answered without a token
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            max_age=600,
            allow_headers=["Authorization", "Content-Type", "Accept-Language", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        ),
        Middleware(GuardMiddleware, limiter=limiter, settings=settings),
        # brotli, zstd or gzip by Accept-Encoding, for text and JSON only: XLSX (a zip),
        # JPEG and WebP are compressed already and go as they are
        Middleware(CompressMiddleware, minimum_size=1000),
    ]


def create_app(
    settings: Settings, services: Services | None = None, inherited: Copies | None = None
) -> Starlette:
    """The ASGI app. Without `services`, it connects to settings.mongodb_uri on start, and
    searches from the `inherited` copies where a parent built them (`serve --workers N`)."""
    metrics_ = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if services is not None:
            app.state.services = services
            yield {}
            return
        assert settings.mongodb_uri, "create_app needs MONGODB_URI or services"
        database = open_database(
            settings.mongodb_uri,
            settings.database,
            serverSelectionTimeoutMS=settings.db_select_timeout_ms,
            connectTimeoutMS=settings.db_select_timeout_ms,
            event_listeners=[metrics_],
        )
        app.state.services = services_ = Services.build(settings, database)
        if inherited is not None:  # built by the parent this worker was forked from
            services_.search.index = inherited.index.adopt(database)
            services_.homestays.finder = inherited.finder.adopt(database)
        app.state.copies = "inherited" if inherited is not None else "own"
        app.state.schema_applied = False
        starting = asyncio.create_task(bootstrap(app, database, settings))
        try:
            yield {}
        finally:
            starting.cancel()
            await app.state.services.live.feed.stop()
            await database.close()

    graphql = GraphQLView(
        build_schema(
            introspection=settings.introspection,
            cost_public=settings.cost_public,
            cost_account=settings.cost_account,
            costly_lane=settings.costly_lane,
            short_road=settings.short_road,
        ),
        graphql_ide=None if settings.production else "graphiql",
        allow_queries_via_get=True,
        # a browser page on another origin may not open a socket here (CSWSH); apps are no
        # browsers and send no Origin
        allowed_origins=list(settings.cors_origins),
        max_subscriptions_per_connection=settings.live_per_socket,
        db_timeout_s=settings.request_db_timeout_ms / 1000,
    )
    limiter = RateLimiter(Limits.of(settings))
    heap.keep_large_blocks_apart()
    app = Starlette(
        routes=_routes(graphql),
        middleware=_middleware(settings, metrics_, limiter),
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
    app.state.metrics = metrics_
    metrics_.follow_live(lambda: getattr(getattr(app.state, "services", None), "live", None))
    metrics_.follow_copies(lambda: _copies(getattr(app.state, "services", None)))
    app.state.rate_limiter = limiter
    app.state.decode_gate = uploads.DecodeGate(
        settings.photo_decodes,
        settings.photo_queue,
        settings.photo_wait_s,
        images.Budget(decode_bytes=settings.photo_decode_mb * images.MIB),
    )
    if services is not None:
        app.state.services = services
    return app
