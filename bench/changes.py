"""What one change costs the stay index, in-process: a rename, a new stay, a stay moved to
another county, each applied as a catch-up applies it, then the next search of each kind that
the change touches (a text most names hold, a county, the first page by name). And the
same for the staff's finder over as many homestays: a rename, then the next find of a page.
Issue #30 asks that renames and additions not be O(n) on the request path: run it at
200,000 and 1,000,000 stays and compare.

The index is fed by hand (as the tests feed it), so that only its own cost is measured: no
database, no HTTP. Prints, per kind of change, the change's cost and the next searches' cost
beside the same searches with nothing changed (p50 and p99, ms), and what each copy holds
in memory once built and at its build's peak.

    python3 dev.py bench-changes                     # 200,000 stays
    python3 dev.py bench-changes --stays 1000000 --changes 200
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search import COUNTIES, certificate_docs  # noqa: E402

from homestay.clock import utcnow  # noqa: E402
from homestay.domain import geo  # noqa: E402
from homestay.domain.finding import searchable  # noqa: E402
from homestay.domain.grades import ALL_GRADES  # noqa: E402
from homestay.search.finder import FinderIndex  # noqa: E402
from homestay.search.index import StayIndex  # noqa: E402

ANYWHERE = geo.LatLng(30.3, 120.1)
RANKS = frozenset(g.rank for g in ALL_GRADES)


def built(docs: list[dict]) -> StayIndex:
    index = StayIndex(None)  # type: ignore[arg-type]  # fed by hand: no database
    for at in range(0, len(docs), 5_000):
        index._fill(docs[at : at + 5_000])
    index._keys.settle()
    index._fit()
    index.cells()
    index._name_order()
    return index


def _found(index: StayIndex, county: str | None, text: str | None, radius_m: float) -> Any:
    return index.find(
        now=utcnow(),
        ranks=RANKS,
        county=county,
        text=text,
        bbox=None,
        origin=ANYWHERE,
        radius_m=radius_m,
    )


def searches(index: StayIndex) -> dict[str, float]:
    """The next search of each kind, in ms."""
    taken = {}
    for kind, county, text in [("text", None, "民宿"), ("county", COUNTIES[0], None)]:
        began = time.perf_counter()
        _found(index, county, text, 50_000).nearest(20, None)
        taken[kind] = (time.perf_counter() - began) * 1000
    began = time.perf_counter()
    index.first_by_name(_found(index, None, None, math.inf), None, None, 20)
    taken["by name"] = (time.perf_counter() - began) * 1000
    return taken


def changed(doc: dict, kind: str, n: int) -> dict:
    doc = {**doc, "listing": dict(doc["listing"]), "updatedAt": utcnow() + timedelta(seconds=n)}
    if kind == "rename":
        doc["listing"]["name"] = f"民宿改名{n:06d}"
    elif kind == "new":
        doc["_id"] = f"{doc['county']}-2030-{n:06d}"
        doc["listing"]["name"] = f"新民宿{n:06d}"
    else:  # to another county
        doc["county"] = COUNTIES[(COUNTIES.index(doc["county"]) + 1) % len(COUNTIES)]
    return doc


def homestay_of(doc: dict) -> dict:
    """What the finder reads of a certified stay's homestay."""
    return {
        "_id": doc["homestayId"],
        "county": doc["county"],
        "name": doc["listing"]["name"],
        "findText": searchable(doc["listing"]["name"], doc["listing"]["nameEn"]),
        "listedUntil": doc["expiresAt"],
        "updatedAt": doc["updatedAt"],
    }


def inspectors_find(finder: FinderIndex, county: str) -> None:
    """An inspector's next find: a text, a county, a page of 21."""
    finder.find(
        counties={county},
        ids=None,
        text="民宿1",
        certified=None,
        now=utcnow(),
        after=None,
        limit=21,
    )


def finder_changes(docs: list[dict], changes: int) -> dict:
    """The finder over a homestay a certificate: a rename, then an inspector's next find (a
    text, a county, a page of 21), beside the same find with nothing changed."""
    homestays = [homestay_of(doc) for doc in docs]
    finder = FinderIndex(None)  # type: ignore[arg-type]  # fed by hand: no database
    began = time.perf_counter()
    with held() as memory:
        for at in range(0, len(homestays), 5_000):
            finder._fill(homestays[at : at + 5_000])
        finder._ordered()
    built_s = time.perf_counter() - began

    def find() -> float:
        began = time.perf_counter()
        inspectors_find(finder, COUNTIES[0])
        return (time.perf_counter() - began) * 1000

    alone = [find() for _ in range(50)]
    rng = random.Random(6)
    applied, after = [], []
    for n in range(changes):
        homestay = dict(rng.choice(homestays))
        homestay["name"] = f"民宿改名{n:06d}"
        homestay["findText"] = searchable(homestay["name"], None)
        began = time.perf_counter()
        finder._apply_all([homestay])
        applied.append((time.perf_counter() - began) * 1000)
        after.append(find())
    return {
        "built_s": round(built_s, 1),
        **memory,
        "find alone p50 ms": _pct(alone, 0.5),
        "rename p50 / p99 ms": [_pct(applied, 0.5), _pct(applied, 0.99)],
        "next find p50 / p99 ms": [_pct(after, 0.5), _pct(after, 0.99)],
    }


@contextlib.contextmanager
def held() -> Iterator[dict]:
    """What the block leaves allocated (a copy's own memory: the documents it was fed were
    made before) and its peak, in MB, by tracemalloc (numpy reports its arrays to it). The
    build's time is then tracemalloc's too: the figure without it is bench/search.py's."""
    memory: dict = {}
    gc.collect()
    tracemalloc.start()
    try:
        yield memory
        gc.collect()
        now, peak = tracemalloc.get_traced_memory()
        memory.update(held_mb=round(now / 2**20), peak_mb=round(peak / 2**20))
    finally:
        tracemalloc.stop()


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stays", type=int, default=200_000)
    parser.add_argument("--changes", type=int, default=1_000, help="of each kind")
    args = parser.parse_args()
    docs = certificate_docs(args.stays)
    began = time.perf_counter()
    with held() as memory:
        index = built(docs)
    took = time.perf_counter() - began
    print(f"{args.stays} stays, index built in {took:.1f} s, {memory}", flush=True)
    rng = random.Random(5)
    alone = [searches(index) for _ in range(50)]
    report: dict = {"stays": args.stays, "index": memory, "alone": {}}
    for kind in alone[0]:
        report["alone"][kind] = {"p50_ms": _pct([a[kind] for a in alone], 0.5)}
    n = 0
    for kind in ["rename", "new", "county"]:
        applied, after = [], []
        for _ in range(args.changes):
            n += 1
            doc = changed(rng.choice(docs), kind, n)
            began = time.perf_counter()
            index._apply_all([doc])
            applied.append((time.perf_counter() - began) * 1000)
            after.append(searches(index))
            if kind == "new":
                docs.append(doc)
        report[kind] = {
            "change_p50_ms": _pct(applied, 0.5),
            "change_p99_ms": _pct(applied, 0.99),
            "change_mean_ms": round(statistics.fmean(applied), 3),
            **{
                f"next {search} p50 / p99 ms": [
                    _pct([a[search] for a in after], 0.5),
                    _pct([a[search] for a in after], 0.99),
                ]
                for search in after[0]
            },
        }
        print(kind, json.dumps(report[kind], ensure_ascii=False), flush=True)
    del index
    report["finder"] = finder_changes(docs, args.changes)
    print("finder", json.dumps(report["finder"], ensure_ascii=False), flush=True)
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
