"""The homestay registry: registration, updates, reads."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from geopy.geocoders.base import Geocoder
from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from homestay.auth import Caller, Role
from homestay.clock import utcnow
from homestay.domain import finding, geo
from homestay.domain.certificates import CertificateStatus, listed_until
from homestay.domain.facilities import FACILITIES, code_of
from homestay.domain.gazetteer import GazetteerGeocoder, gazetteer
from homestay.domain.listings import Homestay
from homestay.domain.text import check_text, first_hidden
from homestay.errors import BadUserInput, UserError, UserErrors
from homestay.exports import read_model
from homestay.search.finder import FinderIndex
from homestay.services import photos
from homestay.services.pagination import decode_cursor, encode_cursor
from homestay.storage import documents
from homestay.storage.database import Database, stamp, stamped, update_and_read

# a point may lie this far (degrees) outside a county's box: boxes are approximate
_COUNTY_MARGIN_DEG = 0.05
MAX_FACILITIES = len(FACILITIES)


@dataclass
class HomestayInput:
    name: str | None = None
    name_en: str | None = None
    address: str | None = None
    county: str | None = None
    town: str | None = None
    location: tuple[float, float] | None = None  # lat, lng in coord_system
    coord_system: geo.CoordSystem = geo.CoordSystem.WGS84
    rooms: int | None = None
    facilities: Sequence[str] | None = None
    client_request_id: str | None = None


def listing_of(homestay: dict) -> dict:
    """What a certificate carries of its homestay, so that a search reads one collection."""
    return {
        key: homestay.get(key)
        for key in (
            "name",
            "nameEn",
            "address",
            "town",
            "location",
            "rooms",
            "facilities",
            "description",
            "descriptionEn",
            "phone",
            "priceMin",
            "priceMax",
            "photos",
        )
    }


@dataclass
class ListingInput:
    """What the tourist app shows of a stay, written by its operator (or the county's staff).
    A field left None is left as it is; an empty string clears a text."""

    description: str | None = None
    description_en: str | None = None
    phone: str | None = None
    price_min: int | None = None
    price_max: int | None = None
    facilities: Sequence[str] | None = None
    photo_ids: Sequence[str] | None = None  # the listing photos in order, the cover first


MAX_DESCRIPTION = 2000
MAX_DESCRIPTION_EN = 4000
MAX_PRICE = 100_000  # CNY a night
# a mainland mobile (11 digits from 1[3-9]) or a landline with its area code (0xx[x]), as a
# guest dials it; spaces and hyphens between digit groups are allowed, +86 in front too
_PHONE = re.compile(r"^(?:\+?86)?(?:1[3-9]\d{9}|0\d{2,3}\d{7,8})$")


def check_listing(errors: list[UserError], data: ListingInput, current: dict) -> dict:
    changes: dict[str, Any] = {}
    for name, value, limit in (
        ("description", data.description, MAX_DESCRIPTION),
        ("descriptionEn", data.description_en, MAX_DESCRIPTION_EN),
    ):
        if value is not None:
            changes[name] = check_text(errors, ["input", name], value, limit, multiline=True)
    if data.phone is not None:
        digits = re.sub(r"[\s-]", "", data.phone)
        if digits and not _PHONE.match(digits):
            errors.append(
                UserError(
                    ["input", "phone"],
                    "INVALID",
                    "phone must be a mainland mobile (11 digits) or a landline "
                    "with its area code, e.g. 0572-8881234",
                )
            )
        changes["phone"] = digits or None
    low = data.price_min if data.price_min is not None else current.get("priceMin")
    high = data.price_max if data.price_max is not None else current.get("priceMax")
    for field, price in (("priceMin", data.price_min), ("priceMax", data.price_max)):
        if price is not None:
            if not 1 <= price <= MAX_PRICE:
                errors.append(
                    UserError(
                        ["input", field],
                        "OUT_OF_RANGE",
                        f"{field} must be 1 to {MAX_PRICE:,} yuan a night",
                    )
                )
            changes[field] = price
    if low is not None and high is not None and low > high:
        errors.append(
            UserError(
                ["input", "priceMin"], "INVALID", f"priceMin ({low}) is above priceMax ({high})"
            )
        )
    if data.facilities is not None:
        changes["facilities"] = check_facilities(errors, data.facilities)
    return changes


def findable(doc: dict) -> dict:
    """The folded text the finder searches, from a homestay's name, English name and
    address, computed once per write."""
    return {"findText": finding.searchable(doc.get("name"), doc.get("nameEn"), doc.get("address"))}


def _text(
    errors: list[UserError], name: str, value: str | None, limit: int, required: bool
) -> str | None:
    return check_text(errors, ["input", name], value, limit, required=required)


def check_facilities(errors: list[UserError], values: Sequence[str] | None) -> list[str] | None:
    """Codes of the fixed vocabulary (domain/facilities.py), each once; a label in either
    language is read as its code, anything else is refused by its place in the list."""
    if values is None:
        return None
    if len(values) > MAX_FACILITIES:
        errors.append(
            UserError(["input", "facilities"], "TOO_MANY", f"at most {MAX_FACILITIES} facilities")
        )
        return None
    codes = []
    for i, value in enumerate(values):
        code = code_of(value) if len(value) <= 50 else None
        if code is None:
            errors.append(
                UserError(
                    ["input", "facilities", str(i)],
                    "UNKNOWN_FACILITY",
                    f"{value[:50]!r} is not a facility of the vocabulary; "
                    f"send one of its codes (query `facilities`)",
                )
            )
        else:
            codes.append(code)
    return list(dict.fromkeys(codes))


FINDER_VERSION = 1


MIGRATION_BATCH = 200
# between two batches of a migration at start: the requests served meanwhile get the
# database's turn (the embedded server answers one command at a time)
MIGRATION_PAUSE_S = 0.05


async def ensure_findable(db: Database) -> int:
    """A database from before the finder: give each homestay its finder fields and its
    `listedUntil` once (idempotent; resumed where it stopped), a batch at a time, pausing
    between batches so that the requests served meanwhile are not held up. Its cost follows
    the homestays that lack the fields, read by their own batch of current certificates.
    How many homestays it changed."""
    if await db.marked("homestay_finder", FINDER_VERSION):
        return 0
    changed = 0
    missing = {"$or": [{"findText": {"$exists": False}}, {"listedUntil": {"$exists": False}}]}
    cursor = db.homestays.find(missing, {"name": 1, "nameEn": 1, "address": 1})
    while batch := await cursor.to_list(MIGRATION_BATCH):
        current = {
            c["homestayId"]: c
            async for c in db.certificates.find(
                {"homestayId": {"$in": [d["_id"] for d in batch]}, "current": True},
                {"homestayId": 1, "status": 1, "expiresAt": 1},
            )
        }
        updates = []
        for doc in batch:
            cert = current.get(doc["_id"])
            listed = (
                listed_until(CertificateStatus(cert["status"]), cert["expiresAt"]) if cert else None
            )
            updates.append(
                UpdateOne(
                    {"_id": doc["_id"]},
                    stamped({"$set": {**findable(doc), "listedUntil": listed}}),
                )
            )
        changed += (await db.homestays.bulk_write(updates, ordered=False)).modified_count
        await asyncio.sleep(MIGRATION_PAUSE_S)
    await db.mark("homestay_finder", FINDER_VERSION)
    return changed


async def retire_cells(db: Database) -> int:
    """A database from before the search moved in-process: the H3 cells that every homestay
    and its certificates' listings carried, removed once (idempotent; resumed where it
    stopped), a batch at a time with a pause between batches. Nothing a reader sees changes,
    so no `updatedAt` moves. How many documents it changed."""
    if await db.marked("cells_retired", 1):
        return 0
    changed = 0
    for collection, field in ((db.homestays, "cells"), (db.certificates, "listing.cells")):
        cursor = collection.find({field: {"$exists": True}}, {"_id": 1})
        while batch := await cursor.to_list(MIGRATION_BATCH):
            done = await collection.update_many(
                {"_id": {"$in": [d["_id"] for d in batch]}}, {"$unset": {field: ""}}
            )
            changed += done.modified_count
            await asyncio.sleep(MIGRATION_PAUSE_S)
    await db.mark("cells_retired", 1)
    return changed


FACILITIES_VERSION = 1


async def ensure_facility_codes(db: Database) -> tuple[int, int]:
    """A database from before the vocabulary: each homestay's free words read as the codes
    they name, on the homestay and on its current certificate's listing (idempotent; a word
    that names no code is kept, for its county's staff to replace, and counted). How many
    homestays changed, and how many words were kept unknown."""
    if await db.marked("facility_codes", FACILITIES_VERSION):
        return 0, 0
    changed = unknown = 0
    async for doc in db.homestays.find(
        {"facilities": {"$elemMatch": {"$nin": list(FACILITIES)}}}, {"facilities": 1}
    ):
        words = doc["facilities"]
        mapped = list(dict.fromkeys(code_of(w) or w for w in words))
        unknown += sum(1 for w in mapped if w not in FACILITIES)
        if mapped == words:
            continue
        await db.homestays.update_one(
            {"_id": doc["_id"]}, stamped({"$set": {"facilities": mapped}})
        )
        await db.certificates.update_many(
            {"homestayId": doc["_id"], "current": True},
            stamped({"$set": {"listing.facilities": mapped}}),
        )
        changed += 1
        if changed % MIGRATION_BATCH == 0:
            await asyncio.sleep(MIGRATION_PAUSE_S)
    await db.mark("facility_codes", FACILITIES_VERSION, unknownKept=unknown)
    return changed, unknown


class HomestayService:
    def __init__(self, db: Database, geocoder: Geocoder | None = None) -> None:
        self.db = db
        self.geocoder = geocoder or GazetteerGeocoder()
        self.finder = FinderIndex(db)

    async def _locate(
        self, errors: list[UserError], data: HomestayInput, county: str, address: str | None
    ) -> tuple[geo.LatLng | None, str | None]:
        """The WGS-84 point, given or geocoded, and the town the gazetteer places it in."""
        county_info = gazetteer().county(county)
        if data.location is not None:
            try:
                given = geo.check_point(*data.location, field="input.location")
            except geo.GeoError as exc:
                errors.append(UserError(exc.field.split("."), "OUT_OF_RANGE", str(exc)))
                return None, None
            point = geo.to_wgs84(given, data.coord_system)
            if county_info is not None:
                south, west, north, east = county_info.bounds
                m = _COUNTY_MARGIN_DEG
                if not (south - m <= point.lat <= north + m and west - m <= point.lng <= east + m):
                    errors.append(
                        UserError(
                            ["input", "location"],
                            "OUTSIDE_COUNTY",
                            f"({given.lat}, {given.lng}) lies outside {county_info.name_en}; "
                            "check the point (latitude first) and coordSystem",
                        )
                    )
                    return None, None
            return point, None
        if address is None:
            return None, None
        if isinstance(self.geocoder, GazetteerGeocoder):
            found = self.geocoder.geocode(address, county=county)
        else:
            found = await asyncio.to_thread(self.geocoder.geocode, address)
        if found is None:
            errors.append(
                UserError(
                    ["input", "address"],
                    "GEOCODE_FAILED",
                    "the address names no known town or village; give a location",
                )
            )
            return None, None
        assert not isinstance(found, list)  # geocode() gives one place unless asked for all
        town = found.raw.get("town") if isinstance(found.raw, dict) else None
        return geo.LatLng(found.latitude, found.longitude), town

    def _check_town(self, errors: list[UserError], county: str, town: str | None) -> str | None:
        info = gazetteer().county(county)
        if town is None or info is None or not info.places:
            return town
        place = info.town(town)
        if place is None:
            errors.append(
                UserError(
                    ["input", "town"],
                    "UNKNOWN_TOWN",
                    f"{town!r} is not a town or subdistrict of {info.name_en}",
                )
            )
            return None
        return place.name_zh

    async def register(self, caller: Caller, data: HomestayInput) -> Homestay:
        caller.require(Role.INSPECTOR, Role.BUREAU)
        errors: list[UserError] = []
        county = (data.county or "").strip()
        if gazetteer().county(county) is None:
            raise UserErrors.one(
                ["input", "county"], "UNKNOWN_COUNTY", f"no county with code {county!r}"
            )
        caller.require_county(county)
        if data.client_request_id:
            existing = await self.db.homestays.find_one({"clientRequestId": data.client_request_id})
            if existing is not None:
                return documents.homestay(existing)
        name = _text(errors, "name", data.name, 100, required=True)
        name_en = _text(errors, "nameEn", data.name_en, 200, required=False)
        address = _text(errors, "address", data.address, 300, required=True)
        town = self._check_town(errors, county, _text(errors, "town", data.town, 50, False))
        if data.rooms is None or not 1 <= data.rooms <= 500:
            errors.append(
                UserError(["input", "rooms"], "OUT_OF_RANGE", "rooms must be between 1 and 500")
            )
        facilities = check_facilities(errors, data.facilities) or []
        point, found_town = await self._locate(errors, data, county, address)
        if errors:
            raise UserErrors(errors)
        assert point is not None
        now = utcnow()
        doc = {
            # public ids must not be guessable from one another (an ObjectId counts up)
            "_id": secrets.token_hex(12),
            "name": name,
            "nameEn": name_en,
            "address": address,
            "county": county,
            "town": town or found_town,
            "location": geo.geojson(point),
            "geocoded": data.location is None,
            "rooms": data.rooms,
            "facilities": facilities,
            "createdAt": now,
            "updatedAt": now,
            "createdBy": {"id": caller.account_id, "name": caller.name},
            # the expiry of its current certificate while VALID (CertificateService keeps it)
            "listedUntil": None,
        }
        doc.update(findable(doc))
        if data.client_request_id:
            doc["clientRequestId"] = data.client_request_id
        try:
            await self.db.homestays.insert_one(doc)
            doc = await stamp(self.db.homestays, doc["_id"]) or doc
        except DuplicateKeyError:
            # the same registration sent twice at once: the first one stands
            existing = await self.db.homestays.find_one({"clientRequestId": data.client_request_id})
            if existing is None:
                raise
            return documents.homestay(existing)
        return documents.homestay(doc)

    async def update(self, caller: Caller, homestay_id: str, data: HomestayInput) -> Homestay:
        caller.require(Role.INSPECTOR, Role.BUREAU)
        current = await self._stored(homestay_id)
        if current is None:
            raise UserErrors.one(["input", "id"], "NOT_FOUND", f"no homestay {homestay_id!r}")
        caller.require_county(current["county"])
        errors: list[UserError] = []
        if data.county is not None and data.county != current["county"]:
            errors.append(
                UserError(
                    ["input", "county"],
                    "IMMUTABLE",
                    "a homestay cannot move to another county; register it there",
                )
            )
        changes: dict = {}
        if data.name is not None:
            changes["name"] = _text(errors, "name", data.name, 100, required=True)
        if data.name_en is not None:
            changes["nameEn"] = _text(errors, "nameEn", data.name_en, 200, required=False)
        if data.address is not None:
            changes["address"] = _text(errors, "address", data.address, 300, required=True)
        if data.town is not None:
            changes["town"] = self._check_town(
                errors, current["county"], _text(errors, "town", data.town, 50, False)
            )
        if data.rooms is not None:
            if not 1 <= data.rooms <= 500:
                errors.append(
                    UserError(["input", "rooms"], "OUT_OF_RANGE", "rooms must be between 1 and 500")
                )
            changes["rooms"] = data.rooms
        if data.facilities is not None:
            changes["facilities"] = check_facilities(errors, data.facilities)
        moved = data.location is not None or (
            "address" in changes
            and changes["address"] != current["address"]
            and current.get("geocoded")
        )
        if moved:
            point, found_town = await self._locate(
                errors, data, current["county"], changes.get("address", current["address"])
            )
            if point is not None:
                changes.update(location=geo.geojson(point), geocoded=data.location is None)
                if found_town and "town" not in changes:
                    changes["town"] = found_town
        if errors:
            raise UserErrors(errors)
        if not changes:
            return documents.homestay(current)
        if {"name", "nameEn", "address"} & changes.keys():
            changes.update(findable({**current, **changes}))
        return await self._write(homestay_id, changes)

    async def editable(self, caller: Caller, homestay_id: str) -> Homestay | None:
        """The homestay whose listing the caller may edit (its content, its photos): the
        homestay's operator, or its county's staff; None when there is no such homestay."""
        stored = await self._editable(caller, homestay_id)
        return documents.homestay(stored) if stored is not None else None

    async def _editable(self, caller: Caller, homestay_id: str) -> dict | None:
        caller.require(Role.INSPECTOR, Role.BUREAU, Role.OPERATOR)
        if caller.role is Role.OPERATOR:
            caller.require_operator_of(homestay_id)
        homestay = await self._stored(homestay_id)
        if homestay is not None and caller.role is not Role.OPERATOR:
            caller.require_county(homestay["county"])
        return homestay

    async def update_listing(
        self, caller: Caller, homestay_id: str, data: ListingInput
    ) -> Homestay:
        """The listing's content: the homestay's operator, or the county's staff."""
        current = await self._editable(caller, homestay_id)
        if current is None:
            raise UserErrors.one(
                ["input", "homestayId"], "NOT_FOUND", f"no homestay {homestay_id!r}"
            )
        errors: list[UserError] = []
        changes = check_listing(errors, data, current)
        if data.photo_ids is not None:
            changes["photos"] = await photos.check_photo_ids(
                self.db, errors, homestay_id, data.photo_ids
            )
        if errors:
            raise UserErrors(errors)
        if not changes:
            return documents.homestay(current)
        return await self._write(homestay_id, changes)

    async def _write(self, homestay_id: str, changes: dict) -> Homestay:
        """A homestay's change, then its current certificate's listing (what search shows):
        re-sending the same change repairs a listing left behind by a stopped process."""
        updated = await update_and_read(
            self.db.homestays, {"_id": homestay_id}, stamped({"$set": changes})
        )
        assert updated is not None  # read above; homestays are never deleted
        # the current certificate's listing follows; re-sending the same update repairs it
        # should the process stop between these writes
        listing = listing_of(updated)
        await self.db.certificates.update_many(
            {"homestayId": homestay_id, "current": True}, stamped({"$set": {"listing": listing}})
        )
        await read_model.sync_matching(self.db, {"homestayId": homestay_id, "current": True})
        return documents.homestay(updated)

    async def _stored(self, homestay_id: str) -> dict | None:
        return await self.db.homestays.find_one({"_id": homestay_id})

    async def get_many(self, ids: Sequence[str]) -> list[Homestay | None]:
        found = {
            d["_id"]: documents.homestay(d)
            async for d in self.db.homestays.find({"_id": {"$in": list(ids)}})
        }
        return [found.get(i) for i in ids]

    async def find(
        self,
        caller: Caller,
        *,
        county: str | None,
        text: str | None,
        certified: bool | None,
        now: datetime,
        first: int,
        after: str | None,
    ) -> tuple[list[tuple[Homestay, str]], bool, Callable[[], Awaitable[int]]]:
        """Every registered homestay the caller may act on (staff: of its counties; an
        operator: its own), certified or not, by a part of its name or address, in name
        order: (homestay, cursor) pairs, whether there is more, and how to count them."""
        caller.require(Role.INSPECTOR, Role.BUREAU, Role.OPERATOR)
        counties: set[str] | None = None
        ids: set[str] | None = None
        if caller.role is Role.OPERATOR:
            ids = set(caller.homestays)
            caller.require_runs_in(county)
            if county is not None:
                counties = {county}
        else:
            counties = set(caller.counties_filter(county))
        folded = None
        if text is not None:
            folded = finding.fold(text)
            if first_hidden(folded) is not None:  # the separators are control characters
                raise BadUserInput("text", "holds an invisible control character")
            if not finding.MIN_QUERY <= len(folded) <= finding.MAX_QUERY:
                raise BadUserInput(
                    "text", f"must have {finding.MIN_QUERY} to {finding.MAX_QUERY} characters"
                )
        last = None
        if after is not None:
            name, key = decode_cursor(after, [str, str])
            last = (name, key)
        await self.finder.refresh()
        keys = self.finder.find(
            counties=counties,
            ids=ids,
            text=folded,
            certified=certified,
            now=now,
            after=last,
            limit=first + 1,
        )
        docs = await self.get_many(keys[:first])

        async def count() -> int:
            return len(
                self.finder.find(
                    counties=counties,
                    ids=ids,
                    text=folded,
                    certified=certified,
                    now=now,
                    after=None,
                    limit=None,
                )
            )

        return (
            [(h, encode_cursor([h.listing.name, h.id])) for h in docs if h is not None],
            len(keys) > first,
            count,
        )
