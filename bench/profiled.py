"""Where a request's CPU goes in the API process: cProfile over REQUESTS requests of a case, made
in-process through the ASGI app as bench/instructions.py makes them, printed by own time and
by cumulative time.

    python3 dev.py bench-profile search-5km                       # 20,000 stays, in memory
    python3 dev.py bench-profile search-5km --stays 200000 --storage-path /tmp/b200k/db

The cases are instructions.py's. cProfile's own cost inflates calls many times over (a
function called a thousand times a request weighs more than it does unprofiled): read it for
where to look, then count the change with bench-instructions. Exits non-zero on any failed
request.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
from pathlib import Path

import httpx

sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]  # as instructions.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fail_on_errors  # noqa: E402
from instructions import RUNS, in_process, requests_of  # noqa: E402
from search import held_or_loaded  # noqa: E402

from homestay.http.bootstrap import settled  # noqa: E402
from homestay.storage.database import open_database  # noqa: E402
from homestay.storage.embedded import EmbeddedServer  # noqa: E402


async def _profile(args: argparse.Namespace) -> None:
    with EmbeddedServer(args.storage_path) as server:
        database = open_database(server.uri, "bench")
        await held_or_loaded(database, args.stays, args.storage_path)
        services, app = in_process(server.uri, database)
        document, variables, _, headers = RUNS[args.case]
        profiler = cProfile.Profile()
        errors: dict[str, int] = {}
        async with app.router.lifespan_context(app):
            await services.search.index.refresh()
            await services.homestays.finder.refresh()
            settled()
            transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                errors = await requests_of(
                    client, document, variables, headers, args.requests, profiler.enable
                )
                profiler.disable()
        await database.close()
    fail_on_errors(args.case, errors)
    stats = pstats.Stats(profiler)
    if args.save:
        stats.dump_stats(args.save)  # for pstats' callers and callees, or snakeviz
    print(f"{args.case}: {args.requests} requests, {args.stays} stays")
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=sorted(RUNS))
    parser.add_argument("--stays", type=int, default=20_000)
    parser.add_argument("--storage-path", default=":memory:")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--save", help="also write the raw profile here")
    asyncio.run(_profile(parser.parse_args()))


if __name__ == "__main__":
    main()
