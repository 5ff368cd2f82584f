"""Instructions per request in the API process, counted by callgrind: a figure that does not
depend on what else the machine is doing (wall-clock figures here move by 1.5-2x from one
hour to the next), so a change's effect can be read from one run before and one after.

    python3 dev.py bench-instructions            # every case
    python3 dev.py bench-instructions search-5km # one case

Needs valgrind and its header (Debian: apt-get install valgrind) and gcc. The script re-runs
itself under `valgrind --tool=callgrind --instr-atstart=no`; a small C shim (callgrind's
client requests) switches counting on around REQUESTS requests of each case, made in-process
through the ASGI app (httpx's ASGITransport, so the client's work is counted too: compare
runs, not cases). The database is the embedded server in its own process, not counted. Loads
STAYS stays as bench/search.py does. Exits non-zero on any failed request. A case's count
repeats within 0.5 % in the same position of the list; what ran before it (the garbage the
collector finds) can move it by up to 5 %, so compare a case run alone, or the same list.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

# httpx's ASGI transport imports sniffio on every request to ask whether trio runs; without
# sniffio installed that is a failed search of sys.path each time (~0.6 M instructions of the
# client counted with each request): None answers it at once
sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import UNLIMITED, error_kind, fail_on_errors  # noqa: E402
from search import CASES, CLUSTERS, SEARCH, TYPENAME, ZHEJIANG, asked, load  # noqa: E402

from homestay.http.app import create_app  # noqa: E402
from homestay.http.bootstrap import settled  # noqa: E402
from homestay.services.registry import Services  # noqa: E402
from homestay.settings import Settings  # noqa: E402
from homestay.storage.database import Database, open_database  # noqa: E402
from homestay.storage.embedded import EmbeddedServer  # noqa: E402

STAYS = 3000
WARM = 10
REQUESTS = 20
SHIM = """#include <valgrind/callgrind.h>
void counting_on(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void counting_off(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS; }
"""
# what Apollo and urql send: GraphQL over HTTP's media type first
APPS_ACCEPT = {"accept": "application/graphql-response+json, application/json;q=0.9"}
# name: (document, variables, whether the search service answers from a captured page,
# headers)
RUNS: dict[str, tuple[str, Any, bool, dict]] = {
    "typename": (TYPENAME, {}, False, {}),
    "search-5km": (SEARCH, CASES["r5km"], False, {}),
    "search-5km-apps-accept": (SEARCH, CASES["r5km"], False, APPS_ACCEPT),
    "search-5km-graphql-only": (SEARCH, CASES["r5km"], True, {}),
    # a new origin each request (seeded): pages not kept from the last one, two commands
    "search-5km-moving": (SEARCH, CASES["r5km, moving"], False, {}),
    "search-50km-text": (SEARCH, CASES["r50km+text"], False, {}),
    "clusters-z9": (CLUSTERS, {"bbox": ZHEJIANG, "zoom": 9}, False, {}),
}


def in_process(uri: str, database: Database) -> tuple[Services, Starlette]:
    """The service over `database` (named "bench") as production runs it, limits raised, to
    be called in this process through ASGI: its services and its app."""
    settings = replace(
        Settings.from_env(UNLIMITED), mongodb_uri=uri, database="bench", environment="production"
    )
    services = Services.build(settings, database)
    return services, create_app(settings, services)


async def requests_of(
    client: httpx.AsyncClient,
    document: str,
    variables: Any,
    headers: dict,
    count: int,
    measuring: Callable[[], Any],
) -> dict[str, int]:
    """WARM requests of a case, then `measuring()`, then `count` more: the errors seen, by
    kind."""
    errors: dict[str, int] = {}
    for turn in range(WARM + count):
        body = {"query": document, "variables": asked(variables)}
        if turn == WARM:
            measuring()
        answer = await client.post("/graphql", json=body, headers=headers)
        kind = error_kind(answer)
        if kind is not None:
            errors[kind] = errors.get(kind, 0) + 1
    return errors


def _shim(directory: Path) -> ctypes.CDLL:
    source, library = directory / "shim.c", directory / "shim.so"
    source.write_text(SHIM)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(library), str(source)], check=True)
    return ctypes.CDLL(str(library))


def _total(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):  # ("summary:" counts from the zeroing, not the dump)
            return int(line.split()[1])
    raise SystemExit(f"no totals in {dump}")


async def _count(names: list[str], out: Path) -> None:
    shim = _shim(out)
    with EmbeddedServer(":memory:") as server:
        database = open_database(server.uri, "bench")
        await load(database, STAYS)
        services, app = in_process(server.uri, database)
        real_search = services.search.search
        async with app.router.lifespan_context(app):
            # both copies built before anything is counted (the finder's is built after the
            # service is ready, in the background: its build would be counted with requests)
            await services.search.index.refresh()
            await services.homestays.finder.refresh()
            settled()  # and set aside from the collector, as the bootstrap does in service
            transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for name in names:
                    document, variables, stubbed, headers = RUNS[name]
                    services.search.search = real_search
                    if stubbed:  # the same page every time, without the search's own work
                        page = {}

                        async def captured(query, page=page):
                            if "it" not in page:
                                page["it"] = await real_search(query)
                            return page["it"]

                        services.search.search = captured
                    errors = await requests_of(
                        client, document, variables, headers, REQUESTS, shim.counting_on
                    )
                    shim.counting_off()  # a dump a case, numbered from 1
                    fail_on_errors(name, errors)
        await database.close()


def main() -> None:
    names = sys.argv[1:] or list(RUNS)
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        raise SystemExit(f"unknown case {unknown[0]!r}; the cases: {', '.join(RUNS)}")
    if os.environ.get("HOMESTAY_UNDER_CALLGRIND"):
        asyncio.run(_count(names, Path(os.environ["HOMESTAY_UNDER_CALLGRIND"])))
        return
    for tool in ("valgrind", "gcc"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed (Debian: apt-get install valgrind gcc)")
    if not Path("/usr/include/valgrind/callgrind.h").exists():
        raise SystemExit("valgrind's header is needed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory)
        run = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}/callgrind.out",
                sys.executable,
                __file__,
                *names,
            ],
            env={**os.environ, "HOMESTAY_UNDER_CALLGRIND": str(out)},
            stderr=subprocess.PIPE,
            text=True,
        )
        if run.returncode:
            sys.stderr.write(run.stderr[-4000:])
            raise SystemExit(f"the counted run failed ({run.returncode}): no figure stands")
        # one dump per case, numbered in order; the file without a number is the rest
        for n, name in enumerate(names, start=1):
            per_request = _total(out / f"callgrind.out.{n}") / REQUESTS
            print(f"{name:<26} {per_request / 1e6:8.2f} M instructions a request")


if __name__ == "__main__":
    main()
