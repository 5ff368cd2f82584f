"""What forked API workers hold beside the parent that built the copies, at province scale,
with no database: the stay index and the finder fed by hand (as bench/changes.py feeds them),
then N workers forked as `serve --workers N` forks them (http/workers.py), each making the
app, searching, finding and applying changes, then measured from /proc (PSS and private
pages, as bench/search.py --workers measures served workers).

Why by hand: at 1,000,000 stays the embedded database takes tens of seconds over the reads
a build makes (SecantusDB, one Python process, ~40 µs a document), which `bench --workers
--stays 1000000` measures as served; this measures the part that is the API's alone: what
the copies cost, shared and per worker, and how long they take to build from documents read.

    python3 dev.py bench-forked                          # 1,000,000 stays, 2 workers
    python3 dev.py bench-forked --stays 200000 --workers 4
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from changes import changed, homestay_of, inspectors_find, searches  # noqa: E402
from common import shared_memory  # noqa: E402
from search import COUNTIES, certificate_docs  # noqa: E402

from homestay.http.app import create_app  # noqa: E402
from homestay.http.workers import _shared  # noqa: E402
from homestay.search.finder import FinderIndex  # noqa: E402
from homestay.search.index import StayIndex  # noqa: E402
from homestay.services.registry import Services  # noqa: E402
from homestay.settings import Settings  # noqa: E402
from homestay.storage.database import open_database  # noqa: E402

MIB = 1024 * 1024
CHUNK = 5_000


def _documents(stays: int, changes: int, out: Connection) -> None:
    """In a process of its own, as a database would send them: the documents CHUNK at a
    time, then the changes, so that the builder never holds them all (a real build reads
    in chunks and drops each)."""
    docs = certificate_docs(stays)
    for at in range(0, len(docs), CHUNK):
        out.send(docs[at : at + CHUNK])
    rng = random.Random(5)
    out.send(
        [
            changed(rng.choice(docs), rng.choice(["rename", "new", "county"]), n)
            for n in range(changes)
        ]
    )
    out.send(None)
    out.close()


def built(stays: int, changes: int) -> tuple[StayIndex, FinderIndex, list[dict], float]:
    """Both copies, from the documents as they arrive, and the changes; the seconds the
    copies' own work took (not the documents' making)."""
    index = StayIndex(None)  # type: ignore[arg-type]  # fed by hand: no database
    finder = FinderIndex(None)  # type: ignore[arg-type]
    receive, send = multiprocessing.Pipe(duplex=False)
    maker = multiprocessing.get_context("fork").Process(
        target=_documents, args=(stays, changes, send)
    )
    maker.start()
    send.close()
    took = 0.0
    previous: list[dict] = []
    while (chunk := receive.recv()) is not None:
        if previous:  # the last one sent is the changes
            began = time.perf_counter()
            index._fill(previous)
            finder._fill([homestay_of(doc) for doc in previous])
            took += time.perf_counter() - began
        previous = chunk
    maker.join()
    began = time.perf_counter()
    index._build_done()  # as their builds end (_load)
    finder._build_done()
    took += time.perf_counter() - began
    return index, finder, previous, took


def worker(index, finder, changes: list[dict], ready: int, seed: int) -> None:
    """What a worker does after the fork, less HTTP: its app (over a client that never
    connects), searches of every kind, finds, and the changes a day brings, applied."""
    settings = replace(Settings.from_env({}), mongodb_uri="mongodb://127.0.0.1:9/?connect=false")
    services = Services.build(settings, open_database(settings.mongodb_uri, "bench"))
    services.search.index, services.homestays.finder = index, finder
    create_app(settings, services)
    rng = random.Random(seed)
    for _ in range(50):
        searches(index)
        inspectors_find(finder, rng.choice(COUNTIES))
    index._apply_all(changes)
    for _ in range(20):
        searches(index)
    os.write(ready, b"x")
    time.sleep(3600)  # measured, then killed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stays", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--changes", type=int, default=1_000, help="applied in each worker")
    args = parser.parse_args()
    index, finder, changes, took = built(args.stays, args.changes)
    _shared()  # what the parent does before it forks (collect, freeze, give the heap back)
    parent = shared_memory(os.getpid())
    children, reads = [], []
    for n in range(args.workers):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                worker(index, finder, changes, write, n)
            finally:
                os._exit(0)
        os.close(write)
        children.append(pid)
        reads.append(read)
    for read in reads:
        if os.read(read, 1) != b"x":
            raise SystemExit("a worker died before it was measured: no figure stands")
    held = {pid: shared_memory(pid) for pid in [os.getpid(), *children]}
    for pid in children:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    total = sum(h["pss"] for h in held.values()) / MIB
    report = {
        "stays": args.stays,
        "copies_built_s": round(took, 1),
        "parent_rss_mb_before_fork": round(parent["rss"] / MIB),
        "parent_pss_mb": round(held[os.getpid()]["pss"] / MIB),
        "workers_rss_mb": [round(held[pid]["rss"] / MIB) for pid in children],
        "workers_pss_mb": [round(held[pid]["pss"] / MIB) for pid in children],
        "workers_private_mb": [round(held[pid]["private"] / MIB) for pid in children],
        "total_pss_mb": round(total),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
