"""Stored documents converted to the domain's objects: the one place that reads their fields
for the rules (status, listing), so that a rename in storage is a change here only."""

from __future__ import annotations

from typing import Any

from homestay.auth import Account, Role
from homestay.domain.appeals import Appeal, AppealDecision, AppealStatus, AppealSubject, Ruling
from homestay.domain.certificates import Certificate, CertificateEvent, CertificateStatus
from homestay.domain.concerns import Concern, ConcernCategory, ConcernStatus, Resolution
from homestay.domain.geo import from_geojson
from homestay.domain.grades import Grade
from homestay.domain.grading import ChecklistItem, ItemKind, Section, Standard
from homestay.domain.inspections import (
    Blocker,
    Inspection,
    InspectionRequest,
    InspectionStatus,
    ItemAnswer,
    Person,
    RequestStatus,
    Review,
    ReviewDecision,
)
from homestay.domain.listings import Homestay, Listing, ListingPhoto


def certificate(doc: dict[str, Any]) -> Certificate:
    standard = doc.get("standard") or {}
    listed = doc.get("listing")
    return Certificate(
        number=doc["_id"],
        county=doc["county"],
        homestay_id=doc["homestayId"],
        grade=Grade(doc["grade"]),
        stored_status=CertificateStatus(doc["status"]),
        issued_at=doc["issuedAt"],
        expires_at=doc["expiresAt"],
        total_points=doc.get("totalPoints"),
        inspection_id=doc.get("inspectionId"),
        standard_code=standard.get("code", ""),
        standard_version=standard.get("version", 0),
        listing=listing(listed) if listed else None,
        history=tuple(_event(e) for e in doc.get("history") or ()),
    )


def _event(doc: dict[str, Any]) -> CertificateEvent:
    by = doc.get("by") or {}
    return CertificateEvent(
        at=doc["at"],
        by=_person(by),
        by_role=by.get("role"),
        action=doc["action"],
        from_status=CertificateStatus(doc["from"]) if doc.get("from") else None,
        to_status=CertificateStatus(doc["to"]),
        reason=doc.get("reason"),
    )


def homestay(doc: dict[str, Any]) -> Homestay:
    return Homestay(id=doc["_id"], county=doc["county"], listing=listing(doc))


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


def _person(doc: dict[str, Any]) -> Person:
    return Person(doc.get("id"), doc.get("name"))


def inspection(doc: dict[str, Any]) -> Inspection:
    review = doc.get("review")
    point = doc.get("inspectorLocation")
    return Inspection(
        id=doc["_id"],
        client_submission_id=doc["clientSubmissionId"],
        homestay_id=doc["homestayId"],
        county=doc["county"],
        inspector=_person(doc["inspector"]),
        standard_code=doc["standard"]["code"],
        standard_version=doc["standard"]["version"],
        inspected_at=doc["inspectedAt"],
        submitted_at=doc["submittedAt"],
        status=InspectionStatus(doc["status"]),
        total_points=doc["totalPoints"],
        max_points=doc["maxPoints"],
        recommended_grade=Grade(doc["recommendedGrade"]) if doc.get("recommendedGrade") else None,
        results=tuple(
            ItemAnswer(
                r["itemCode"],
                r.get("passed"),
                r.get("points"),
                r.get("note"),
                tuple(r.get("photoUrls") or ()),
            )
            for r in doc["results"]
        ),
        blockers=tuple(
            Blocker(Grade(b["grade"]), b["kind"], b.get("itemCode"), b.get("missingPoints"))
            for b in doc["blockers"]
        ),
        review=Review(
            _person(review["reviewer"]),
            ReviewDecision(review["decision"]),
            review.get("comment"),
            review["at"],
        )
        if review
        else None,
        notes=doc.get("notes"),
        distance_from_homestay_m=doc.get("distanceFromHomestayMeters"),
        far_from_homestay=bool(doc.get("farFromHomestay")),
        inspector_point=from_geojson(point) if point else None,
        certificate_number=doc.get("certificateNumber"),
    )


def appeal(doc: dict[str, Any]) -> Appeal:
    ruling = doc.get("ruling")
    return Appeal(
        id=str(doc["_id"]),
        homestay_id=doc["homestayId"],
        county=doc["county"],
        subject=AppealSubject(doc["subject"]),
        reason=doc["reason"],
        status=AppealStatus(doc["status"]),
        appealed_at=doc["appealedAt"],
        appellant=_person(doc["appellant"]),
        decision_at=doc["appealed"]["at"],
        decision_by=_person(doc["appealed"]["by"]),
        ruling=Ruling(
            decision=AppealDecision(ruling["decision"]),
            reason=ruling["reason"],
            by=_person(ruling["by"]),
            at=ruling["at"],
        )
        if ruling
        else None,
        inspection_id=doc.get("inspectionId"),
        certificate_number=doc.get("certificateNumber"),
    )


def inspection_request(doc: dict[str, Any]) -> InspectionRequest:
    return InspectionRequest(
        id=str(doc["_id"]),
        homestay_id=doc["homestayId"],
        county=doc["county"],
        target_grade=Grade(doc["targetGrade"]) if doc.get("targetGrade") else None,
        note=doc.get("note"),
        status=RequestStatus(doc["status"]),
        requested_at=doc["requestedAt"],
        requested_by=_person(doc["requestedBy"]),
        closed_at=doc.get("closedAt"),
        inspection_id=doc.get("inspectionId"),
    )


def concern(doc: dict[str, Any]) -> Concern:
    done = doc.get("resolution")
    return Concern(
        id=str(doc["_id"]),
        receipt=doc["receipt"],
        certificate_number=doc["certificateNumber"],
        homestay_name=doc.get("homestayName", ""),
        county=doc["county"],
        category=ConcernCategory(doc["category"]),
        description=doc["description"],
        contact=doc.get("contact"),
        status=ConcernStatus(doc["status"]),
        reported_at=doc["reportedAt"],
        photo_ids=tuple(doc.get("photoIds") or ()),
        resolution=Resolution(by_name=done["by"]["name"] or "", at=done["at"], note=done["note"])
        if done
        else None,
    )


def standard(doc: dict[str, Any]) -> Standard:
    """A grading standard's version, as published (seed/standards) or stored."""
    items = tuple(
        ChecklistItem(
            code=i["code"],
            section=i["section"],
            kind=ItemKind(i["kind"]),
            title=i["title"],
            max_points=i.get("maxPoints"),
            required_for=Grade(i["requiredFor"]) if i.get("requiredFor") else None,
        )
        for i in doc["items"]
    )
    return Standard(
        code=doc["code"],
        version=doc["version"],
        items=items,
        thresholds={Grade(t["grade"]): t["minPoints"] for t in doc["thresholds"]},
        title=doc.get("title") or {},
        sections=tuple(Section(s["code"], s["title"]) for s in doc.get("sections") or ()),
    )


def account(doc: dict[str, Any]) -> Account:
    return Account(
        id=doc["_id"],
        role=Role(doc["role"]),
        name=doc["name"],
        counties=tuple(doc["counties"]),
        homestay_ids=tuple(doc.get("homestayIds") or ()),
        created_at=doc.get("createdAt"),
        created_by=doc.get("createdBy"),
    )
