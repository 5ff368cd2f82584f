"""Export benchmark: 100,000 certificates as CSV, XLSX and JSON through the HTTP API.

    python3 dev.py bench-export                 # 100,000 certificates
    python3 dev.py bench-export --rows 20000    # a quicker look

Loads the certificates into a fresh embedded server (or the MongoDB of MONGODB_URI, in a
database `bench_export` that it drops first) (the same documents as bench/search.py),
serves the API from a separate uvicorn process, downloads each export with a bureau token
for all eight counties, and reports rows per second end to end and the server process's peak
memory growth during the download (its peak RSS is reset just before, through
/proc/PID/clear_refs). For scale it also times the two halves on their own: the database
cursor alone (same filter and projection, nothing written) and rows built and written as CSV from
documents already in memory. Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

import httpx
import openpyxl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import error_kind, fail_on_errors, served_api  # noqa: E402
from search import COUNTIES, load  # noqa: E402

from homestay.clock import utcnow  # noqa: E402
from homestay.exports import feed, grade_list, read_model, writers  # noqa: E402
from homestay.services.accounts import create_account  # noqa: E402
from homestay.storage.database import open_database  # noqa: E402
from homestay.storage.embedded import EmbeddedServer  # noqa: E402

ROWS = 100_000


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def _rows_in(fmt: str, body: bytes) -> int:
    if fmt == "csv":
        return body.count(b"\r\n") - 1  # the header; no bench name holds a line break
    if fmt == "json":
        return len(json.loads(body))
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True)["民宿等级名录"]
    return sum(1 for _ in sheet.iter_rows(min_row=2, max_col=1, values_only=True))


async def download(url: str, token: str, fmt: str, pid: int, expected_rows: int) -> dict:
    """One export through HTTP; fails the benchmark unless every row arrived."""
    _reset_peak(pid)
    rss_before = _status_kb(pid, "VmRSS")
    body = bytearray()
    started = time.perf_counter()
    first_byte = None
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        async with client.stream(
            "GET", f"/exports/certificates.{fmt}", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            if response.status_code != 200:
                await response.aread()
                fail_on_errors(f"the {fmt} export", {error_kind(response) or "?": 1})
            async for chunk in response.aiter_bytes():
                if first_byte is None:
                    first_byte = time.perf_counter() - started
                body += chunk
    elapsed = time.perf_counter() - started
    peak = _status_kb(pid, "VmHWM")
    got = _rows_in(fmt, bytes(body))
    fail_on_errors(
        f"the {fmt} export", {f"{got} rows of {expected_rows}": int(got != expected_rows)}
    )
    return {
        "seconds": round(elapsed, 2),
        "first_byte_s": round(first_byte or 0, 3),
        "bytes": len(body),
        "peak_growth_mb": round((peak - rss_before) / 1024, 1),
    }


async def database_alone(uri: str, name: str) -> tuple[float, float]:
    """Documents a second from the certificates (filter and order by the database), and rows
    a second from the read model (nothing built or written)."""
    database = open_database(uri, name)
    query = grade_list.ExportQuery(counties=COUNTIES)
    started = time.perf_counter()
    count = 0
    async for _ in database.certificates.find(
        query.filter(utcnow()), read_model.ROW_PROJECTION, batch_size=feed.BATCH
    ).sort("_id", 1):
        count += 1
    certificates = count / (time.perf_counter() - started)
    started = time.perf_counter()
    count = 0
    async for _ in read_model.rows_in_order(database, COUNTIES):
        count += 1
    model = count / (time.perf_counter() - started)
    await database.close()
    return certificates, model


async def writer_alone(uri: str, name: str) -> float:
    """Rows built and written as CSV from documents already in memory: our side's ceiling."""
    database = open_database(uri, name)
    now = utcnow()
    query = grade_list.ExportQuery(counties=COUNTIES)
    docs = await database.certificates.find(query.filter(now), read_model.ROW_PROJECTION).to_list()
    await database.close()

    async def replay():
        for i in range(0, len(docs), feed.BATCH):
            yield [grade_list.row_of(d, now) for d in docs[i : i + feed.BATCH]]

    started = time.perf_counter()
    async for _ in writers.csv_chunks(replay()):
        pass
    return len(docs) / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args()

    given = os.environ.get("MONGODB_URI")
    with contextlib.nullcontext(None) if given else EmbeddedServer(":memory:") as server:
        uri = given or server.uri
        name = "bench_export"
        database = open_database(uri, name)
        await database.client.drop_database(name)
        loaded_s = await load(database, args.rows)
        officer = await create_account(database, role="BUREAU", name="bench", counties=COUNTIES)
        print(f"loaded {args.rows} certificates in {loaded_s:.1f} s", file=sys.stderr)
        started = time.perf_counter()
        await read_model.ensure_built(database)  # what the service does on its first start
        built_s = time.perf_counter() - started
        await database.close()
        print(f"read model built in {built_s:.1f} s", file=sys.stderr)

        results = {}
        async with served_api(uri, name) as (url, api):
            for fmt in ("csv", "json", "xlsx"):
                figures = await download(url, officer.token, fmt, api.pid, args.rows)
                figures["rows_per_s"] = round(args.rows / figures["seconds"])
                results[fmt] = figures
                print(
                    f"{fmt:<5} {figures['rows_per_s']:>8} rows/s  {figures['seconds']:>6.2f} s"
                    f"  first byte {figures['first_byte_s']:.3f} s  "
                    f"{figures['bytes'] / 1e6:>6.1f} MB  "
                    f"peak memory growth {figures['peak_growth_mb']:.1f} MB",
                    file=sys.stderr,
                )
        db_rate, model_rate = await database_alone(uri, name)
        csv_rate = await writer_alone(uri, name)
    print(
        f"\nalone: a find on the certificates {db_rate:,.0f} docs/s; the read model "
        f"{model_rate:,.0f} rows/s; rows built and written as CSV {csv_rate:,.0f} rows/s",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "rows": args.rows,
                "read_model_build_s": round(built_s, 1),
                "formats": results,
                "certificates_find_docs_per_s": round(db_rate),
                "read_model_rows_per_s": round(model_rate),
                "csv_writer_rows_per_s": round(csv_rate),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
