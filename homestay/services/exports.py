"""Grade lists for the bureau (CSV, XLSX, JSON) and the public open-data feed.

Every format streams: rows are read with a database cursor in batches and written out a
batch at a time, so memory stays flat whatever the number of certificates. Times are shown in
China Standard Time (UTC+08:00, no daylight saving), the time the bureau reads and signs in.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from functools import lru_cache
from typing import Any

from homestay.clock import CST, EARLIEST, LATEST, within_range
from homestay.domain.certificates import (
    LAPSING,
    LAPSING_VALUES,
    CertificateStatus,
    effective_status,
)
from homestay.domain.disclosure import PUBLIC_CERTIFICATE_FIELDS, PUBLIC_LISTING_FIELDS
from homestay.domain.gazetteer import gazetteer
from homestay.domain.grades import Grade
from homestay.errors import BadUserInput
from homestay.services import rows
from homestay.storage.database import Database

BATCH = 1000
SHEET_NAME = "民宿等级名录"


class ExportFormat(Enum):
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"

    @property
    def media_type(self) -> str:
        return {ExportFormat.CSV: "text/csv; charset=utf-8",
                ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument"
                                   ".spreadsheetml.sheet",
                ExportFormat.JSON: "application/json; charset=utf-8"}[self]


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str

    def title(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


COLUMNS: tuple[Column, ...] = (
    Column("number", "证书编号", "Certificate number"),
    Column("homestayName", "民宿名称", "Homestay"),
    Column("county", "县(市、区)代码", "County code"),
    Column("countyName", "县(市、区)", "County"),
    Column("town", "乡镇(街道)", "Town"),
    Column("address", "地址", "Address"),
    Column("grade", "等级代码", "Grade code"),
    Column("gradeLabel", "等级", "Grade"),
    Column("status", "状态代码", "Status code"),
    Column("statusLabel", "状态", "Status"),
    Column("issuedAt", "发证时间(北京时间)", "Issued (UTC+8)"),
    Column("expiresAt", "有效期至(北京时间)", "Expires (UTC+8)"),
    Column("lat", "纬度(WGS-84)", "Latitude (WGS-84)"),
    Column("lng", "经度(WGS-84)", "Longitude (WGS-84)"),
    Column("standard", "评定标准", "Grading standard"),
    Column("totalPoints", "总分", "Total points"),
)
_DATES = frozenset({"issuedAt", "expiresAt"})


@dataclass(frozen=True)
class ExportQuery:
    """Which certificates: None for counties means every county (the command line only)."""

    counties: Sequence[str] | None
    grade: Grade | None = None
    status: CertificateStatus | None = None
    issued_from: datetime | None = None
    issued_to: datetime | None = None  # exclusive
    expiring_before: datetime | None = None

    def matches(self, cert: dict, now: datetime) -> bool:
        """The same test as filter(), on a row in hand (counties are chosen by the read)."""
        if self.counties is not None and cert["county"] not in self.counties:
            return False
        if self.grade is not None and cert["grade"] != self.grade.value:
            return False
        if self.status is not None and effective_status(
                CertificateStatus(cert["status"]), cert["expiresAt"], now) is not self.status:
            return False
        if self.expiring_before is not None and not cert["expiresAt"] < self.expiring_before:
            return False
        if self.issued_from is not None and cert["issuedAt"] < self.issued_from:
            return False
        return self.issued_to is None or cert["issuedAt"] < self.issued_to

    def filter(self, now: datetime) -> dict[str, Any]:
        match: dict[str, Any] = {}
        if self.counties is not None:
            match["county"] = {"$in": list(self.counties)}
        if self.grade is not None:
            match["grade"] = self.grade.value
        expires: dict[str, Any] = {}
        if self.status is CertificateStatus.EXPIRED:
            match["status"] = {"$in": LAPSING_VALUES}
            expires["$lte"] = now
        elif self.status in LAPSING:
            match["status"] = self.status.value
            expires["$gt"] = now
        elif self.status is not None:
            match["status"] = self.status.value
        if self.expiring_before is not None:
            expires["$lt"] = self.expiring_before
        if expires:
            match["expiresAt"] = expires
        issued: dict[str, Any] = {}
        if self.issued_from is not None:
            issued["$gte"] = self.issued_from
        if self.issued_to is not None:
            issued["$lt"] = self.issued_to
        if issued:
            match["issuedAt"] = issued
        return match


def parse_moment(field: str, raw: str, *, end_of_day: bool = False) -> datetime:
    """A date (a whole day in China Standard Time) or an ISO-8601 time with an offset."""
    raw = raw.strip()
    try:
        if len(raw) == 10:
            moment = datetime.combine(date.fromisoformat(raw), time(), CST)
            if end_of_day and within_range(moment):
                moment += timedelta(days=1)
        else:
            moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadUserInput(field, f"{raw!r} is not a date (2026-03-31) or an ISO-8601 time "
                                  "with an offset") from None
    if moment.tzinfo is None:
        raise BadUserInput(field, "give the time with an offset, e.g. 2026-03-31T00:00:00+08:00")
    if not within_range(moment):
        raise BadUserInput(field, f"{raw!r} lies outside {EARLIEST.year}-{LATEST.year - 1}")
    return moment


def parse_enum(field: str, raw: str, enum: type[Enum]) -> Any:
    try:
        return enum(raw.strip().upper())
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum)
        raise BadUserInput(field, f"{raw!r} is not one of {allowed}") from None


def query_from_params(params: dict[str, str], counties: Sequence[str] | None) -> ExportQuery:
    """The filters of an export request; `counties` is what the caller may see, already checked."""
    unknown = sorted(set(params) - {"county", "grade", "status", "issuedFrom", "issuedTo",
                                    "expiringBefore", "lang"})
    if unknown:
        raise BadUserInput(unknown[0], "unknown parameter; filters are county, grade, status, "
                                       "issuedFrom, issuedTo, expiringBefore")
    grade = parse_enum("grade", params["grade"], Grade) if params.get("grade") else None
    status = (parse_enum("status", params["status"], CertificateStatus)
              if params.get("status") else None)
    issued_from = parse_moment("issuedFrom", params["issuedFrom"]) \
        if params.get("issuedFrom") else None
    issued_to = parse_moment("issuedTo", params["issuedTo"], end_of_day=True) \
        if params.get("issuedTo") else None
    if issued_from and issued_to and issued_to <= issued_from:
        raise BadUserInput("issuedTo", "issuedTo comes before issuedFrom")
    expiring = parse_moment("expiringBefore", params["expiringBefore"]) \
        if params.get("expiringBefore") else None
    return ExportQuery(counties=counties, grade=grade, status=status, issued_from=issued_from,
                       issued_to=issued_to, expiring_before=expiring)


@lru_cache(maxsize=256)
def _county_name(code: str, lang: str) -> str:
    county = gazetteer().county(code)
    if county is None:
        return code
    return county.name_en if lang == "en" else county.name_zh


def row_of(cert: dict, now: datetime, lang: str = "zh") -> dict[str, Any]:
    listing = cert.get("listing") or {}
    grade = Grade(cert["grade"])
    location = listing.get("location")
    lng, lat = location["coordinates"] if location else (None, None)  # GeoJSON: lng first
    standard = cert.get("standard")
    status = effective_status(CertificateStatus(cert["status"]), cert["expiresAt"], now)
    return {
        "number": cert["_id"],
        "homestayName": listing.get("name"),
        "county": cert["county"],
        "countyName": _county_name(cert["county"], lang),
        "town": listing.get("town"),
        "address": listing.get("address"),
        "grade": grade.value,
        "gradeLabel": grade.label["en" if lang == "en" else "zh"],
        "status": status.value,
        "statusLabel": status.label["en" if lang == "en" else "zh"],
        "issuedAt": cert["issuedAt"].astimezone(CST),
        "expiresAt": cert["expiresAt"].astimezone(CST),
        "lat": round(lat, 6) if lat is not None else None,
        "lng": round(lng, 6) if lng is not None else None,
        "standard": f"{standard['code']} v{standard['version']}" if standard else None,
        "totalPoints": cert.get("totalPoints"),
    }


async def certificate_rows(db: Database, query: ExportQuery, now: datetime,
                           lang: str = "zh") -> AsyncIterator[list[dict[str, Any]]]:
    """Batches of rows, in certificate-number order (county, year, sequence).

    From the read model (buckets of 100 rows: homestay/services/rows.py) once it is built,
    filtered here; until then from the certificates themselves, filtered by the database
    (the (county, _id) index serves a county list's filter and order)."""
    source: AsyncIterator[dict[str, Any]]
    if await rows.is_built(db):
        source = (cert async for cert in rows.rows_in_order(db, query.counties)
                  if query.matches(cert, now))
    else:
        source = aiter(db.certificates.find(query.filter(now), rows.ROW_PROJECTION,
                                            batch_size=BATCH, allow_disk_use=True).sort("_id", 1))
    batch: list[dict[str, Any]] = []
    async for cert in source:
        batch.append(row_of(cert, now, lang))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def count_rows(db: Database, query: ExportQuery, now: datetime) -> int:
    return await db.certificates.count_documents(query.filter(now))


# -- writers: each turns batches of rows into chunks of bytes ---------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(key: str, value: Any) -> Any:
    if value is None:
        return ""
    if key in _DATES:
        return value.isoformat(timespec="seconds")
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        # a name like =HYPERLINK(...) must stay text when a spreadsheet opens the file
        return "'" + value
    return value


async def csv_chunks(batches: AsyncIterator[list[dict]], lang: str = "zh") -> AsyncIterator[bytes]:
    """UTF-8 with a byte-order mark (so Excel reads Chinese right), RFC 4180 quoting, CRLF."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.title(lang) for c in COLUMNS])
    yield b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
    async for batch in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([_csv_cell(c.key, row[c.key]) for c in COLUMNS] for row in batch)
        yield buffer.getvalue().encode("utf-8")


def _json_value(value: Any) -> Any:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value


async def json_chunks(batches: AsyncIterator[list[dict]]) -> AsyncIterator[bytes]:
    """A JSON array of objects, one per line."""
    yield b"["
    first = True
    async for batch in batches:
        lines = (json.dumps({k: _json_value(v) for k, v in row.items()}, ensure_ascii=False)
                 for row in batch)
        text = ",\n".join(lines)
        yield (("\n" if first else ",\n") + text).encode("utf-8")
        first = False
    yield b"\n]\n"


class _Sheet:
    """An XLSX workbook written row by row in xlsxwriter's constant-memory mode to a
    temporary file (a zip is only complete at its end), then read back in chunks."""

    def __init__(self, lang: str) -> None:
        import xlsxwriter

        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by chunks()
        self.book = xlsxwriter.Workbook(self.file, {"constant_memory": True,
                                                    "strings_to_formulas": False,
                                                    "strings_to_urls": False})
        self.sheet = self.book.add_worksheet(SHEET_NAME)
        header = self.book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        self.date = self.book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        self.sheet.freeze_panes(1, 0)
        widths = {"number": 20, "homestayName": 28, "countyName": 12, "town": 14,
                  "address": 40, "gradeLabel": 10, "issuedAt": 17, "expiresAt": 17,
                  "standard": 20}
        for i, column in enumerate(COLUMNS):
            self.sheet.set_column(i, i, widths.get(column.key, 12))
            self.sheet.write_string(0, i, column.title(lang), header)
        self.row = 1

    def write(self, batch: list[dict]) -> None:
        for row in batch:
            for i, column in enumerate(COLUMNS):
                value = row[column.key]
                if value is None:
                    continue
                if column.key in _DATES:  # typed: Excel sorts and filters them as dates
                    self.sheet.write_datetime(self.row, i, value.replace(tzinfo=None), self.date)
                elif isinstance(value, (int, float)):
                    self.sheet.write_number(self.row, i, value)
                else:
                    self.sheet.write_string(self.row, i, value)
            self.row += 1

    def close(self) -> None:
        if self.row > 1:
            self.sheet.autofilter(0, 0, self.row - 1, len(COLUMNS) - 1)
        self.book.close()
        self.file.seek(0)


async def xlsx_chunks(batches: AsyncIterator[list[dict]], lang: str = "zh",
                      chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
    sheet = _Sheet(lang)
    try:
        async for batch in batches:
            await asyncio.to_thread(sheet.write, batch)  # CPU work off the event loop
        await asyncio.to_thread(sheet.close)
        while chunk := await asyncio.to_thread(sheet.file.read, chunk_size):
            yield chunk
    finally:
        sheet.file.close()


def chunks_of(fmt: ExportFormat, batches: AsyncIterator[list[dict]],
              lang: str = "zh") -> AsyncIterator[bytes]:
    if fmt is ExportFormat.CSV:
        return csv_chunks(batches, lang)
    if fmt is ExportFormat.XLSX:
        return xlsx_chunks(batches, lang)
    return json_chunks(batches)


def file_name(fmt: ExportFormat, counties: Iterable[str] | None, today: date) -> str:
    scope = "-".join(sorted(counties)) if counties else "all"
    if len(scope) > 60:
        scope = "counties"
    return f"certificates-{scope}-{today:%Y%m%d}.{fmt.value}"


# -- the open-data feed ------------------------------------------------------------------------

OPEN_DATA_QUERY = ExportQuery(counties=None, status=CertificateStatus.VALID)
FEED_FORMAT = "1"


async def open_data_changed_at(db: Database, now: datetime) -> datetime:
    """When the set of VALID certificates, or anything shown of them, last changed.

    Every write to a certificate sets its updatedAt; the only change without a write is a
    VALID certificate reaching its expiry, so the later of the last write and the last
    expiry passed is the feed's modification time. Index-backed single-document reads.
    """
    # the feed is read from the read model once it is built: its newest bucket says when
    # its rows last changed (a row healed late moves it then, not before)
    written = db.certificate_rows if await rows.is_built(db) else db.certificates
    last_write = await written.find_one({}, {"updatedAt": 1}, sort=[("updatedAt", -1)])
    last_lapse = await db.certificates.find_one(
        {"status": "VALID", "expiresAt": {"$lte": now}}, {"expiresAt": 1},
        sort=[("expiresAt", -1)])
    moments = [datetime(2000, 1, 1, tzinfo=UTC)]
    if last_write is not None and last_write.get("updatedAt"):
        moments.append(last_write["updatedAt"])
    if last_lapse is not None:
        moments.append(last_lapse["expiresAt"])
    return max(moments)


# the feed lists VALID certificates only: a listed stay's public fields, and nothing else
_OPEN_FIELDS = ("number", "homestayName", "county", "countyName", "town", "address", "grade",
                "gradeLabel", "issuedAt", "expiresAt", "lat", "lng", "standard")
assert set(_OPEN_FIELDS) <= PUBLIC_CERTIFICATE_FIELDS | PUBLIC_LISTING_FIELDS


async def open_data_rows(db: Database, now: datetime) -> AsyncIterator[list[dict]]:
    """VALID certificates only, and only what a listing shows: no people, no scores."""
    async for batch in certificate_rows(db, OPEN_DATA_QUERY, now):
        yield [{k: row[k] for k in _OPEN_FIELDS} for row in batch]
