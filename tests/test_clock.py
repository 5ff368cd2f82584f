"""The product's days are China days: which calendar day an instant falls on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from homestay.clock import china_date, shifted, today, utcnow


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        (datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC), date(2026, 12, 31)),  # 23:59:59 in China
        (datetime(2026, 12, 31, 16, 0, tzinfo=UTC), date(2027, 1, 1)),  # midnight: a new year
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), date(2027, 1, 1)),
        (datetime(2027, 1, 1, 0, 0, tzinfo=UTC), date(2027, 1, 1)),
        (datetime(2026, 11, 30, 16, 0, tzinfo=UTC), date(2026, 12, 1)),  # a new month
        (datetime(2028, 2, 28, 16, 0, tzinfo=UTC), date(2028, 2, 29)),  # the leap day begins
        (datetime(2028, 2, 29, 16, 0, tzinfo=UTC), date(2028, 3, 1)),
        (datetime(2027, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=8))), date(2027, 1, 1)),
        (datetime(2026, 12, 31, 9, 0, tzinfo=timezone(timedelta(hours=-8))), date(2027, 1, 1)),
    ],
)
def test_an_instant_falls_on_its_china_day(instant: datetime, day: date) -> None:
    assert china_date(instant) == day


@pytest.mark.calendar
def test_today_is_the_china_date_of_the_project_clock() -> None:
    assert today() == china_date(utcnow())
    with shifted(timedelta(days=1)):
        assert today() == china_date(utcnow())
