"""homestay(id), registerHomestay, updateHomestay."""

from __future__ import annotations

import strawberry

from homestay.domain import geo
from homestay.domain.disclosure import homestay_is_public, sees_private_data
from homestay.domain.facilities import FACILITIES
from homestay.graphql.common import (
    Connection,
    CoordSystem,
    Edge,
    GeoPointInput,
    Info,
    UserError,
    check_first,
    key_of,
    payload,
)
from homestay.graphql.permissions import IsStaff, IsStaffOrOperator
from homestay.graphql.types import Facility, Homestay
from homestay.services.homestays import HomestayInput, ListingInput
from homestay.storage import documents


@strawberry.input
class RegisterHomestayInput:
    name: str
    address: str
    county: str = strawberry.field(description="Administrative division code, e.g. 330521.")
    rooms: int
    name_en: str | None = None
    town: str | None = None
    location: GeoPointInput | None = strawberry.field(
        default=None, description="Omit it and the address is geocoded.")
    coord_system: CoordSystem = geo.CoordSystem.WGS84
    facilities: list[str] | None = None
    client_request_id: strawberry.ID | None = strawberry.field(
        default=None, description="Made by the app; sending it again returns the first result.")


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
        default=None, description="In Chinese, at most 2,000 characters; \"\" clears it.")
    description_en: str | None = None
    phone: str | None = strawberry.field(
        default=None, description="A mainland mobile or a landline with its area code.")
    price_min: int | None = strawberry.field(default=None, description="CNY a night.")
    price_max: int | None = None
    facilities: list[str] | None = strawberry.field(
        default=None, description="Codes of the vocabulary (query `facilities`); replaces the "
        "list. A label in Chinese or English is read as its code; anything else is refused.")
    photo_ids: list[str] | None = strawberry.field(
        default=None, description="Listing photos uploaded for this homestay (POST "
        "/uploads?purpose=listing&homestay=ID), in order, the cover first; replaces the list.")


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
        name=input.name, name_en=input.name_en, address=input.address, county=input.county,
        town=input.town, rooms=input.rooms, facilities=input.facilities,
        location=(input.location.lat, input.location.lng) if input.location else None,
        coord_system=input.coord_system,
        client_request_id=getattr(input, "client_request_id", None),
    )


@strawberry.type
class HomestayQueries:
    @strawberry.field(description="The facilities a listing may name, with their labels: the "
                      "fixed vocabulary of updateListing, registerHomestay and updateHomestay.")
    def facilities(self, info: Info) -> list[Facility]:
        return [Facility.of(code, info.context.lang) for code in FACILITIES]

    @strawberry.field(description="Staff of its county see any registered homestay; the "
                      "public only one whose current certificate is VALID (null otherwise).")
    async def homestay(self, info: Info, id: strawberry.ID,
                       coord_system: CoordSystem = geo.CoordSystem.WGS84) -> Homestay | None:
        return await visible_homestay(info, key_of(id, "Homestay"), coord_system)

    @strawberry.field(permission_classes=[IsStaffOrOperator],
                      description="Every registered homestay, certified or not, in name order: "
                      "staff see their counties', an operator its own. `text` is a part of "
                      "the name, English name or address (at least 2 characters); "
                      "`certified` keeps those whose current certificate is VALID (true) or "
                      "not (false). How an inspector finds the homestay in front of them.")
    async def homestays(self, info: Info, county: str | None = None, text: str | None = None,
                        certified: bool | None = None, first: int = 20,
                        after: str | None = None,
                        coord_system: CoordSystem = geo.CoordSystem.WGS84,
                        ) -> Connection[Homestay]:
        page, more, count = await info.context.services.homestays.find(
            info.context.caller, county=county, text=text, certified=certified,
            now=info.context.now, first=check_first(first), after=after)
        return Connection.of([Edge(cursor=c, node=Homestay.from_doc(d, coord_system))
                              for d, c in page], more, count, after)


async def visible_homestay(info: Info, key: str, coord: geo.CoordSystem) -> Homestay | None:
    """The homestay as the caller may see it: any of its county for its staff, its own for an
    operator, for anyone else only while its current certificate is VALID; None otherwise."""
    doc = await info.context.homestays.load(key)
    if doc is None:
        return None
    if not sees_private_data(info.context.caller, doc["county"], doc["_id"]):
        cert = await info.context.current_certificates.load(doc["_id"])
        status = documents.certificate(cert).status_at(info.context.now) if cert else None
        if not homestay_is_public(status):
            return None
    return Homestay.from_doc(doc, coord)


@strawberry.type
class HomestayMutations:
    @strawberry.mutation(permission_classes=[IsStaff])
    async def register_homestay(self, info: Info,
                                input: RegisterHomestayInput) -> RegisterHomestayPayload:
        return await payload(
            RegisterHomestayPayload,
            info.context.services.homestays.register(info.context.caller, _data(input)),
            lambda doc: {"homestay": Homestay.from_doc(doc, input.coord_system)})

    @strawberry.mutation(permission_classes=[IsStaffOrOperator],
                         description="What the tourist app shows of a stay: its operator, or "
                         "its county's staff. A certified stay's change shows in the next "
                         "search.")
    async def update_listing(self, info: Info, input: UpdateListingInput) -> UpdateListingPayload:
        return await payload(
            UpdateListingPayload,
            info.context.services.homestays.update_listing(
                info.context.caller, key_of(input.homestay_id, "Homestay"), ListingInput(
                    description=input.description, description_en=input.description_en,
                    phone=input.phone, price_min=input.price_min, price_max=input.price_max,
                    facilities=input.facilities, photo_ids=input.photo_ids)),
            lambda doc: {"homestay": Homestay.from_doc(doc, geo.CoordSystem.WGS84)})

    @strawberry.mutation(permission_classes=[IsStaff])
    async def update_homestay(self, info: Info,
                              input: UpdateHomestayInput) -> UpdateHomestayPayload:
        return await payload(
            UpdateHomestayPayload,
            info.context.services.homestays.update(
                info.context.caller, key_of(input.id, "Homestay"), _data(input)),
            lambda doc: {"homestay": Homestay.from_doc(doc, input.coord_system)})
