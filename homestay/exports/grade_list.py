"""The grade list: which certificates (a filter with its Python and MongoDB forms side by side),
its columns and their titles in zh/en, and a certificate as a row of it. Pure: no reading, no
writing; the clock is an argument.

Times are shown in China Standard Time (UTC+08:00, no daylight saving), the time the bureau
reads and signs in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
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
from homestay.domain.gazetteer import gazetteer
from homestay.domain.grades import Grade
from homestay.errors import BadUserInput


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
DATES = frozenset({"issuedAt", "expiresAt"})


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
        if (
            self.status is not None
            and effective_status(CertificateStatus(cert["status"]), cert["expiresAt"], now)
            is not self.status
        ):
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
        raise BadUserInput(
            field, f"{raw!r} is not a date (2026-03-31) or an ISO-8601 time with an offset"
        ) from None
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


def query_of(
    counties: Sequence[str] | None,
    *,
    grade: str | None = None,
    status: str | None = None,
    issued_from: str | None = None,
    issued_to: str | None = None,
    expiring_before: str | None = None,
) -> ExportQuery:
    """The filters as people write them (an HTTP request's parameters, the command line's
    options), checked and named by field: `counties` is what the caller may see, already
    checked; `issued_to` is inclusive of a whole day."""
    grade_ = parse_enum("grade", grade, Grade) if grade else None
    status_ = parse_enum("status", status, CertificateStatus) if status else None
    from_ = parse_moment("issuedFrom", issued_from) if issued_from else None
    to = parse_moment("issuedTo", issued_to, end_of_day=True) if issued_to else None
    if from_ and to and to <= from_:
        raise BadUserInput("issuedTo", "issuedTo comes before issuedFrom")
    expiring = parse_moment("expiringBefore", expiring_before) if expiring_before else None
    return ExportQuery(
        counties=counties,
        grade=grade_,
        status=status_,
        issued_from=from_,
        issued_to=to,
        expiring_before=expiring,
    )


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
