"""Homestays: the Homestay type and its listing's parts (facilities, photos, price), and the
operations on them (homestay, homestays, facilities, registerHomestay, updateHomestay,
updateListing).

A homestay is shown to the public only while listed (domain/disclosure.py); its nested
objects come through per-request DataLoaders, so a list resolves in a constant number of
database round trips.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import strawberry

from homestay.domain import geo
from homestay.domain.certificates import Certificate as DomainCertificate
from homestay.domain.disclosure import homestay_is_public, sees_private_data
from homestay.domain.facilities import FACILITIES
from homestay.domain.facilities import label as facility_label
from homestay.domain.grades import Grade as DomainGrade
from homestay.domain.listings import Homestay as DomainHomestay
from homestay.domain.listings import Listing
from homestay.errors import BadUserInput
from homestay.graphql.common import (
    Connection,
    CoordSystem,
    County,
    Edge,
    GeoPoint,
    GeoPointInput,
    Grade,
    Info,
    Node,
    UserError,
    check_first,
    global_id,
    key_of,
    payload,
)
from homestay.graphql.executor.execution import context_only
from homestay.graphql.permissions import IsStaff, IsStaffOrOperator
from homestay.services import photos as listing_photos
from homestay.services.homestays import HomestayInput, ListingInput

if TYPE_CHECKING:
    from homestay.graphql.certificates import Certificate

T = TypeVar("T")


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

    @strawberry.field(
        description="A thumbnail at least `width` pixels wide where there is "
        f"one ({', '.join(map(str, listing_photos.WIDTHS))}): WebP for a client "
        "that accepts it, JPEG otherwise; cached forever by its URL."
    )
    def thumbnail_url(self, info: Info, width: int) -> str:
        if not 1 <= width <= 10_000:
            raise BadUserInput("width", "must be 1 to 10,000 pixels")
        drawn = listing_photos.thumbnail_width(width)
        return f"{info.context.services.settings.public_url}/photos/{self.id}/{drawn}"


@strawberry.type
class PriceRange:
    min: int
    max: int
    currency: str = "CNY"


def _shown(listing: Listing, county: str, coord: geo.CoordSystem, lang: str) -> dict:
    """The Homestay fields of a listing, in the caller's language and coordinates."""
    price = listing.price_range
    return {
        "name": listing.name_in(lang),
        "county": County.of(county, lang),
        "location": GeoPoint.of(listing.point, coord),
        "name_zh": listing.name,
        "name_en": listing.name_en,
        "address": listing.address,
        "town": listing.town,
        "rooms": listing.rooms,
        "facilities": list(listing.facilities),
        "description_zh": listing.description,
        "description_en": listing.description_en,
        "phone": listing.phone,
        "photos": [
            Photo(id=strawberry.ID(p.id), width=p.width, height=p.height) for p in listing.photos
        ],
        "price_range": PriceRange(min=price[0], max=price[1]) if price else None,
        "listing": listing,
    }


@strawberry.type
class Homestay(Node):
    name_zh: str = strawberry.field(description="The name as registered, in Chinese.")
    name_en: str | None
    address: str
    town: str | None
    rooms: int
    facilities: list[str]
    distance_meters: float | None = strawberry.field(
        default=None, description="Geodesic metres from `near`; set only in a search with near."
    )
    key: strawberry.Private[str]
    listing: strawberry.Private[Listing]
    coord: strawberry.Private[geo.CoordSystem]
    known_certificate: strawberry.Private[DomainCertificate | None] = None
    certificate_known: strawberry.Private[bool] = False
    description_zh: str | None = strawberry.field(
        default=None, description="The operator's description, in Chinese."
    )
    description_en: str | None = None
    phone: str | None = strawberry.field(
        default=None, description="The stay's public business phone."
    )
    price_range: PriceRange | None = strawberry.field(
        default=None, description="A night's price, from the operator."
    )
    photos: list[Photo] = strawberry.field(
        default_factory=list, description="The listing's photos, the cover first."
    )

    @strawberry.field(description="The first of `photos`, or null.")
    def cover_photo(self) -> Photo | None:
        return self.photos[0] if self.photos else None

    @strawberry.field(
        description="The facilities with their labels, in the vocabulary's "
        "order (a word from before the vocabulary is left out)."
    )
    def facility_details(self, info: Info) -> list[Facility]:
        mine = set(self.facilities)
        return [Facility.of(code, info.context.lang) for code in FACILITIES if code in mine]

    @strawberry.field(
        description="In the language of Accept-Language: descriptionEn for "
        "English when there is one, the Chinese one otherwise."
    )
    def description(self, info: Info) -> str | None:
        return self.listing.description_in(info.context.lang)

    @classmethod
    def of(cls, record: DomainHomestay, coord: geo.CoordSystem, lang: str) -> Homestay:
        return cls(
            id=global_id("Homestay", record.id),
            key=record.id,
            coord=coord,
            **_shown(record.listing, record.county, coord, lang),
        )

    @classmethod
    def from_certificate(
        cls,
        cert: DomainCertificate,
        coord: geo.CoordSystem,
        lang: str,
        distance_m: float | None = None,
    ) -> Homestay:
        """A search hit: the certificate's listing holds what a tourist sees of the stay."""
        assert cert.listing is not None  # every certificate carries its stay's listing
        return cls(
            id=global_id("Homestay", cert.homestay_id),
            key=cert.homestay_id,
            distance_meters=distance_m,
            coord=coord,
            known_certificate=cert,
            certificate_known=True,
            **_shown(cert.listing, cert.county, coord, lang),
        )

    # name, county and location are set when made, not resolved: a resolver costs
    # strawberry ~20k instructions a field more than an attribute (20 of each a page)
    name: str = strawberry.field(
        description="In the language of Accept-Language: nameEn for English "
        "when there is one, the Chinese name otherwise."
    )
    county: County
    location: GeoPoint = strawberry.field(
        description="In the coordSystem of the root field that asked for it."
    )

    # `certificate` and `grade` answer at once when the certificate came with the stay (a
    # search hit) and return an awaitable, which graphql-core awaits, only when it must be
    # loaded: async resolvers cost a page of 20 stays 40 coroutines and the tasks to gather
    # them
    @strawberry.field(description="The current certificate, whatever its status, or null.")
    @context_only
    def certificate(
        self, info: Info
    ) -> Annotated[Certificate, strawberry.lazy("homestay.graphql.certificates")] | None:
        if self.certificate_known:
            return _certificate_of(self.known_certificate, self.coord)
        return cast(Any, self._then(info, lambda c: _certificate_of(c, self.coord)))

    @strawberry.field(description="Set only while the current certificate is VALID.")
    @context_only
    def grade(self, info: Info) -> Grade | None:
        if self.certificate_known:
            return _grade_of(self.known_certificate, info.context.now)
        return cast(Any, self._then(info, lambda c: _grade_of(c, info.context.now)))

    async def _then(self, info: Info, answer: Callable[[DomainCertificate | None], T]) -> T:
        return answer(await info.context.current_certificates.load(self.key))


def _certificate_of(cert: DomainCertificate | None, coord: geo.CoordSystem) -> Certificate | None:
    from homestay.graphql.certificates import Certificate  # it shows its homestay too

    return Certificate.of(cert, coord) if cert else None


def _grade_of(cert: DomainCertificate | None, now: datetime) -> DomainGrade | None:
    return cert.grade if cert is not None and cert.is_listed(now) else None


@strawberry.input
class RegisterHomestayInput:
    name: str
    address: str
    county: str = strawberry.field(description="Administrative division code, e.g. 330521.")
    rooms: int
    name_en: str | None = None
    town: str | None = None
    location: GeoPointInput | None = strawberry.field(
        default=None, description="Omit it and the address is geocoded."
    )
    coord_system: CoordSystem = geo.CoordSystem.WGS84
    facilities: list[str] | None = None
    client_request_id: strawberry.ID | None = strawberry.field(
        default=None, description="Made by the app; sending it again returns the first result."
    )


@strawberry.input
class UpdateHomestayInput:
    id: strawberry.ID
    name: str | None = None
    name_en: str | None = None
    address: str | None = None
    county: str | None = None
    town: str | None = None
    location: GeoPointInput | None = None
    coord_system: CoordSystem = geo.CoordSystem.WGS84
    rooms: int | None = None
    facilities: list[str] | None = None


@strawberry.input
class UpdateListingInput:
    homestay_id: strawberry.ID
    description: str | None = strawberry.field(
        default=None, description='In Chinese, at most 2,000 characters; "" clears it.'
    )
    description_en: str | None = None
    phone: str | None = strawberry.field(
        default=None, description="A mainland mobile or a landline with its area code."
    )
    price_min: int | None = strawberry.field(default=None, description="CNY a night.")
    price_max: int | None = None
    facilities: list[str] | None = strawberry.field(
        default=None,
        description="Codes of the vocabulary (query `facilities`); replaces the "
        "list. A label in Chinese or English is read as its code; anything else is refused.",
    )
    photo_ids: list[str] | None = strawberry.field(
        default=None,
        description="Listing photos uploaded for this homestay (POST "
        "/uploads?purpose=listing&homestay=ID), in order, the cover first; replaces the list.",
    )


@strawberry.type
class UpdateListingPayload:
    homestay: Homestay | None = None
    errors: list[UserError]


@strawberry.type
class RegisterHomestayPayload:
    homestay: Homestay | None = None
    errors: list[UserError]


@strawberry.type
class UpdateHomestayPayload:
    homestay: Homestay | None = None
    errors: list[UserError]


def _data(input: RegisterHomestayInput | UpdateHomestayInput) -> HomestayInput:
    return HomestayInput(
        name=input.name,
        name_en=input.name_en,
        address=input.address,
        county=input.county,
        town=input.town,
        rooms=input.rooms,
        facilities=input.facilities,
        location=(input.location.lat, input.location.lng) if input.location else None,
        coord_system=input.coord_system,
        client_request_id=getattr(input, "client_request_id", None),
    )


@strawberry.type
class HomestayQueries:
    @strawberry.field(
        description="The facilities a listing may name, with their labels: the "
        "fixed vocabulary of updateListing, registerHomestay and updateHomestay."
    )
    def facilities(self, info: Info) -> list[Facility]:
        return [Facility.of(code, info.context.lang) for code in FACILITIES]

    @strawberry.field(
        description="Staff of its county see any registered homestay; the "
        "public only one whose current certificate is VALID (null otherwise)."
    )
    async def homestay(
        self, info: Info, id: strawberry.ID, coord_system: CoordSystem = geo.CoordSystem.WGS84
    ) -> Homestay | None:
        return await visible_homestay(info, key_of(id, "Homestay"), coord_system)

    @strawberry.field(
        permission_classes=[IsStaffOrOperator],
        description="Every registered homestay, certified or not, in name order: "
        "staff see their counties', an operator its own. `text` is a part of "
        "the name, English name or address (at least 2 characters); "
        "`certified` keeps those whose current certificate is VALID (true) or "
        "not (false). How an inspector finds the homestay in front of them.",
    )
    async def homestays(
        self,
        info: Info,
        county: str | None = None,
        text: str | None = None,
        certified: bool | None = None,
        first: int = 20,
        after: str | None = None,
        coord_system: CoordSystem = geo.CoordSystem.WGS84,
    ) -> Connection[Homestay]:
        page, more, count = await info.context.services.homestays.find(
            info.context.caller,
            county=county,
            text=text,
            certified=certified,
            now=info.context.now,
            first=check_first(first),
            after=after,
        )
        return Connection.of(
            [Edge(cursor=c, node=Homestay.of(h, coord_system, info.context.lang)) for h, c in page],
            more,
            count,
            after,
        )


async def visible_homestay(info: Info, key: str, coord: geo.CoordSystem) -> Homestay | None:
    """The homestay as the caller may see it: any of its county for its staff, its own for an
    operator, for anyone else only while its current certificate is VALID; None otherwise."""
    found = await info.context.homestays.load(key)
    if found is None:
        return None
    if not sees_private_data(info.context.caller, found.county, found.id):
        cert = await info.context.current_certificates.load(found.id)
        status = cert.status_at(info.context.now) if cert else None
        if not homestay_is_public(status):
            return None
    return Homestay.of(found, coord, info.context.lang)


@strawberry.type
class HomestayMutations:
    @strawberry.mutation(permission_classes=[IsStaff])
    async def register_homestay(
        self, info: Info, input: RegisterHomestayInput
    ) -> RegisterHomestayPayload:
        return await payload(
            RegisterHomestayPayload,
            info.context.services.homestays.register(info.context.caller, _data(input)),
            lambda record: {"homestay": Homestay.of(record, input.coord_system, info.context.lang)},
        )

    @strawberry.mutation(
        permission_classes=[IsStaffOrOperator],
        description="What the tourist app shows of a stay: its operator, or "
        "its county's staff. A certified stay's change shows in the next "
        "search.",
    )
    async def update_listing(self, info: Info, input: UpdateListingInput) -> UpdateListingPayload:
        return await payload(
            UpdateListingPayload,
            info.context.services.homestays.update_listing(
                info.context.caller,
                key_of(input.homestay_id, "Homestay"),
                ListingInput(
                    description=input.description,
                    description_en=input.description_en,
                    phone=input.phone,
                    price_min=input.price_min,
                    price_max=input.price_max,
                    facilities=input.facilities,
                    photo_ids=input.photo_ids,
                ),
            ),
            lambda record: {
                "homestay": Homestay.of(record, geo.CoordSystem.WGS84, info.context.lang)
            },
        )

    @strawberry.mutation(permission_classes=[IsStaff])
    async def update_homestay(
        self, info: Info, input: UpdateHomestayInput
    ) -> UpdateHomestayPayload:
        return await payload(
            UpdateHomestayPayload,
            info.context.services.homestays.update(
                info.context.caller, key_of(input.id, "Homestay"), _data(input)
            ),
            lambda record: {"homestay": Homestay.of(record, input.coord_system, info.context.lang)},
        )
