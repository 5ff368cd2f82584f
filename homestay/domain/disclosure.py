"""What the public sees: one rule for every field, page and feed.

A certificate is public by its number, whatever its status: verifying it is the point (a
tourist must learn that the plaque on the door was revoked). What it shows the public is its
number, grade, status, dates and standard, and the stay's name and county. Scores, the
inspection, its people and the history are private: for staff of the certificate's county
and for the homestay's own operator.

A homestay is public only while it is listed: its current certificate VALID now. An
uncertified stay, or one whose certificate was suspended, revoked or has expired, is not
shown to the public at all (its address, rooms and point are a private home's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from homestay.auth import Caller
from homestay.domain.certificates import CertificateStatus
from homestay.domain.grades import Grade
from homestay.domain.listings import name_in

# the certificate's fields as the open-data feed and the verification page name them
PUBLIC_CERTIFICATE_FIELDS = frozenset(
    {
        "number",
        "grade",
        "gradeLabel",
        "status",
        "issuedAt",
        "expiresAt",
        "standard",
        "homestayName",
        "county",
        "countyName",
    }
)
# what a listed stay shows besides: where it is
PUBLIC_LISTING_FIELDS = frozenset({"town", "address", "lat", "lng"})


def sees_private_data(caller: Caller, county: str, homestay_id: str) -> bool:
    """Scores, inspections, people and histories of a homestay: the county's own staff, and
    the homestay's operator (its own, never another's)."""
    return caller.can_act_in(county) or caller.operates(homestay_id)


def homestay_is_public(status: CertificateStatus | None) -> bool:
    """A homestay is shown to the public while its current certificate is VALID."""
    return status is CertificateStatus.VALID


def sees_homestay(
    caller: Caller, county: str, homestay_id: str, status: CertificateStatus | None
) -> bool:
    return sees_private_data(caller, county, homestay_id) or homestay_is_public(status)


@dataclass(frozen=True)
class PublicCertificate:
    """A certificate as anyone may verify it: at a door, on a listing, in the feed."""

    number: str
    status: CertificateStatus  # as of now
    grade: Grade
    homestay_name: str  # in Chinese, as registered
    homestay_name_en: str | None
    county: str
    issued_at: datetime
    expires_at: datetime
    inspected_at: datetime | None  # the inspection behind it

    @property
    def listed(self) -> bool:
        return homestay_is_public(self.status)

    def homestay_name_in(self, lang: str) -> str:
        return name_in(self.homestay_name, self.homestay_name_en, lang)
