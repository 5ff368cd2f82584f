"""Several API processes on one port (`homestay serve --workers N`): gunicorn's arbiter, uvicorn
in each worker (uvicorn-worker), the search copies built once in the parent and shared.

Why gunicorn's manager and not uvicorn's: each process holds the stay index and the finder's
copy, arrays and joined strings that grow with the province (docs/performance.md). uvicorn's
manager spawns its workers (a fresh interpreter each), so every worker would read the whole
province and hold its own copy. gunicorn forks them: the parent builds the copies once, and
every worker starts from them at once, their pages shared copy-on-write (numpy buffers and
long strings are not written by reference counting, and the parent freezes its objects out
of the collector's walks, gc.freeze, so that no collection in a worker touches them either);
a worker then holds only what it changes. gunicorn also replaces a worker that dies, restarts
them gracefully on SIGHUP, and stops them gracefully on SIGTERM (graceful_timeout); it is the
manager most Python deployments run.

The copies stay exact: before each fork (the first workers and every replacement) the parent
catches them up with the database, so that a worker starts from a copy seconds old; each
worker, over its own client, then catches them up before every use as a single process does
(search/caught_up.py). The parent holds no database client across a fork (PyMongo's clients
are not fork-safe): it opens one for each catch-up and closes it. If the parent cannot reach
the database at start (the service may start before it), the workers build their own copies,
as a single process does.

A worker ends with os._exit: it never unwinds the stack it was forked from (the parent's: the
embedded database's `with` in `serve`, which would stop the database for everyone).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

from gunicorn.app.base import BaseApplication
from pymongo.errors import PyMongoError
from uvicorn_worker import UvicornWorker

from homestay import heap
from homestay.search.finder import FinderIndex
from homestay.search.index import StayIndex
from homestay.settings import Settings
from homestay.storage.database import open_database

log = logging.getLogger("homestay.http")

GRACEFUL_S = 20  # requests in flight get this long when a worker stops
BUILD_TIMEOUT_MS = 10_000  # how long the parent waits for the database at start
CATCH_UP_TIMEOUT_MS = 2_000  # and before a fork (a worker replaced while it is down)


@dataclass
class Copies:
    """What the parent built and every worker starts from."""

    index: StayIndex
    finder: FinderIndex


async def _built(settings: Settings) -> Copies | None:
    assert settings.mongodb_uri
    database = open_database(
        settings.mongodb_uri, settings.database, serverSelectionTimeoutMS=BUILD_TIMEOUT_MS
    )
    try:
        copies = Copies(StayIndex(database), FinderIndex(database))
        # both at once: one's reads overlap the other's work on what it has read
        await asyncio.gather(copies.index.refresh(), copies.finder.refresh())
        return copies
    except PyMongoError as exc:
        log.warning(
            "the parent could not build the search copies (%s): each worker will",
            type(exc).__name__,
        )
        return None
    finally:
        await database.close()


async def _caught_up(settings: Settings, copies: Copies) -> None:
    assert settings.mongodb_uri
    database = open_database(
        settings.mongodb_uri, settings.database, serverSelectionTimeoutMS=CATCH_UP_TIMEOUT_MS
    )
    try:
        for copy in (copies.index, copies.finder):
            copy.adopt(database)
            await copy.refresh()
    except PyMongoError as exc:  # the worker catches up by itself
        log.warning(
            "the parent could not catch its copies up before a fork (%s)", type(exc).__name__
        )
    finally:
        await database.close()


def _shared() -> None:
    """What the parent holds now is set aside from the collector's walks, so that a worker's
    collections never write to its pages (Python's advice for fork without exec)."""
    gc.collect()
    gc.freeze()
    heap.give_back()


class _Worker(UvicornWorker):
    """uvicorn in a gunicorn worker, with the service's options (set by `serve`), ending by
    os._exit (see the module's docstring)."""

    CONFIG_KWARGS: dict[str, Any] = {}

    def init_process(self) -> None:
        code: Any = 0
        try:
            super().init_process()
        except SystemExit as exc:
            code = exc.code
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 0 if code is None else 1)


class Workers(BaseApplication):
    """gunicorn's arbiter over the app `create_app` makes in each worker, from the copies
    this parent built."""

    def __init__(self, settings: Settings, uvicorn_options: dict[str, Any], workers: int) -> None:
        self.settings = settings
        self.uvicorn_options = uvicorn_options
        self.workers = workers
        self.copies: Copies | None = None
        super().__init__()

    def load_config(self) -> None:
        assert self.cfg is not None
        options = dict(self.uvicorn_options)
        host, port = options.pop("host"), options.pop("port")
        worker = type("HomestayWorker", (_Worker,), {"CONFIG_KWARGS": options})
        for name, value in {
            "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
            "workers": self.workers,
            "worker_class": worker,
            "graceful_timeout": GRACEFUL_S,
            # a worker whose loop has not ticked for this long is replaced (uvicorn ticks
            # every timeout/2 while it serves)
            "timeout": 60,
            "keepalive": 5,
            "preload_app": False,  # the app is made in each worker; the copies are preloaded
            "pre_fork": self._pre_fork,
            "proc_name": "homestay",
            # gunicorn's runtime control socket (one path per user, shared by every serve
            # on the machine): not needed, signals do its work
            "control_socket_disable": True,
            "loglevel": logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower(),
        }.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        from homestay.http.app import create_app

        return create_app(self.settings, inherited=self.copies)

    def _pre_fork(self, server: Any, worker: Any) -> None:
        if self.copies is not None:
            asyncio.run(_caught_up(self.settings, self.copies))
            _shared()

    def run(self) -> None:
        """Build the copies here, then fork the workers and watch them until stopped."""
        self.copies = asyncio.run(_built(self.settings))
        if self.copies is not None:
            log.info(
                "parent built %d listed stays and %d homestays for its workers",
                len(self.copies.index),
                len(self.copies.finder),
            )
        _shared()
        super().run()
