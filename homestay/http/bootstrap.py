"""The service starts before its database: collections, indexes and the seed are applied as soon
as it answers, and until then /readyz says 503 and GraphQL SERVICE_UNAVAILABLE."""

from __future__ import annotations

import asyncio
import gc
import logging

from pymongo.errors import PyMongoError
from starlette.applications import Starlette

from homestay.exports import read_model
from homestay.services import assignments, homestays, standards
from homestay.settings import Settings
from homestay.storage.database import Database, apply_schema

log = logging.getLogger("homestay.http")


async def bootstrap(app: Starlette, database: Database, settings: Settings) -> None:
    """Collections, validators, indexes and the seed standard, once the database answers:
    the service starts (and says it is not ready) while the database is still coming up.
    Then the grade lists' read model, and its reconciler for as long as the service runs."""
    delay = 0.5
    while True:
        try:
            await apply_schema(database)
            await standards.publish_seed(database, settings.seed_dir)
            # the listed stays into this process's search index before it says it is ready
            index = app.state.services.search.index
            await index.refresh()
            app.state.schema_applied = True
            settled()
            log.info("database ready: schema applied, %d listed stays indexed", len(index))
            break
        except PyMongoError as exc:
            log.warning(
                "database not answering yet (%s); retrying in %.1f s", type(exc).__name__, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    # the registered homestays into the finder's copy, for the staff's finder: after the
    # service says it is ready (tourists do not wait for it; at 200,000 homestays the read
    # takes seconds), and a finder request that comes first waits for it
    finder = app.state.services.homestays.finder
    while True:
        try:
            await finder.refresh()
            log.info("finder ready: %d homestays", len(finder))
            break
        except PyMongoError as exc:
            log.warning("finder not built yet (%s)", type(exc).__name__)
            await asyncio.sleep(5.0)
    # the grade lists' read model: built whole once (exports read the certificates until
    # then), then kept healed by a reconciler
    while True:
        try:
            await read_model.ensure_built(database)
            await homestays.ensure_findable(database)
            if retired := await homestays.retire_cells(database):
                log.info("H3 cells removed from %d documents", retired)
            changed, unknown = await homestays.ensure_facility_codes(database)
            if changed or unknown:
                log.info(
                    "facilities: %d homestays read as codes, %d unknown words kept",
                    changed,
                    unknown,
                )
            break
        except PyMongoError as exc:
            log.warning("certificate rows not built yet (%s)", type(exc).__name__)
            await asyncio.sleep(5.0)
    # the grade lists healed, and inspectors told of tomorrow's assignments, while it runs
    await asyncio.gather(
        read_model.reconcile_forever(database), assignments.remind_forever(database)
    )


def settled() -> None:
    """What the process holds from here on (modules, the schema, both indexes: a hundred
    thousand objects the collector tracks) is set aside from the cyclic garbage collector,
    whose full collections would otherwise walk them all, a pause in whichever requests are
    running. Objects freed by their last reference still go at once."""
    gc.collect()
    gc.freeze()
