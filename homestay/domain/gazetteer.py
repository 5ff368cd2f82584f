"""The county gazetteer (seed/gazetteer.json) and the default geocoder that answers from it.

No online geocoder is reachable from a test or a demo, so addresses are resolved against the
seeded towns and villages through geopy's Geocoder interface; HOMESTAY_GEOCODER names an online
geopy provider instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from geopy.geocoders.base import Geocoder
from geopy.location import Location

from homestay.settings import ROOT

GAZETTEER_PATH = ROOT / "seed" / "gazetteer.json"

_SPECIFICITY = {"village": 3, "area": 2, "town": 1, "subdistrict": 1}


@dataclass(frozen=True)
class Place:
    county: str
    name_zh: str
    name_en: str
    kind: str
    lat: float
    lng: float
    town: str | None  # the town or subdistrict it lies in; itself for a town


@dataclass(frozen=True)
class County:
    code: str
    name_zh: str
    name_en: str
    bounds: tuple[float, float, float, float]  # south, west, north, east
    places: tuple[Place, ...]

    def contains(self, lat: float, lng: float) -> bool:
        south, west, north, east = self.bounds
        return south <= lat <= north and west <= lng <= east

    def town(self, name: str) -> Place | None:
        return next(
            (
                p
                for p in self.places
                if p.kind != "village" and p.kind != "area" and name in (p.name_zh, p.name_en)
            ),
            None,
        )


@dataclass(frozen=True)
class Gazetteer:
    counties: dict[str, County]

    def county(self, code: str) -> County | None:
        return self.counties.get(code)

    def match(self, address: str, county: str | None = None) -> Place | None:
        """The most specific place named in the address (a village before its town)."""
        text = address.casefold()
        candidates: Iterable[County] = (
            [self.counties[county]] if county in self.counties else self.counties.values()
        )
        best: tuple[int, int, Place] | None = None
        for c in candidates:
            for place in c.places:
                for name in (place.name_zh, place.name_en):
                    if name and name.casefold() in text:
                        key = (_SPECIFICITY.get(place.kind, 0), len(name))
                        if best is None or key > best[:2]:
                            best = (*key, place)
        return best[2] if best else None


def _load(path: Path) -> Gazetteer:
    raw = json.loads(path.read_text(encoding="utf-8"))
    counties: dict[str, County] = {}
    for c in raw["counties"]:
        places = tuple(
            Place(
                county=c["code"],
                name_zh=p["name"]["zh"],
                name_en=p["name"]["en"],
                kind=p["kind"],
                lat=p["lat"],
                lng=p["lng"],
                town=p.get("town")
                or (p["name"]["zh"] if p["kind"] in ("town", "subdistrict") else None),
            )
            for p in c.get("places", ())
        )
        counties[c["code"]] = County(
            c["code"], c["name"]["zh"], c["name"]["en"], tuple(c["bounds"]), places
        )
    return Gazetteer(counties)


@cache
def gazetteer(path: Path = GAZETTEER_PATH) -> Gazetteer:
    return _load(path)


class GazetteerGeocoder(Geocoder):
    """A geopy geocoder that answers from the seeded gazetteer, with no network."""

    def __init__(self, source: Gazetteer | None = None) -> None:
        super().__init__(user_agent="homestay-gazetteer")
        self.source = source or gazetteer()

    def geocode(
        self,
        query: str,
        *,
        exactly_one: bool = True,
        county: str | None = None,
        timeout: float | None = None,
    ) -> Location | list[Location] | None:
        place = self.source.match(query, county)
        if place is None:
            return None
        county_name = self.source.counties[place.county].name_zh
        label = "".join(dict.fromkeys(x for x in (county_name, place.town, place.name_zh) if x))
        location = Location(
            label,
            (place.lat, place.lng),
            {"county": place.county, "town": place.town, "kind": place.kind},
        )
        return location if exactly_one else [location]
