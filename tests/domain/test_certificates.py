from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from homestay.domain.certificates import (
    NUMBER_PATTERN,
    CertificateStatus,
    effective_status,
    expiry,
    format_number,
)

V, SU, R, E, SS = (
    CertificateStatus.VALID,
    CertificateStatus.SUSPENDED,
    CertificateStatus.REVOKED,
    CertificateStatus.EXPIRED,
    CertificateStatus.SUPERSEDED,
)
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stored", "expires", "expected"),
    [
        (V, NOW + timedelta(days=1), V),
        (V, NOW, E),  # expiry is exclusive: at the instant it expires it is EXPIRED
        (V, NOW - timedelta(days=1), E),
        (SU, NOW + timedelta(days=1), SU),
        (SU, NOW - timedelta(days=1), E),
        (R, NOW - timedelta(days=1), R),
        (SS, NOW - timedelta(days=1), SS),
        (SS, NOW + timedelta(days=1), SS),
    ],
)
def test_status_as_of_now(stored, expires, expected):
    assert effective_status(stored, expires, NOW) is expected


def test_three_years_by_default_and_readable_numbers():
    assert expiry(NOW, 3 * 365) == NOW + timedelta(days=1095)
    number = format_number("330521", 2026, 42)
    assert number == "330521-2026-00042"
    assert NUMBER_PATTERN.match(number)
    assert not NUMBER_PATTERN.match('{"$ne": null}')
