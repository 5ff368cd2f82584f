"""The object types the three apps read: Homestay, Certificate, Inspection and their parts.

Nested objects come through per-request DataLoaders, so a list resolves in a constant number
of database round trips. Inspections and certificate histories are private: they resolve to
null for anyone but staff of the homestay's county and the homestay's own operator
(domain/disclosure.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from homestay.domain import geo
from homestay.domain.certificates import Certificate as DomainCertificate
from homestay.domain.certificates import CertificateStatus as DomainStatus
from homestay.domain.disclosure import sees_homestay, sees_private_data
from homestay.domain.facilities import FACILITIES
from homestay.domain.facilities import label as facility_label
from homestay.domain.grades import Grade as DomainGrade
from homestay.domain.grading import Answer, to_reach
from homestay.errors import BadUserInput
from homestay.graphql.common import (
    CertificateStatus,
    County,
    GeoPoint,
    Grade,
    Info,
    InspectionStatus,
    Node,
    ReviewDecision,
    global_id,
    localized,
)
from homestay.services import photos as listing_photos
from homestay.services import standards
from homestay.storage import documents

if TYPE_CHECKING:
    from homestay.graphql.appeals import Appeal


@strawberry.type
class Actor:
    id: strawberry.ID = strawberry.field(description="The account's id (an Account node).")
    name: str

    @classmethod
    def of(cls, person: dict) -> Actor:
        return cls(id=global_id("Account", person["id"] or ""), name=person["name"] or "")


@strawberry.type
class StandardRef:
    code: str
    version: int


@strawberry.type
class Facility:
    code: str
    label: str = strawberry.field(description="In the caller's language (Accept-Language).")
    label_zh: str
    label_en: str

    @classmethod
    def of(cls, code: str, lang: str) -> Facility:
        zh, en = FACILITIES[code]
        return cls(code=code, label=facility_label(code, lang), label_zh=zh, label_en=en)


@strawberry.type
class Photo:
    id: strawberry.ID
    width: int
    height: int

    @strawberry.field(description="The photo itself (JPEG, at most 2560 px on its long side).")
    def url(self, info: Info) -> str:
        return f"{info.context.services.settings.public_url}/photos/{self.id}"

    @strawberry.field(description="A thumbnail at least `width` pixels wide where there is "
                      f"one ({', '.join(map(str, listing_photos.WIDTHS))}): WebP for a client "
                      "that accepts it, JPEG otherwise; cached forever by its URL.")
    def thumbnail_url(self, info: Info, width: int) -> str:
        if not 1 <= width <= 10_000:
            raise BadUserInput("width", "must be 1 to 10,000 pixels")
        drawn = listing_photos.thumbnail_width(width)
        return f"{info.context.services.settings.public_url}/photos/{self.id}/{drawn}"


def _photos(doc: dict) -> list[Photo]:
    return [Photo(id=strawberry.ID(p["id"]), width=p["width"], height=p["height"])
            for p in doc.get("photos") or []]


@strawberry.type
class PriceRange:
    min: int
    max: int
    currency: str = "CNY"


def _listing_content(doc: dict) -> dict:
    return {"description_zh": doc.get("description"), "description_en": doc.get("descriptionEn"),
            "phone": doc.get("phone"), "photos": _photos(doc),
            "price_range": PriceRange(min=doc["priceMin"], max=doc["priceMax"])
            if doc.get("priceMin") is not None and doc.get("priceMax") is not None else None}


@strawberry.type
class Homestay(Node):
    name_zh: str = strawberry.field(description="The name as registered, in Chinese.")
    name_en: str | None
    address: str
    town: str | None
    rooms: int
    facilities: list[str]
    distance_meters: float | None = strawberry.field(
        default=None, description="Geodesic metres from `near`; set only in a search with near.")
    key: strawberry.Private[str]
    county_code: strawberry.Private[str]
    location_doc: strawberry.Private[dict]
    coord: strawberry.Private[geo.CoordSystem]
    known_certificate: strawberry.Private[dict | None] = None
    certificate_known: strawberry.Private[bool] = False
    description_zh: str | None = strawberry.field(
        default=None, description="The operator's description, in Chinese.")
    description_en: str | None = None
    phone: str | None = strawberry.field(
        default=None, description="The stay's public business phone.")
    price_range: PriceRange | None = strawberry.field(
        default=None, description="A night's price, from the operator.")
    photos: list[Photo] = strawberry.field(
        default_factory=list, description="The listing's photos, the cover first.")

    @strawberry.field(description="The first of `photos`, or null.")
    def cover_photo(self) -> Photo | None:
        return self.photos[0] if self.photos else None

    @strawberry.field(description="The facilities with their labels, in the vocabulary's "
                      "order (a word from before the vocabulary is left out).")
    def facility_details(self, info: Info) -> list[Facility]:
        mine = set(self.facilities)
        return [Facility.of(code, info.context.lang) for code in FACILITIES if code in mine]

    @strawberry.field(description="In the language of Accept-Language: descriptionEn for "
                      "English when there is one, the Chinese one otherwise.")
    def description(self, info: Info) -> str | None:
        if info.context.lang == "en":
            return self.description_en or self.description_zh
        return self.description_zh or self.description_en

    @classmethod
    def from_doc(cls, doc: dict, coord: geo.CoordSystem) -> Homestay:
        return cls(id=global_id("Homestay", doc["_id"]), key=doc["_id"],
                   name_zh=doc["name"], name_en=doc.get("nameEn"),
                   address=doc["address"], town=doc.get("town"), rooms=doc["rooms"],
                   facilities=doc.get("facilities") or [], county_code=doc["county"],
                   location_doc=doc["location"], coord=coord, **_listing_content(doc))

    @classmethod
    def from_certificate(cls, cert: dict, coord: geo.CoordSystem,
                         distance_m: float | None = None) -> Homestay:
        """A search hit: the certificate's listing holds what a tourist sees of the stay."""
        listing = cert["listing"]
        return cls(id=global_id("Homestay", cert["homestayId"]), key=cert["homestayId"],
                   name_zh=listing["name"], name_en=listing.get("nameEn"),
                   address=listing.get("address") or "", town=listing.get("town"),
                   rooms=listing.get("rooms") or 1, facilities=listing.get("facilities") or [],
                   distance_meters=distance_m, county_code=cert["county"],
                   location_doc=listing["location"], coord=coord,
                   known_certificate=cert, certificate_known=True, **_listing_content(listing))

    @strawberry.field(description="In the language of Accept-Language: nameEn for English "
                      "when there is one, the Chinese name otherwise.")
    def name(self, info: Info) -> str:
        return (self.name_en or self.name_zh) if info.context.lang == "en" else self.name_zh

    @strawberry.field
    def county(self, info: Info) -> County:
        return County.of(self.county_code, info.context.lang)

    @strawberry.field(description="In the coordSystem of the root field that asked for it.")
    def location(self) -> GeoPoint:
        return GeoPoint.from_geojson(self.location_doc, self.coord)

    async def _certificate(self, info: Info) -> dict | None:
        if self.certificate_known:
            return self.known_certificate
        return await info.context.current_certificates.load(self.key)

    @strawberry.field(description="The current certificate, whatever its status, or null.")
    async def certificate(self, info: Info) -> Certificate | None:
        cert = await self._certificate(info)
        return Certificate.from_doc(cert, self.coord) if cert else None

    @strawberry.field(description="Set only while the current certificate is VALID.")
    async def grade(self, info: Info) -> Grade | None:
        cert = await self._certificate(info)
        if cert is None:
            return None
        record = documents.certificate(cert)
        return record.grade if record.is_listed(info.context.now) else None


@strawberry.type
class CertificateEvent:
    at: datetime
    by: Actor
    by_role: str | None = strawberry.field(description="INSPECTOR or BUREAU at the time.")
    action: str
    from_status: CertificateStatus | None = strawberry.field(name="from")
    to_status: CertificateStatus = strawberry.field(name="to")
    reason: str | None


@strawberry.type
class Certificate(Node):
    number: str
    grade: Grade
    issued_at: datetime
    expires_at: datetime
    standard: StandardRef
    doc: strawberry.Private[dict]
    record: strawberry.Private[DomainCertificate]
    coord: strawberry.Private[geo.CoordSystem]

    @classmethod
    def from_doc(cls, doc: dict, coord: geo.CoordSystem) -> Certificate:
        return cls(id=global_id("Certificate", doc["_id"]), number=doc["_id"],
                   grade=DomainGrade(doc["grade"]), issued_at=doc["issuedAt"],
                   expires_at=doc["expiresAt"], standard=StandardRef(**doc["standard"]),
                   doc=doc, record=documents.certificate(doc), coord=coord)

    def _private(self, info: Info) -> bool:
        return sees_private_data(info.context.caller, self.doc["county"], self.doc["homestayId"])

    @strawberry.field(description="As of now: EXPIRED once past expiresAt.")
    def status(self, info: Info) -> CertificateStatus:
        return self.record.status_at(info.context.now)

    @strawberry.field
    def grade_label(self, info: Info) -> str:
        return localized(DomainGrade(self.doc["grade"]).label, info.context.lang)

    @strawberry.field(description="The points of the inspection behind it. Staff of the county "
                      "and the homestay's operator only; null for anyone else.")
    def total_points(self, info: Info) -> int | None:
        if not self._private(info):
            return None
        return self.doc.get("totalPoints")

    @strawberry.field(description="The stay as certified. For the public, only while this "
                      "certificate is VALID; null otherwise.")
    def homestay(self, info: Info) -> Homestay | None:
        if not sees_homestay(info.context.caller, self.record.county, self.doc["homestayId"],
                             self.record.status_at(info.context.now)):
            return None
        return Homestay.from_certificate(self.doc, self.coord)

    @strawberry.field(description="Staff of the county and the homestay's operator only; null "
                      "for anyone else.")
    async def inspection(self, info: Info) -> Inspection | None:
        if not self._private(info):
            return None
        found = await info.context.inspections.load(self.doc["inspectionId"])
        return Inspection.from_doc(found, self.coord) if found else None

    @strawberry.field(description="Every change with who, when and why. Staff of the county and "
                      "the homestay's operator only.")
    def history(self, info: Info) -> list[CertificateEvent] | None:
        if not self._private(info):
            return None
        return events_of(self.doc)


def events_of(cert: dict) -> list[CertificateEvent]:
    return [
        CertificateEvent(at=e["at"], by=Actor.of(e["by"]),
                         by_role=e["by"].get("role"), action=e["action"],
                         from_status=DomainStatus(e["from"]) if e.get("from") else None,
                         to_status=DomainStatus(e["to"]), reason=e.get("reason"))
        for e in cert["history"]
    ]


@strawberry.type
class GradeBlocker:
    grade: Grade
    item_code: str | None
    missing_points: int | None
    kind: str
    standard_key: strawberry.Private[str]

    @strawberry.field(description="Why the grade was not reached, for people.")
    async def reason(self, info: Info) -> str:
        en = info.context.lang == "en"
        if self.item_code is None:
            return (f"{self.missing_points} points short of the threshold" if en
                    else f"总分距达标还差 {self.missing_points} 分")
        standard = await info.context.standards.load(self.standard_key)
        item = next((i for i in (standard or {}).get("items", []) if i["code"] == self.item_code),
                    None)
        title = localized(item["title"], info.context.lang) if item else self.item_code
        return (f"mandatory item {self.item_code} not passed: {title}" if en
                else f"必备项 {self.item_code} 未通过：{title}")


@strawberry.type
class TodoItem:
    item_code: str
    kind: str = strawberry.field(description="MANDATORY (failed) or SCORED (points open).")
    points_open: int | None = strawberry.field(
        description="SCORED: the points this item could still add.")
    title: str = strawberry.field(description="In the language of Accept-Language.")
    section: str = strawberry.field(description="The section's title, in that language.")
    section_code: str


@strawberry.type
class GradeTodo:
    grade: Grade
    missing_points: int = strawberry.field(
        description="Points still missing to the grade's threshold (0: the points suffice).")
    mandatory: list[TodoItem] = strawberry.field(
        description="Failed mandatory items this grade requires: each must pass.")
    scored: list[TodoItem] = strawberry.field(
        description="The scored items with the most points open, as many as make up "
                    "missingPoints, most first.")


def _todo_items(found: tuple, sections: dict[str, dict], lang: str) -> list[TodoItem]:
    return [TodoItem(item_code=o.item.code, kind=o.item.kind.value, points_open=o.points_open,
                     title=localized(dict(o.item.title), lang),
                     section=localized(sections.get(o.item.section, {}), lang)
                     or o.item.section, section_code=o.item.section)
            for o in sorted(found, key=lambda o: (o.item.section, -(o.points_open or 0)))]


@strawberry.type
class Review:
    reviewer: Actor
    decision: ReviewDecision
    comment: str | None
    at: datetime


@strawberry.type
class ItemResult:
    item_code: str
    passed: bool | None
    points: int | None
    note: str | None
    photo_urls: list[str]


@strawberry.type
class Inspection(Node):
    client_submission_id: strawberry.ID
    inspector: Actor
    standard: StandardRef
    inspected_at: datetime
    submitted_at: datetime
    status: InspectionStatus
    total_points: int
    max_points: int
    recommended_grade: Grade | None
    distance_from_homestay_meters: float | None
    far_from_homestay: bool = strawberry.field(
        description="The inspector stood farther from the homestay than the set limit.")
    notes: str | None
    results: list[ItemResult]
    certificate_number: str | None
    doc: strawberry.Private[dict]
    coord: strawberry.Private[geo.CoordSystem]

    @classmethod
    def from_doc(cls, doc: dict, coord: geo.CoordSystem) -> Inspection:
        return cls(
            id=global_id("Inspection", doc["_id"]), client_submission_id=doc["clientSubmissionId"],
            inspector=Actor.of(doc["inspector"]),
            standard=StandardRef(**doc["standard"]), inspected_at=doc["inspectedAt"],
            submitted_at=doc["submittedAt"], status=InspectionStatus(doc["status"]),
            total_points=doc["totalPoints"], max_points=doc["maxPoints"],
            recommended_grade=DomainGrade(doc["recommendedGrade"])
            if doc.get("recommendedGrade") else None,
            distance_from_homestay_meters=doc.get("distanceFromHomestayMeters"),
            far_from_homestay=bool(doc.get("farFromHomestay")), notes=doc.get("notes"),
            results=[ItemResult(item_code=r["itemCode"], passed=r.get("passed"),
                                points=r.get("points"), note=r.get("note"),
                                photo_urls=r.get("photoUrls") or []) for r in doc["results"]],
            certificate_number=doc.get("certificateNumber"), doc=doc, coord=coord)

    @strawberry.field
    def blockers(self) -> list[GradeBlocker]:
        key = f"{self.doc['standard']['code']}@{self.doc['standard']['version']}"
        return [GradeBlocker(grade=DomainGrade(b["grade"]), item_code=b.get("itemCode"),
                             missing_points=b.get("missingPoints"), kind=b["kind"],
                             standard_key=key) for b in self.doc["blockers"]]

    @strawberry.field(description="For each grade above the one reached: what to fix, from "
                      "the same grading rule, by section. The operator's to-do list.")
    async def next_grades(self, info: Info) -> list[GradeTodo]:
        key = f"{self.doc['standard']['code']}@{self.doc['standard']['version']}"
        standard_doc = await info.context.standards.load(key)
        if standard_doc is None:
            return []
        standard = standards.to_domain(standard_doc)
        answers = [Answer(r["itemCode"], r.get("passed"), r.get("points"))
                   for r in self.doc["results"]]
        sections = {s["code"]: s["title"] for s in standard_doc.get("sections", [])}
        lang = info.context.lang
        return [GradeTodo(grade=t.grade, missing_points=t.missing_points,
                          mandatory=_todo_items(t.mandatory, sections, lang),
                          scored=_todo_items(t.scored, sections, lang))
                for t in to_reach(standard, answers)]

    @strawberry.field
    def review(self) -> Review | None:
        r = self.doc.get("review")
        if not r:
            return None
        return Review(reviewer=Actor.of(r["reviewer"]),
                      decision=ReviewDecision(r["decision"]), comment=r.get("comment"),
                      at=r["at"])

    @strawberry.field
    async def homestay(self, info: Info) -> Homestay | None:
        found = await info.context.homestays.load(self.doc["homestayId"])
        return Homestay.from_doc(found, self.coord) if found else None

    @strawberry.field(description="The operator's appeals of this inspection's rejection. For "
                      "the county's bureau and the homestay's operator; null for others.")
    async def appeals(self, info: Info) -> list[Annotated[
            Appeal, strawberry.lazy("homestay.graphql.appeals")]] | None:
        from homestay.graphql.appeals import Appeal, sees_appeal
        if not sees_appeal(info, self.doc):
            return None
        return [Appeal.from_doc(d) for d in
                await info.context.inspection_appeals.load(self.doc["_id"])]

    @strawberry.field
    def inspector_location(self) -> GeoPoint | None:
        loc = self.doc.get("inspectorLocation")
        return GeoPoint.from_geojson(loc, self.coord) if loc else None
