"""The HTTP application: GraphQL at /graphql, health, readiness, metrics and uploads."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest
from pymongo.errors import PyMongoError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL

from homestay.errors import ApiError, ServiceUnavailable
from homestay.graphql.context import Context, language
from homestay.graphql.schema import schema
from homestay.http import exports, uploads
from homestay.services.accounts import authenticate
from homestay.services.registry import Services
from homestay.settings import Settings
from homestay.storage.database import apply_schema, open_database

log = logging.getLogger("homestay.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# a public GET query may be cached this long by a CDN or the phone
PUBLIC_MAX_AGE_S = 30


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("homestay_http_requests_total", "HTTP requests",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("homestay_http_request_seconds", "HTTP request latency",
                                 ["route"], registry=self.registry)


class RequestContextMiddleware:
    """Gives each request an id (kept from X-Request-ID when sane), logs and measures it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append(
                    (b"x-request-id", request_id.encode("latin-1")))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(scope["path"])
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            log.info("%s %s %s", scope["method"], scope["path"], status,
                     extra={"request_id": request_id, "status": status,
                            "duration_ms": round(elapsed * 1000, 1)})


def _route_label(path: str) -> str:
    for prefix in ("/graphql", "/uploads", "/exports", "/open-data", "/healthz", "/readyz",
                   "/metrics"):
        if path.startswith(prefix):
            return prefix
    return "other"


class GraphQLView(GraphQL):
    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        services: Services = request.app.state.services
        authorization = request.headers.get("authorization")
        context = Context(services=services, request=request, response=response,
                          lang=language(request.headers.get("accept-language")),
                          request_id=request.state.request_id)
        try:
            context.caller = await authenticate(services.db, authorization)
        except ApiError as exc:
            context.auth_error = exc
        except PyMongoError:
            context.auth_error = ServiceUnavailable(
                "the database is not answering; try again shortly")
        if authorization or request.method != "GET":
            response.headers["Cache-Control"] = "no-store"
        else:
            response.headers["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE_S}"
        response.headers["Vary"] = "Accept-Language, Authorization"
        return context


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "alive"})


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        await services.db.ping(timeout_ms=services.settings.readiness_timeout_ms)
    except PyMongoError:
        return JSONResponse({"status": "unavailable", "database": "not answering"},
                            status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)


def create_app(settings: Settings, services: Services | None = None) -> Starlette:
    """The ASGI app. Without `services`, it connects to settings.mongodb_uri on start."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if services is not None:
            app.state.services = services
            yield {}
            return
        assert settings.mongodb_uri, "create_app needs MONGODB_URI or services"
        database = open_database(settings.mongodb_uri, settings.database)
        await apply_schema(database)
        app.state.services = Services.build(settings, database)
        try:
            yield {}
        finally:
            await database.close()

    metrics_ = Metrics()
    graphql = GraphQLView(schema, graphql_ide=None if settings.production else "graphiql",
                          allow_queries_via_get=True)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/uploads", uploads.upload, methods=["POST"]),
            Route("/uploads/{upload_id}", uploads.download),
            Route("/exports/certificates.{format}", exports.export_certificates),
            Route("/open-data/certificates.json", exports.open_data, methods=["GET", "HEAD"]),
        ],
        middleware=[
            Middleware(RequestContextMiddleware, metrics=metrics_),
            Middleware(GZipMiddleware, minimum_size=1000, compresslevel=6),
        ],
        lifespan=lifespan,
    )
    app.state.metrics = metrics_
    if services is not None:
        app.state.services = services
    return app
