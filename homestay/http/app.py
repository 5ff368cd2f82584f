"""The HTTP application: GraphQL at /graphql, health, readiness, metrics and uploads."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pymongo
from cross_web import HTTPException
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pymongo import monitoring
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
from homestay.graphql.schema import build_schema
from homestay.http import exports, uploads
from homestay.http.guard import (
    GuardMiddleware,
    RateLimiter,
    authenticate_request,
    json_error,
    limits_of,
)
from homestay.services import rows, standards
from homestay.services.registry import Services
from homestay.settings import Settings
from homestay.storage.database import Database, apply_schema, open_database

log = logging.getLogger("homestay.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# a public GET query may be cached this long by a CDN or the phone
PUBLIC_MAX_AGE_S = 30


class Metrics(monitoring.CommandListener):
    """Prometheus figures, and a driver listener counting failed database commands."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("homestay_http_requests_total", "HTTP requests",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("homestay_http_request_seconds", "HTTP request latency",
                                 ["route"], registry=self.registry)
        self.operations = Counter("homestay_graphql_operations_total",
                                  "GraphQL operations by root fields and outcome (OK or the "
                                  "first error's code)", ["operation", "outcome"],
                                  registry=self.registry)
        self.operation_latency = Histogram("homestay_graphql_operation_seconds",
                                           "GraphQL operation latency", ["operation"],
                                           registry=self.registry)
        self.db_failures = Counter("homestay_db_command_failures_total",
                                   "Database commands that failed or got no answer",
                                   ["command"], registry=self.registry)
        self.db_unavailable = Counter("homestay_db_unavailable_total",
                                      "Requests answered SERVICE_UNAVAILABLE",
                                      registry=self.registry)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.db_failures.labels(event.command_name).inc()


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
            state = scope["state"]
            extra = {"request_id": request_id, "status": status,
                     "duration_ms": round(elapsed * 1000, 1)}
            if "operation" in state:
                operation, outcome = state["operation"], state.get("outcome", "OK")
                self.metrics.operations.labels(operation, outcome).inc()
                self.metrics.operation_latency.labels(operation).observe(elapsed)
                if outcome == "SERVICE_UNAVAILABLE":
                    self.metrics.db_unavailable.inc()
                extra.update(operation=operation, role=state.get("role"), outcome=outcome)
            # the path only: a query string may carry a GET query's variables
            log.info("%s %s %s", scope["method"], scope["path"], status, extra=extra)


def _route_label(path: str) -> str:
    for prefix in ("/graphql", "/uploads", "/exports", "/open-data", "/healthz", "/readyz",
                   "/metrics"):
        if path.startswith(prefix):
            return prefix
    return "other"


_HTTP_ERRORS = {  # strawberry's plain-text refusals, as coded JSON errors naming the part
    "Unable to parse request body as JSON": ("BAD_REQUEST", "body",
                                             "body: not valid JSON"),
    "Unsupported content type": ("UNSUPPORTED_MEDIA_TYPE", "Content-Type",
                                 "Content-Type: send application/json (or GET with ?query=)"),
    "No GraphQL query found in the request": ("BAD_REQUEST", "query",
                                              "query: no GraphQL query in the request"),
}


MAX_QUERY_CHARS = 20_000  # the apps' largest document is about 1,500 characters


class QueryTooLong(HTTPException):
    pass


class GraphQLView(GraphQL):
    def __init__(self, *args: Any, db_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.db_timeout_s = db_timeout_s

    async def parse_http_body(self, request: Any) -> Any:
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            if item.query is not None and len(item.query) > MAX_QUERY_CHARS:
                raise QueryTooLong(413, f"query: a GraphQL document may have at most "
                                        f"{MAX_QUERY_CHARS} characters")
        return data

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            # one budget for every database operation of the request: nothing hangs
            with pymongo.timeout(self.db_timeout_s):
                response = await self.run(request)
        except QueryTooLong as exc:
            response = json_error(413, "QUERY_TOO_LONG", exc.reason, field="query")
        except HTTPException as exc:
            code, field, message = _HTTP_ERRORS.get(
                exc.reason, ("BAD_REQUEST", "body", f"body: {exc.reason}"))
            status = 415 if code == "UNSUPPORTED_MEDIA_TYPE" else exc.status_code
            response = json_error(status, code, message, field=field)
        await response(scope, receive, send)

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        services: Services = request.app.state.services
        authorization = request.headers.get("authorization")
        context = Context(services=services, request=request, response=response,
                          lang=language(request.headers.get("accept-language")),
                          request_id=request.state.request_id)
        if not getattr(request.app.state, "schema_applied", True):
            # no write before the unique indexes exist: a retried one could double
            context.auth_error = ServiceUnavailable(
                "the service is starting: its database is being prepared; try again shortly")
            return context
        try:
            context.caller = await authenticate_request(request)
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
    if not getattr(request.app.state, "schema_applied", True):
        return JSONResponse({"status": "starting", "database": "not answering yet"},
                            status_code=503)
    try:
        await services.db.ping(timeout_ms=services.settings.readiness_timeout_ms)
    except PyMongoError:
        return JSONResponse({"status": "unavailable", "database": "not answering"},
                            status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)


async def _bootstrap(app: Starlette, database: Database, settings: Settings) -> None:
    """Collections, validators, indexes and the seed standard, once the database answers:
    the service starts (and says it is not ready) while the database is still coming up.
    Then the grade lists' read model, and its reconciler for as long as the service runs."""
    delay = 0.5
    while True:
        try:
            await apply_schema(database)
            await standards.publish_seed(database, settings.seed_dir)
            app.state.schema_applied = True
            log.info("database ready: schema applied")
            break
        except PyMongoError as exc:
            log.warning("database not answering yet (%s); retrying in %.1f s",
                        type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    # the grade lists' read model: built whole once (exports read the certificates until
    # then), then kept healed by a reconciler
    while True:
        try:
            await rows.ensure_built(database)
            break
        except PyMongoError as exc:
            log.warning("certificate rows not built yet (%s)", type(exc).__name__)
            await asyncio.sleep(5.0)
    await rows.reconcile_forever(database)


def create_app(settings: Settings, services: Services | None = None) -> Starlette:
    """The ASGI app. Without `services`, it connects to settings.mongodb_uri on start."""
    metrics_ = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if services is not None:
            app.state.services = services
            yield {}
            return
        assert settings.mongodb_uri, "create_app needs MONGODB_URI or services"
        database = open_database(settings.mongodb_uri, settings.database,
                                 serverSelectionTimeoutMS=settings.db_select_timeout_ms,
                                 connectTimeoutMS=settings.db_select_timeout_ms,
                                 event_listeners=[metrics_])
        app.state.services = Services.build(settings, database)
        app.state.schema_applied = False
        bootstrap = asyncio.create_task(_bootstrap(app, database, settings))
        try:
            yield {}
        finally:
            bootstrap.cancel()
            await database.close()

    graphql = GraphQLView(build_schema(introspection=settings.introspection),
                          graphql_ide=None if settings.production else "graphiql",
                          allow_queries_via_get=True,
                          db_timeout_s=settings.request_db_timeout_ms / 1000)
    limiter = RateLimiter(limits_of(settings))
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
            Middleware(GuardMiddleware, limiter=limiter),
            Middleware(GZipMiddleware, minimum_size=1000, compresslevel=6),
        ],
        lifespan=lifespan,
    )
    app.state.metrics = metrics_
    app.state.rate_limiter = limiter
    if services is not None:
        app.state.services = services
    return app
