"""The one place that reads the wall clock, so that tests and the demo can move time.

The product's days are China days (UTC+8, no daylight saving): a certificate issued at 00:30
on 1 January in Deqing is a certificate of the new year, although UTC still reads 31 December.
Every calendar question (which day, month or year) goes through `china_date`/`today`, never
through `datetime.date()` of a UTC time nor the machine's local zone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta, timezone

# China Standard Time: no daylight saving, the time the bureau reads and signs in
CST = timezone(timedelta(hours=8), "CST")

_offset: ContextVar[timedelta] = ContextVar("clock_offset", default=timedelta(0))


def utcnow() -> datetime:
    # MongoDB keeps milliseconds: truncate so that what is stored reads back equal
    now = datetime.now(UTC) + _offset.get()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@contextmanager
def shifted(delta: timedelta) -> Iterator[None]:
    """Run a block as if the clock read `delta` later (earlier when negative)."""
    token = _offset.set(_offset.get() + delta)
    try:
        yield
    finally:
        _offset.reset(token)


def china_date(moment: datetime) -> date:
    """The China calendar day on which an instant falls."""
    return moment.astimezone(CST).date()


def today() -> date:
    """Today's date in China."""
    return china_date(utcnow())


# what the product can mean by a date: nothing before the scheme, nothing past its horizon
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def within_range(moment: datetime) -> bool:
    """Whether an aware instant lies in the years the product speaks of (2000-2199)."""
    try:
        return EARLIEST <= moment < LATEST
    except OverflowError:  # year 1 at +14:00 lies before the first instant Python holds
        return False
