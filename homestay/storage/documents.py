"""Stored documents converted to the domain's objects: the one place that reads their fields
for the rules (status, listing), so that a rename in storage is a change here only."""

from __future__ import annotations

from typing import Any

from homestay.domain.certificates import Certificate, CertificateAction, CertificateStatus
from homestay.domain.geo import from_geojson
from homestay.domain.grades import Grade
from homestay.domain.listings import Listing, ListingPhoto


def certificate(doc: dict[str, Any]) -> Certificate:
    return Certificate(
        number=doc["_id"],
        county=doc["county"],
        homestay_id=doc["homestayId"],
        grade=Grade(doc["grade"]),
        stored_status=CertificateStatus(doc["status"]),
        issued_at=doc["issuedAt"],
        expires_at=doc["expiresAt"],
        total_points=doc.get("totalPoints"),
        suspensions=tuple(
            (e["at"], e.get("reason") or "")
            for e in doc.get("history", [])
            if e["action"] == CertificateAction.SUSPEND.value
        ),
    )


def listing(doc: dict[str, Any]) -> Listing:
    """A homestay document, or the listing its certificate carries (the same field names)."""
    return Listing(
        name=doc["name"],
        name_en=doc.get("nameEn"),
        address=doc.get("address") or "",
        town=doc.get("town"),
        point=from_geojson(doc["location"]),
        rooms=doc.get("rooms") or 1,
        facilities=tuple(doc.get("facilities") or ()),
        description=doc.get("description"),
        description_en=doc.get("descriptionEn"),
        phone=doc.get("phone"),
        price_min=doc.get("priceMin"),
        price_max=doc.get("priceMax"),
        photos=tuple(
            ListingPhoto(p["id"], p["width"], p["height"]) for p in doc.get("photos") or ()
        ),
    )
