"""The grade list's files: each writer turns batches of rows into chunks of bytes, so that a
download streams and memory stays flat whatever the number of certificates."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import tempfile
from collections.abc import AsyncIterator, Iterable
from datetime import date, datetime
from enum import Enum
from typing import Any

from homestay.exports.grade_list import COLUMNS, DATES

SHEET_NAME = "民宿等级名录"


class ExportFormat(Enum):
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"

    @property
    def media_type(self) -> str:
        return {
            ExportFormat.CSV: "text/csv; charset=utf-8",
            ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ExportFormat.JSON: "application/json; charset=utf-8",
        }[self]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(key: str, value: Any) -> Any:
    if value is None:
        return ""
    if key in DATES:
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
        lines = (
            json.dumps({k: _json_value(v) for k, v in row.items()}, ensure_ascii=False)
            for row in batch
        )
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
        self.book = xlsxwriter.Workbook(
            self.file,
            {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
        )
        self.sheet = self.book.add_worksheet(SHEET_NAME)
        header = self.book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        self.date = self.book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        self.sheet.freeze_panes(1, 0)
        widths = {
            "number": 20,
            "homestayName": 28,
            "countyName": 12,
            "town": 14,
            "address": 40,
            "gradeLabel": 10,
            "issuedAt": 17,
            "expiresAt": 17,
            "standard": 20,
        }
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
                if column.key in DATES:  # typed: Excel sorts and filters them as dates
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


async def xlsx_chunks(
    batches: AsyncIterator[list[dict]], lang: str = "zh", chunk_size: int = 256 * 1024
) -> AsyncIterator[bytes]:
    sheet = _Sheet(lang)
    try:
        async for batch in batches:
            await asyncio.to_thread(sheet.write, batch)  # CPU work off the event loop
        await asyncio.to_thread(sheet.close)
        while chunk := await asyncio.to_thread(sheet.file.read, chunk_size):
            yield chunk
    finally:
        sheet.file.close()


def chunks_of(
    fmt: ExportFormat, batches: AsyncIterator[list[dict]], lang: str = "zh"
) -> AsyncIterator[bytes]:
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
