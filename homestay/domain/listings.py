"""A listing: what a tourist is shown of a stay (its name, where it is, its rooms, facilities,
words, phone, price and photos). The same whether read from the homestay itself or from the
copy its current certificate carries for search; converted once from storage
(storage/documents.listing)."""

from __future__ import annotations

from dataclasses import dataclass

from homestay.domain.geo import LatLng


def name_in(name: str, name_en: str | None, lang: str) -> str:
    """A homestay's name wherever it is shown (its listing, a verification, the plaque's
    page): the English name for English when there is one, the Chinese one otherwise."""
    return (name_en or name) if lang == "en" else name


@dataclass(frozen=True)
class ListingPhoto:
    id: str
    width: int
    height: int


@dataclass(frozen=True)
class Listing:
    name: str
    name_en: str | None
    address: str
    town: str | None
    point: LatLng
    rooms: int
    facilities: tuple[str, ...] = ()
    description: str | None = None
    description_en: str | None = None
    phone: str | None = None
    price_min: int | None = None
    price_max: int | None = None
    photos: tuple[ListingPhoto, ...] = ()  # the cover first

    def name_in(self, lang: str) -> str:
        return name_in(self.name, self.name_en, lang)

    def description_in(self, lang: str) -> str | None:
        if lang == "en":
            return self.description_en or self.description
        return self.description or self.description_en

    @property
    def price_range(self) -> tuple[int, int] | None:
        if self.price_min is None or self.price_max is None:
            return None
        return self.price_min, self.price_max


@dataclass(frozen=True)
class Homestay:
    """A registered stay: its county (which staff act on it) and its listing."""

    id: str
    county: str
    listing: Listing
