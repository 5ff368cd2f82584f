"""Scalars with the product's rules: a DateTime is an instant, and a time without an offset
is read as China time (UTC+8), the time the bureau and the inspectors read on their clocks."""

from __future__ import annotations

from datetime import datetime

import strawberry

from homestay.clock import CST, EARLIEST, LATEST, within_range


class InvalidValue(ValueError):
    """A value of a scalar that the product refuses: BAD_USER_INPUT, in a literal too."""


def parse_datetime(raw: object) -> datetime:
    if not isinstance(raw, str):
        raise InvalidValue("a DateTime is an ISO-8601 string, e.g. 2026-03-31T09:30:00+08:00")
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidValue(
            f"{raw!r} is not an ISO-8601 time, e.g. 2026-03-31T09:30:00+08:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CST)
    if not within_range(moment):
        raise InvalidValue(f"{raw!r} lies outside {EARLIEST.year}-{LATEST.year - 1}")
    return moment


DateTime = strawberry.scalar(
    name="DateTime",
    description="An instant, ISO-8601 with an offset (2026-03-31T09:30:00+08:00). A time "
    "given without an offset is read as China time (UTC+8); years 2000-2199.",
    serialize=lambda value: value.isoformat(),
    parse_value=parse_datetime,
)
