"""Stored documents converted to the domain's objects: the one place that reads their fields
for the rules (status, listing), so that a rename in storage is a change here only."""

from __future__ import annotations

from typing import Any

from homestay.domain.certificates import Certificate, CertificateAction, CertificateStatus
from homestay.domain.grades import Grade


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
