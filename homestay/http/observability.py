"""What an operator sees of each request: its id, a JSON log line, Prometheus figures."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pymongo import monitoring
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("homestay.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class Metrics(monitoring.CommandListener):
    """Prometheus figures, and a driver listener counting failed database commands."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # what every dashboard expects of a process: resident memory, CPU, open files, GC
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.requests = Counter(
            "homestay_http_requests_total",
            "HTTP requests",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "homestay_http_request_seconds",
            "HTTP request latency",
            ["route"],
            registry=self.registry,
        )
        self.operations = Counter(
            "homestay_graphql_operations_total",
            "GraphQL operations by root fields and outcome (OK or the first error's code)",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.operation_latency = Histogram(
            "homestay_graphql_operation_seconds",
            "GraphQL operation latency",
            ["operation"],
            registry=self.registry,
        )
        self.db_failures = Counter(
            "homestay_db_command_failures_total",
            "Database commands that failed or got no answer",
            ["command"],
            registry=self.registry,
        )
        self.short_road_fallbacks = Counter(
            "homestay_graphql_short_road_fallbacks_total",
            "Fields that failed on the executor's short road and were answered by "
            "graphql-core's (graphql/executor/execution.py)",
            ["field"],
            registry=self.registry,
        )
        self.db_unavailable = Counter(
            "homestay_db_unavailable_total",
            "Requests answered SERVICE_UNAVAILABLE",
            registry=self.registry,
        )

    def follow_live(self, live: Callable[[], Any]) -> None:
        """Gauges of this process's live feed: sockets open, subscriptions flowing (`live`
        gives the process's homestay.live.feed.Live once the service has started)."""

        def sockets() -> float:
            held = live()
            return float(held.sockets) if held is not None else 0.0

        def subscriptions() -> float:
            held = live()
            return float(held.limits.active) if held is not None else 0.0

        Gauge(
            "homestay_live_sockets", "WebSockets open in this process", registry=self.registry
        ).set_function(sockets)
        Gauge(
            "homestay_live_subscriptions",
            "Live subscriptions flowing in this process",
            registry=self.registry,
        ).set_function(subscriptions)

    def follow_copies(self, copies: Callable[[], dict[str, Any]]) -> None:
        """Figures of this process's in-process copies (search/caught_up.py), by name
        (`copies` gives them once the service has started): the uses answered from what a
        copy had applied while a backlog's catch-up ran (read-your-writes suspended for
        them), and the stamp of the newest change each has seen."""
        self.registry.register(_Copies(copies))

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.db_failures.labels(event.command_name).inc()


class _Copies:
    """A collector read at each scrape (a counter the copies keep themselves)."""

    def __init__(self, copies: Callable[[], dict[str, Any]]) -> None:
        self.copies = copies

    def collect(self) -> Any:
        behind = CounterMetricFamily(
            "homestay_copy_answered_behind",
            "Uses of an in-process copy answered from what it had applied while a backlog's "
            "catch-up ran (read-your-writes suspended for them)",
            labels=["copy"],
        )
        newest = GaugeMetricFamily(
            "homestay_copy_newest_change_seconds",
            "The database's stamp (Unix time) of the newest change an in-process copy has seen",
            labels=["copy"],
        )
        for name, copy in self.copies().items():
            behind.add_metric([name], copy.answered_behind)
            if copy.version is not None:
                newest.add_metric([name], copy.version.timestamp())
        yield behind
        yield newest


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
                    (b"x-request-id", request_id.encode("latin-1"))
                )
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(scope["path"])
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            state = scope["state"]
            extra = {
                "request_id": request_id,
                "status": status,
                "duration_ms": round(elapsed * 1000, 1),
            }
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
    for prefix in (
        "/graphql",
        "/uploads",
        "/exports",
        "/open-data",
        "/healthz",
        "/readyz",
        "/metrics",
        "/v/",
        "/certificates/",
    ):
        if path.startswith(prefix):
            return prefix
    return "other"
