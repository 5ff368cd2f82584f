"""Liveness, readiness and the figures: what a balancer and Prometheus ask."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from homestay.services.registry import Services


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "alive"})


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    if not getattr(request.app.state, "schema_applied", True):
        return JSONResponse(
            {"status": "starting", "database": "not answering yet"}, status_code=503
        )
    try:
        await services.ping(timeout_ms=services.settings.readiness_timeout_ms)
    except PyMongoError:
        return JSONResponse({"status": "unavailable", "database": "not answering"}, status_code=503)
    # ready for every request; the staff's finder answers once its copy is built (until
    # then a finder request waits for it)
    finder = "ready" if services.homestays.finder.built else "building"
    # which API process answered (one of several behind one port: `serve --workers N`), and
    # whether its search copies are the ones the parent built before forking it (shared)
    return JSONResponse(
        {
            "status": "ready",
            "finder": finder,
            "process": os.getpid(),
            "copies": getattr(request.app.state, "copies", "own"),
        }
    )


async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
