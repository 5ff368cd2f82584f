"""The listed stays held in each API process, so that a search costs by its page.

Why: reading every candidate of a circle from the database costs ~0.08 ms a document on the
embedded server, so a 50 km search over 20,000 stays read 10,308 documents and took 1.2 s
(bench/search.py before this index). Here the stays that can be listed (stored VALID) live
in arrays: earth-centred points, grade rank, county, expiry, and the names for text and
order (joined strings; numbers in services/keys.py: no object a stay). A search filters,
measures and orders them with numpy, computes the exact geodesic distance only where an
approximation's bounds leave doubt (domain/geo.approximate_distances), and reads only its
page's certificates by number, those it has not kept from an earlier page. A place is looked
at by the map's cells (services/cells.py): those wholly inside are counted, only the edge's
stays and the nearest cells' are measured, so a 100 km circle does not measure a province.

Exact and fresh, with the database the source of truth: before every search the index reads
what changed since its version and applies it (services/caught_up.py: every certificate
write sets `updatedAt`, which the `updated` index serves), so a certificate issued,
suspended, revoked, superseded or moved shows in the very next search of any process. Expiry
needs no write: it is compared at query time. At most two commands a search: the changes,
then the page's certificates not kept (none when all are: one command).
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import numpy as np
from pymongo.asynchronous.collection import AsyncCollection

from homestay.domain import geo
from homestay.domain.certificates import Certificate, CertificateStatus
from homestay.domain.grades import Grade
from homestay.exports import read_model
from homestay.search.caught_up import CaughtUpCopy, as_utc, in_chunks
from homestay.search.grid import RANKS, Cells
from homestay.search.joined import JoinedStrings
from homestay.search.keys import SlotKeys
from homestay.storage import documents
from homestay.storage.database import Database

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PROJECTION = {
    "county": 1,
    "gradeRank": 1,
    "listing.name": 1,
    "listing.nameEn": 1,
    "listing.location": 1,
    "expiresAt": 1,
    "status": 1,
    "updatedAt": 1,
    "issuedAt": 1,
}
_VALID = CertificateStatus.VALID.value
# certificates kept whole for the pages searches show (most recently shown first): a few MB
# whatever the province's size
KEPT = 2_048


_RANK_OF = {grade.value: grade.rank for grade in Grade}


def _rank(doc: dict) -> int:
    """A certificate's grade rank; a row of the grade lists names its grade only."""
    return doc["gradeRank"] if "gradeRank" in doc else _RANK_OF[doc["grade"]]


def _ts(moment: datetime) -> float:
    return as_utc(moment).timestamp()


@dataclass(frozen=True)
class Ranked:
    """One stay of a page: its certificate number, shown distance, and sort key."""

    number: str
    distance_m: float | None
    key: list[Any]


# a stay's columns, one array each, by slot: (the shape of one slot's entry, type)
_COLUMNS: dict[str, tuple[tuple[int, ...], Any]] = {
    "xyz": ((3,), np.float64),  # earth-centred point
    "lat": ((), np.float64),
    "lng": ((), np.float64),
    "mx": ((), np.float64),  # where it lies on the Web Mercator square, for the clusters
    "my": ((), np.float64),
    "rank": ((), np.int8),
    "county": ((), np.int32),
    "expires": ((), np.float64),
    "changed": ((), np.float64),  # the stamp of the last write seen
    "alive": ((), np.bool_),
    "name_rank": ((), np.int32),
}


class StayIndex(CaughtUpCopy):
    projection = _PROJECTION
    # the arrays of _COLUMNS, made and grown by _grow
    xyz: np.ndarray
    lat: np.ndarray
    lng: np.ndarray
    mx: np.ndarray
    my: np.ndarray
    rank: np.ndarray
    county: np.ndarray
    expires: np.ndarray
    changed: np.ndarray
    alive: np.ndarray
    name_rank: np.ndarray

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self._keys = SlotKeys()  # certificate number <-> slot
        self._free: list[int] = []  # slots of stays gone, below _used
        self._used = 0  # slots from here up were never used
        self._removed: dict[str, float] = {}  # number -> updatedAt of the change that removed it
        self._counties: dict[str, int] = {}
        self._names = JoinedStrings(empty="")  # each slot's name, as shown and ordered
        self._hay = _Names()  # what a text search looks in
        self._by_name: np.ndarray | None = None  # the slots in (name, number) order
        # the live stays by cell of the map, and by county: remade after a change to them
        self._cells: Cells | None = None
        self._by_county: dict[int, np.ndarray] | None = None
        # number -> (the stamp of the write it was read after, the certificate)
        self._kept: OrderedDict[str, tuple[float, Certificate]] = OrderedDict()
        self._capacity = 0
        self._grow(1024)

    # -- storage ---------------------------------------------------------------------------

    def _grow(self, capacity: int) -> None:
        old = self._capacity
        self._capacity = capacity
        for name, (width, dtype) in _COLUMNS.items():
            fresh = np.zeros((capacity, *width), dtype)
            if old:
                fresh[:old] = getattr(self, name)
            setattr(self, name, fresh)

    def __len__(self) -> int:
        return len(self._keys)

    def _apply(self, doc: dict) -> None:
        number = doc["_id"]
        changed = _ts(self._stamp(doc))
        slot = self._keys.get(number)
        if slot is not None and changed < self.changed[slot]:
            return  # an older read than what the index holds
        if slot is None and changed < self._removed.get(number, -math.inf):
            return
        listing = doc.get("listing") or {}
        if doc["status"] != _VALID or "location" not in listing:
            if slot is not None:
                self._detach(slot)
                self._unorder(slot)
                self.alive[slot] = False
                self._keys.remove(number)
                self._free.append(slot)
            self._removed[number] = changed
            return
        new = slot is None
        if slot is None:
            slot = self._free.pop() if self._free else self._fresh_slots(1)[0]
            self._removed.pop(number, None)
        point = geo.from_geojson(listing["location"])
        county = self._counties.setdefault(doc["county"], len(self._counties))
        expires = _ts(doc["expiresAt"])
        rank = _rank(doc)
        if new or (self.lat[slot], self.lng[slot], self.rank[slot], self.expires[slot]) != (
            point.lat,
            point.lng,
            rank,
            expires,
        ):
            self._detach(slot)
        if new or self.county[slot] != county:
            self._by_county = None
        self.lat[slot], self.lng[slot] = point.lat, point.lng
        mx, my = _mercator(np.array([point.lat]), np.array([point.lng]))
        self.mx[slot], self.my[slot] = mx[0], my[0]
        self.xyz[slot] = geo.ecef(np.array([point.lat]), np.array([point.lng]))[0]
        self.rank[slot] = rank
        self.county[slot] = county
        self.expires[slot] = expires
        self.changed[slot] = changed
        self.alive[slot] = True
        name = listing.get("name") or ""
        moves = new or self._keys.key(slot) != number or self._names.get(slot) != name
        if moves:
            if not new:
                self._unorder(slot)
            self._keys.set(number, slot)
        self._set_names(slot, name, listing.get("nameEn") or "")
        if moves:
            self._order(slot)

    def _collection(self) -> AsyncCollection:
        return self.db.certificates

    @staticmethod
    def _stamp(doc: dict) -> datetime:
        return doc.get("updatedAt") or doc["issuedAt"]

    async def _load(self) -> None:
        """Every stored-VALID certificate, from the grade lists' read model where it is built
        (rows in buckets of 100: 200,000 stays read in seconds, not in half a minute), else
        from the certificates themselves; a chunk at a time, so that the documents read never
        pile up (read_model.all_rows, caught_up.in_chunks)."""
        source: AsyncIterator[list[dict]]
        if await read_model.is_built(self.db):
            source = read_model.all_rows(self.db)
            # a row follows its certificate's write at once, or is healed by the reconciler
            # within RECONCILE_WINDOW: the first read of changes goes back that far too
            lag = read_model.RECONCILE_WINDOW * 2
        else:
            source = in_chunks(
                self.db.certificates.find({"status": _VALID}, _PROJECTION, batch_size=2_000)
            )
            lag = timedelta(0)
        async for chunk in source:
            self._fill(
                [
                    doc
                    for doc in chunk
                    if doc["status"] == _VALID and "location" in (doc.get("listing") or {})
                ]
            )
        self._keys.settle()
        self._fit()
        self.cells()  # made now, not by the first tourist's search
        self._name_order()
        self.version = (self.version or _EPOCH) - lag

    def _fit(self) -> None:
        """The arrays cut to the slots held and 1,024 more: growing by a quarter at a time
        leaves up to a quarter unused (4 MB at 200,000 stays)."""
        held = np.flatnonzero(self.alive)
        used = int(held[-1]) + 1 if len(held) else 0
        capacity = used + 1024
        if capacity >= self._capacity:
            return
        for name in _COLUMNS:
            setattr(self, name, getattr(self, name)[:capacity].copy())
        self._used = used
        self._free = [slot for slot in self._free if slot < used]
        self._capacity = capacity

    def _fresh_slots(self, n: int) -> list[int]:
        """`n` slots never used, in order (a build's chunk appends its names whole), with
        room for them and a quarter more."""
        if self._used + n > self._capacity:
            self._grow(self._used + max(1024, (self._used + n) // 4, n))
        self._used += n
        return list(range(self._used - n, self._used))

    def _fill(self, read: list[dict]) -> None:
        """Stays new to the index added in one go: the points converted in one numpy call,
        the numbers merged into the keys at once. A stay read again (its certificate was
        written while the read ran) is applied as a change."""
        if not read:
            return
        new = self._keys.new([d["_id"] for d in read])
        docs = [doc for doc, fresh in zip(read, new, strict=True) if fresh]
        self._add(docs)
        for doc, fresh in zip(read, new, strict=True):
            if not fresh:
                self._apply(doc)
        newest = as_utc(max(self._stamp(d) for d in read))
        if self.version is None or newest > self.version:
            self.version = newest

    def _add(self, docs: list[dict]) -> None:
        n = len(docs)
        if n == 0:
            return
        slots = self._fresh_slots(n)
        # one pass over the documents, the columns filled after in numpy
        numbers, coordinates, ranks, counties, expires, changed = [], [], [], [], [], []
        names, both = [], []
        county_of, stamp = self._counties, self._stamp
        for doc in docs:
            listing = doc["listing"]
            numbers.append(doc["_id"])
            coordinates.append(listing["location"]["coordinates"])
            ranks.append(_rank(doc))
            county = doc["county"]
            counties.append(county_of.setdefault(county, len(county_of)))
            expires.append(doc["expiresAt"])
            changed.append(stamp(doc))
            name = listing.get("name") or ""
            names.append(name)
            both.append((name, listing.get("nameEn") or ""))
        points = np.array(coordinates, dtype=np.float64).reshape(n, 2)
        at = np.array(slots, dtype=np.int64)
        self.lng[at], self.lat[at] = points[:, 0], points[:, 1]
        self.mx[at], self.my[at] = _mercator(points[:, 1], points[:, 0])
        self.xyz[at] = geo.ecef(points[:, 1], points[:, 0])
        self.rank[at] = ranks
        self.county[at] = counties
        self.expires[at] = [_ts(m) for m in expires]
        self.changed[at] = [_ts(m) for m in changed]
        self.alive[at] = True
        self._keys.bulk(numbers, slots)
        self._names.put(slots, names)
        self._hay.put(slots, both)
        self._by_name = None
        self._cells = self._by_county = None

    def _set_names(self, slot: int, name: str, name_en: str) -> None:
        self._names.put([slot], [name])
        self._hay.put([slot], [(name, name_en)])

    def _unorder(self, slot: int) -> None:
        """The stay at `slot` leaves the name order (it leaves, or its name or number
        changes): one deletion and a shift, not a sort of every name again (0.3 s at
        200,000 stays, which the next search by name of every process paid)."""
        if self._by_name is None:
            return
        place = int(self.name_rank[slot])
        self._by_name = np.delete(self._by_name, place)
        self.name_rank[self._by_name[place:]] -= 1

    def _order(self, slot: int) -> None:
        """The stay at `slot`, with its name and number, joins the name order."""
        if self._by_name is None:
            return
        name, number = self._names.get, self._keys.key
        place = bisect.bisect_left(
            self._by_name, (name(slot), number(slot)), key=lambda s: (name(s), number(s))
        )
        self._by_name = np.insert(self._by_name, place, slot)
        self.name_rank[self._by_name[place:]] = np.arange(place, len(self._by_name))

    def _name_order(self) -> np.ndarray:
        """Every stay's slot in (name, number) order; name_rank holds each slot's place."""
        if self._by_name is None:
            live = np.flatnonzero(self.alive)
            self._by_name = self._names.ordered(live, self._keys.raw(live))
            self.name_rank[self._by_name] = np.arange(len(live))
        return self._by_name

    # -- queries ---------------------------------------------------------------------------

    def find(
        self,
        *,
        now: datetime,
        ranks: frozenset[int],
        county: str | None,
        text: str | None,
        bbox: geo.BBox | None,
        origin: geo.LatLng,
        radius_m: float,
    ) -> Found:
        """The stays listed now within radius_m of origin (math.inf: any distance) and in
        bbox that pass the filters: counted, and ready to be ordered. A county's stays, or
        the few whose names hold `text`, are measured one by one; otherwise the province is
        looked at by cells (services/cells.py), so that a wide place costs by its edge."""
        pool = None
        if county is not None:
            code = self._counties.get(county)
            pool = self._county_slots().get(code, _NONE) if code is not None else _NONE
        if text is not None and (pool is None or len(pool) >= _SCAN_FROM):
            hits = self._hay.hits(text, at_most=_SCAN_FROM)
            if hits is not None:
                pool = hits if pool is None else np.intersect1d(pool, hits)
                text = None  # every hit holds it
        if pool is None:
            place = _Gridded(self, now, ranks, bbox, origin, radius_m)
            if text is None:
                return place
            # a text most names hold
            if place.total >= _SCAN_FROM:  # a wide place: looked at by cells still
                place.narrow(self._holding(text))
                return place
            slots = place.slots()  # a narrow one: its stays' names tested one by one
            slots, low, high, exact = self.around(
                np.compress(self.text_mask(slots, text), slots), origin, radius_m
            )
            return _Listed(self, origin, slots, low, high, exact)
        slots, low, high, exact = self.around(
            self.listed_among(pool, now, ranks, bbox), origin, radius_m
        )
        if text is not None:  # names tested in the place only, not the province
            keep = self.text_mask(slots, text)
            slots, low, high = slots[keep], low[keep], high[keep]
        return _Listed(self, origin, slots, low, high, exact)

    def _detach(self, slot: int) -> None:
        """The stay at `slot` changes where it is, its grade or expiry, or leaves."""
        if self._cells is not None:
            self._cells.detach(slot, int(self.rank[slot]))

    def cells(self) -> Cells:
        if self._cells is None or self._cells.stale(len(self)):
            self._cells = Cells(
                np.flatnonzero(self.alive), self.lat, self.lng, self.xyz, self.rank, self.expires
            )
        return self._cells

    def _county_slots(self) -> dict[int, np.ndarray]:
        """Each county's live slots, in slot order."""
        if self._by_county is None:
            held = np.flatnonzero(self.alive)
            codes = self.county[held]
            order = np.argsort(codes, kind="stable")
            present, starts = np.unique(codes[order], return_index=True)
            self._by_county = {
                int(code): held[part]
                for code, part in zip(present.tolist(), np.split(order, starts[1:]), strict=True)
            }
        return self._by_county

    def listed_among(
        self, slots: np.ndarray, now: datetime, ranks: frozenset[int], bbox: geo.BBox | None
    ) -> np.ndarray:
        """Those of `slots` listed now, of `ranks`, in bbox (edges included)."""
        keep = self.alive[slots] & (self.expires[slots] > _ts(now))
        keep &= _among(self.rank[slots], ranks)
        if bbox is not None:
            lat, lng = self.lat[slots], self.lng[slots]
            keep &= (lat >= bbox.south) & (lat <= bbox.north)
            keep &= (lng >= bbox.west) & (lng <= bbox.east)
        return np.compress(keep, slots)

    def text_mask(self, slots: np.ndarray, text: str) -> np.ndarray:
        """Which of `slots` hold the folded `text` in their name or English name."""
        return self._hay.matching(text, slots)

    def _holding(self, text: str) -> np.ndarray:
        """One bool a slot (every slot the columns have): whether its name or English name
        holds the folded `text`."""
        held = np.zeros(len(self.alive), np.bool_)
        found = self._hay.holding(text)
        held[: len(found)] = found[: len(held)]
        return held

    def around(
        self, slots: np.ndarray, origin: geo.LatLng, radius_m: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, float]]:
        """The slots within radius_m of origin (exactly), with their distance bounds and the
        exact distances computed on the way (slot -> metres)."""
        if math.isfinite(radius_m):  # a cheap box first: a degree of latitude is >110 km
            dlat, dlng = geo.reach_degrees(origin, radius_m)
            keep = (np.abs(self.lat[slots] - origin.lat) <= dlat) & (
                np.abs(self.lng[slots] - origin.lng) <= dlng
            )
            slots = np.compress(keep, slots)
        # np.take and np.compress, not x[slots] and x[mask]: for a province's 155,000
        # candidates, 3.7x and 4x faster (a 100 km search at 200,000 stays)
        _, low, high = geo.approximate_distances(origin, np.take(self.xyz, slots, axis=0))
        exact: dict[int, float] = {}
        if math.isfinite(radius_m):
            doubt = np.flatnonzero((low <= radius_m) & (high > radius_m))
            inside = high <= radius_m
            for i in doubt.tolist():
                slot = int(slots[i])
                exact[slot] = self._exact(origin, slot)
                inside[i] = exact[slot] <= radius_m
            slots, low, high = (np.compress(inside, a) for a in (slots, low, high))
        return slots, low, high, exact

    def distance(self, origin: geo.LatLng, slot: int, exact: dict[int, float]) -> float:
        if slot not in exact:
            exact[slot] = self._exact(origin, slot)
        return exact[slot]

    def _exact(self, origin: geo.LatLng, slot: int) -> float:
        return geo.distance_m(origin, geo.LatLng(float(self.lat[slot]), float(self.lng[slot])))

    def nearest(
        self,
        origin: geo.LatLng,
        slots: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        exact: dict[int, float],
        limit: int,
        after: tuple[float, str] | None,
    ) -> list[tuple[float, str]]:
        """The `limit` slots first by (exact distance, number), strictly after `after`."""
        number = self._keys.key
        if after is not None:
            keep = high >= after[0]  # below: before the cursor, whatever the exact distance
            slots, low, high = (np.compress(keep, a) for a in (slots, low, high))
            straddle = np.flatnonzero(low <= after[0])
            gone = np.zeros(len(slots), np.bool_)
            for i in straddle.tolist():
                slot = int(slots[i])
                d = exact.setdefault(slot, self._exact(origin, slot))
                gone[i] = (d, number(slot)) <= after
            slots, low, high = slots[~gone], low[~gone], high[~gone]
        if len(slots) > limit:
            edge = np.partition(high, limit - 1)[limit - 1]
            keep = low <= edge
            slots = np.compress(keep, slots)
        ranked = []
        for slot in slots.tolist():
            if slot not in exact:
                exact[slot] = self._exact(origin, slot)
            ranked.append((exact[slot], number(slot)))
        ranked.sort()
        return ranked[:limit]

    def first_by_name(
        self, found: Found, rank: int | None, after: tuple[str, str] | None, limit: int
    ) -> np.ndarray:
        """The first `limit` stays `found` (of `rank`, or any) by (name, number), strictly
        after `after`: the name order walked from there, a block at a time, each block's
        stays tested (`found.holds`). Where found stays are many (a 50 km circle holds 30 %
        of a province's), the first block holds the page; by_name would list them all and
        partition them (at 200,000 stays, ~2 ms of a 50 km search by name)."""
        order = self._name_order()
        start = 0
        if after is not None:
            name, number = self._names.get, self.number
            start = bisect.bisect_right(order, after, key=lambda s: (name(s), number(s)))
        picked: list[np.ndarray] = []
        have, block = 0, max(256, limit * 8)
        while have < limit and start < len(order):
            chunk = order[start : start + block]
            keep = found.holds(chunk)
            if rank is not None:
                keep &= np.take(self.rank, chunk) == rank
            chosen = np.compress(keep, chunk)
            picked.append(chosen)
            have += len(chosen)
            start += block
            block *= 2
        return np.concatenate(picked)[:limit] if picked else np.zeros(0, np.int64)

    def by_name(self, slots: np.ndarray, after: tuple[str, str] | None, limit: int) -> np.ndarray:
        """The first `limit` of slots by (name, number), strictly after `after`: picked by a
        partition, and only they sorted (a 50 km circle's 80,000 stays are not)."""
        order = self._name_order()
        if after is not None:
            name, number = self._names.get, self.number
            start = bisect.bisect_right(order, after, key=lambda s: (name(s), number(s)))
            slots = slots[self.name_rank[slots] >= start]
        places = np.take(self.name_rank, slots)
        if len(slots) > limit:
            first = np.argpartition(places, limit - 1)[:limit]
            slots, places = np.take(slots, first), np.take(places, first)
        return np.take(slots, np.argsort(places))

    async def certificates(self, numbers: list[str]) -> dict[str, Certificate]:
        """The page's certificates, by number: one command for those not kept, none when
        every one is. A kept certificate is used only while its stamp is the newest write
        the index has seen of it, and the index is caught up before every search: so a
        change to any of its fields (every write sets `updatedAt`) shows in the very next
        search, as a change to the index's own fields does. A read that raced a write and
        came back older than what the index saw is not used, however it was kept."""
        found: dict[str, Certificate] = {}
        missing = []
        for number in numbers:
            kept = self._kept.get(number)
            slot = self._keys.get(number)
            if kept is not None and slot is not None and kept[0] >= self.changed[slot]:
                self._kept.move_to_end(number)
                found[number] = kept[1]
            else:
                missing.append(number)
        if missing:
            async for doc in self.db.certificates.find({"_id": {"$in": missing}}):
                certificate = documents.certificate(doc)
                found[certificate.number] = certificate
                stamp = _ts(self._stamp(doc))
                self._kept[certificate.number] = (stamp, certificate)
                self._kept.move_to_end(certificate.number)
            while len(self._kept) > KEPT:
                self._kept.popitem(last=False)
        return found

    def slot(self, number: str) -> int:
        slot = self._keys.get(number)
        if slot is None:
            raise KeyError(number)
        return slot

    def number(self, slot: int) -> str:
        return self._keys.key(slot)

    def name(self, slot: int) -> str:
        return self._names.get(slot)


_NONE = np.zeros(0, np.int64)


def _among(ranks: np.ndarray, asked: Iterable[int]) -> np.ndarray:
    """Which of `ranks` (grade ranks, 1-3) are among `asked`: a comparison a rank asked
    (np.isin sorts: for the 60,000 stays of a wide circle, 0.48 ms against 0.002)."""
    among = np.zeros(len(ranks), np.bool_)
    for rank in asked:
        among |= ranks == rank
    return among


def _present(ranks: np.ndarray) -> list[int]:
    """The grade ranks among `ranks`, best first: counted, not made a set of (60,000 stays
    of a province's 50 km circle: 6 ms as a Python set, 0.1 ms counted)."""
    return np.flatnonzero(np.bincount(ranks)).tolist()[::-1]


class Found:
    """The stays a search's place and filters find: how many, which grades, and in order."""

    index: StayIndex
    origin: geo.LatLng
    total: int
    exact: dict[int, float]  # slot -> exact distance from the origin, computed on the way

    def ranks(self) -> list[int]:
        """The grade ranks found, best first."""
        raise NotImplementedError

    def nearest(
        self, limit: int, after: tuple[float, str] | None, rank: int | None = None
    ) -> list[tuple[float, str]]:
        """The first `limit` by (exact distance, number) after `after`, of one rank or all."""
        raise NotImplementedError

    def slots(self) -> np.ndarray:
        """Every stay found."""
        raise NotImplementedError

    def count(self, rank: int | None) -> int:
        """How many stays found, of one rank or all."""
        raise NotImplementedError

    def holds(self, slots: np.ndarray) -> np.ndarray:
        """Which of `slots` are found (one bool each)."""
        return np.isin(slots, self.slots())


class _Listed(Found):
    """Found stays measured one by one (a county's, or those whose names hold a text)."""

    def __init__(
        self,
        index: StayIndex,
        origin: geo.LatLng,
        slots: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        exact: dict[int, float],
    ) -> None:
        self.index, self.origin, self.exact = index, origin, exact
        self._slots, self._low, self._high = slots, low, high
        self.total = len(slots)

    def ranks(self) -> list[int]:
        return _present(self.index.rank[self._slots])

    def nearest(
        self, limit: int, after: tuple[float, str] | None, rank: int | None = None
    ) -> list[tuple[float, str]]:
        slots, low, high = self._slots, self._low, self._high
        if rank is not None:
            group = self.index.rank[slots] == rank
            slots, low, high = slots[group], low[group], high[group]
        return self.index.nearest(self.origin, slots, low, high, self.exact, limit, after)

    def slots(self) -> np.ndarray:
        return self._slots

    def count(self, rank: int | None) -> int:
        if rank is None:
            return self.total
        return int(np.count_nonzero(self.index.rank[self._slots] == rank))


class _Gridded(Found):
    """Found stays looked at by cells: a cell wholly in the place is counted from its
    counts, and its stays measured only when a page may need them (nearest cells first);
    the stays of the cells on the place's edge are measured one by one."""

    def __init__(
        self,
        index: StayIndex,
        now: datetime,
        ranks: frozenset[int],
        bbox: geo.BBox | None,
        origin: geo.LatLng,
        radius_m: float,
    ) -> None:
        self.index, self.origin = index, origin
        self.asked = np.array(sorted(ranks), np.int64)
        cells = self.cells = index.cells()
        place = cells.place(origin, radius_m, bbox, _ts(now))
        self.whole = np.compress(place.whole, place.cells)
        self.whole_low = np.compress(place.whole, place.low)
        self.whole_high = np.compress(place.whole, place.high)
        # the edge, and the stays loose since the cells were made (some no longer held):
        # each tested as a pool of stays is
        edge = cells.stays(np.compress(~place.whole, place.cells))
        if cells.loose:
            edge = np.concatenate((edge, cells.loose_slots()))
        self.edge, self.edge_low, self.edge_high, self.exact = index.around(
            index.listed_among(edge, now, ranks, bbox), origin, radius_m
        )
        self.by_rank = cells.counted(self.whole, self.asked) + np.bincount(
            index.rank[self.edge], minlength=RANKS
        )
        self.total = int(self.by_rank.sum())
        self.kept: np.ndarray | None = None  # one bool a slot: the only stays to find

    def narrow(self, kept: np.ndarray) -> None:
        """Only the stays `kept` marks (one bool a slot: those whose names hold a text) are
        found from now on. The whole cells' counts no longer tell how many: their stays are
        listed and counted (at 200,000 stays, the 155,000 of a 100 km circle in ~1 ms), but
        still measured only when a page may need them."""
        self.kept = kept
        for made in ("_edge_sorted", "_every_whole"):  # what was derived without it
            self.__dict__.pop(made, None)
        held = np.take(kept, self.edge)
        self.edge, self.edge_low, self.edge_high = (
            np.compress(held, a) for a in (self.edge, self.edge_low, self.edge_high)
        )
        self.by_rank = np.bincount(
            self.index.rank[self._every_whole], minlength=RANKS
        ) + np.bincount(self.index.rank[self.edge], minlength=RANKS)
        self.total = int(self.by_rank.sum())

    def ranks(self) -> list[int]:
        return np.flatnonzero(self.by_rank).tolist()[::-1]

    def _whole_stays(self, cells: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        stays = self.cells.stays(cells)
        if len(ranks) < 3:
            stays = np.compress(_among(np.take(self.index.rank, stays), ranks.tolist()), stays)
        if self.kept is not None:
            stays = np.compress(np.take(self.kept, stays), stays)
        return stays

    def nearest(
        self, limit: int, after: tuple[float, str] | None, rank: int | None = None
    ) -> list[tuple[float, str]]:
        index = self.index
        ranks = self.asked if rank is None else np.array([rank], np.int64)
        edge, low, high = self.edge, self.edge_low, self.edge_high
        if rank is not None:
            group = index.rank[edge] == rank
            edge, low, high = edge[group], low[group], high[group]
        cells, cell_low, cell_high = self.whole, self.whole_low, self.whole_high
        if after is not None:  # cells wholly before the cursor hold nothing to show
            keep = cell_high >= after[0]
            cells, cell_low = np.compress(keep, cells), np.compress(keep, cell_low)
        order = np.argsort(cell_low, kind="stable")
        cells, cell_low = cells[order], cell_low[order]
        sizes = np.take(self.cells.counts, cells, axis=0)[:, ranks].sum(axis=1)
        # the nearest cells that hold `limit` stays; more while some may be before the cursor
        taken = min(len(cells), int(np.searchsorted(np.cumsum(sizes), limit)) + 1)
        while True:
            stays = self._whole_stays(cells[:taken], ranks)
            _, s_low, s_high = geo.approximate_distances(
                self.origin, np.take(index.xyz, stays, axis=0)
            )
            pool_low, pool_high = np.concatenate((low, s_low)), np.concatenate((high, s_high))
            sure = pool_low > after[0] if after is not None else np.ones(len(pool_low), np.bool_)
            if np.count_nonzero(sure) >= limit:
                # no stay of a cell beyond `edge` can come before `limit` of those held
                far = np.partition(np.compress(sure, pool_high), limit - 1)[limit - 1]
                more = taken + int(np.searchsorted(cell_low[taken:], far, side="right"))
                if more > taken:
                    extra = self._whole_stays(cells[taken:more], ranks)
                    _, e_low, e_high = geo.approximate_distances(
                        self.origin, np.take(index.xyz, extra, axis=0)
                    )
                    stays = np.concatenate((stays, extra))
                    pool_low = np.concatenate((pool_low, e_low))
                    pool_high = np.concatenate((pool_high, e_high))
                break
            if taken >= len(cells):
                break
            taken = min(len(cells), taken * 2)
        return index.nearest(
            self.origin,
            np.concatenate((edge, stays)),
            pool_low,
            pool_high,
            self.exact,
            limit,
            after,
        )

    def slots(self) -> np.ndarray:
        return np.concatenate((self._every_whole, self.edge))

    @cached_property
    def _every_whole(self) -> np.ndarray:
        """The stays of every whole cell, of the ranks asked (and kept, once narrowed)."""
        return self._whole_stays(self.whole, self.asked)

    def count(self, rank: int | None) -> int:
        return self.total if rank is None else int(self.by_rank[rank])

    @cached_property
    def _whole_cells(self) -> np.ndarray:
        return self.cells.chosen(self.whole)

    @cached_property
    def _edge_sorted(self) -> np.ndarray:
        return np.sort(self.edge)

    def holds(self, slots: np.ndarray) -> np.ndarray:
        """A stay of a whole cell (of a rank asked), or of the edge: without listing the
        whole cells' stays."""
        inside = np.take(self._whole_cells, self.cells.cell_of_slots(slots))
        if len(self.asked) < RANKS - 1:
            inside &= _among(np.take(self.index.rank, slots), self.asked.tolist())
        if self.kept is not None:
            inside &= np.take(self.kept, slots)
        edge = self._edge_sorted
        at = np.minimum(np.searchsorted(edge, slots), max(len(edge) - 1, 0))
        on_edge = np.take(edge, at) == slots if len(edge) else np.zeros(len(slots), np.bool_)
        return inside | on_edge


@dataclass(frozen=True)
class Cluster:
    """Stays near one another at a map's zoom: their number, mean point and grade counts."""

    cell: tuple[int, int, int]  # (cells per side, x, y) on the Web Mercator square
    count: int
    lat: float
    lng: float
    counts: list[tuple[str | None, int, int]]  # (county or None, grade rank, count)


CLUSTER_PX = 64  # a cluster gathers the stays of a 64-pixel square of the map
MAX_CLUSTERS = 256


def _mercator(lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    phi = np.radians(np.clip(lat, -85.05112878, 85.05112878))
    return (lng + 180.0) / 360.0, (1 - np.log(np.tan(phi) + 1 / np.cos(phi)) / math.pi) / 2


def clusters(
    index: StayIndex, slots: np.ndarray, zoom: int, bbox: geo.BBox, by_county: bool = True
) -> list[Cluster]:
    """The stays of `slots` gathered by square cells of CLUSTER_PX pixels at `zoom` (tiles of
    256 px), coarser when the viewport would hold more than MAX_CLUSTERS cells; each counted
    by grade, and by county too when `by_county` (a cluster of a province's map spans
    several, and each county is an entry: ten times the entries to answer)."""
    per_side = 2**zoom * (256 // CLUSTER_PX)
    x0, y1 = _mercator(np.array([bbox.south]), np.array([bbox.west]))
    x1, y0 = _mercator(np.array([bbox.north]), np.array([bbox.east]))
    while (
        per_side > 1
        and (math.floor(x1[0] * per_side) - math.floor(x0[0] * per_side) + 1)
        * (math.floor(y1[0] * per_side) - math.floor(y0[0] * per_side) + 1)
        > MAX_CLUSTERS
    ):
        per_side //= 2
    if len(slots) == 0:
        return []
    # cells counted in the viewport's own numbering (at most MAX_CLUSTERS of them), so that
    # bincount gathers them: no sort of the stays, whatever their number
    left, top = math.floor(x0[0] * per_side), math.floor(y0[0] * per_side)
    tall = math.floor(y1[0] * per_side) - top + 1
    x, y = np.take(index.mx, slots), np.take(index.my, slots)
    cx = np.minimum((x * per_side).astype(np.int64), per_side - 1)
    cy = np.minimum((y * per_side).astype(np.int64), per_side - 1)
    local = (cx - left) * tall + (cy - top)
    sizes_all = np.bincount(local)
    present = np.flatnonzero(sizes_all)
    sizes = sizes_all[present]
    lat = np.bincount(local, weights=np.take(index.lat, slots))[present] / sizes
    lng = np.bincount(local, weights=np.take(index.lng, slots))[present] / sizes
    keys = (present // tall + left) * per_side + (present % tall + top)
    counties: dict[int, str | None] = {code: name for name, code in index._counties.items()}
    width = (len(counties) + 1) * 8  # a county and a grade rank (1-3) in one number
    breakdown = local * width + np.take(index.rank, slots)
    if by_county:
        breakdown += np.take(index.county, slots).astype(np.int64) * 8
    else:
        counties = {0: None}
    tallies = np.bincount(breakdown)
    parts = np.flatnonzero(tallies)
    group_of = np.full(len(sizes_all), -1, np.int64)
    group_of[present] = np.arange(len(present))
    counts: list[list[tuple[str | None, int, int]]] = [[] for _ in present]
    for part, n in zip(parts.tolist(), tallies[parts].tolist(), strict=True):
        cell, rest = divmod(part, width)
        county, rank = divmod(rest, 8)
        counts[int(group_of[cell])].append((counties[county], rank, n))
    return [
        Cluster(
            (per_side, int(k // per_side), int(k % per_side)),
            int(sizes[i]),
            float(lat[i]),
            float(lng[i]),
            counts[i],
        )
        for i, k in enumerate(keys.tolist())
    ]


_END = "\x1e"  # after a slot's segment: no search text holds it
_SCAN_FROM = 2_000  # from this many slots to test, one str.find across all beats a test each
HELD = 16  # texts whose holders are kept (a bit a stay: 25 KB each at 200,000 stays)


class _Haystack(JoinedStrings):
    """One kind of every slot's names, folded, in one string: a text few names hold is found
    across the province by str.find (C speed) and the hits mapped back to slots; one tested
    on many slots is looked for in every slot at once, in numpy; on a few slots, in each by
    slicing. One string instead of one or two per stay (at 200,000 stays, a per-stay test in
    a 50 km circle took 18 ms). Changes are joined in by the next text search."""

    def __init__(self) -> None:
        super().__init__(empty=_END)

    @staticmethod
    def segment(name: str) -> str:
        return f"{name.casefold()}{_END}"

    def _found(self, text: str, at_most: int) -> list[int] | None:
        """Where `text` occurs; None past `at_most` occurrences."""
        hay = self.text
        found: list[int] = []
        at = hay.find(text)
        while at >= 0:
            if len(found) == at_most:
                return None
            found.append(at)
            at = hay.find(text, at + 1)
        return found

    def _slots(self, found: list[int]) -> np.ndarray:
        return np.searchsorted(self.starts, np.array(found, dtype=np.int64), side="right") - 1

    def hits(self, text: str, at_most: int) -> np.ndarray | None:
        """The slots that hold `text`, in order; None when it occurs more than `at_most`
        times (a text most names hold: testing the place's stays is then cheaper)."""
        found = self._found(text, at_most)
        return None if found is None else np.unique(self._slots(found))

    def holding(self, text: str) -> np.ndarray:
        """One bool a slot of the text: whether its segment holds `text`, found for all at
        once in numpy over the text's code points. Why: a text most names hold ("民宿",
        "homestay") occurs as often as there are stays, and finding each occurrence with
        str.find, a Python step each, took 38 ms at 200,000 stays; this takes 3-5 ms."""
        self.settle()
        held = np.zeros(len(self.starts) - 1, np.bool_)
        codes = _code_points(self.text)
        needle = [ord(c) for c in text]
        if not needle or len(needle) > len(codes) or max(needle) > np.iinfo(codes.dtype).max:
            return held
        # where the first character is, then those followed by the second, and so on
        at = np.flatnonzero(codes[: len(codes) - len(needle) + 1] == needle[0])
        for i, code in enumerate(needle[1:], 1):
            at = np.compress(np.take(codes, at + i) == code, at)
        # an occurrence lies within one segment (no text holds _END): its slot holds it
        if len(at) * 8 > len(held):  # most slots: one pass over a mark by character
            marks = np.zeros(len(codes), np.bool_)
            marks[at] = True
            return np.logical_or.reduceat(marks, self.starts[:-1])
        held[np.searchsorted(self.starts, at, side="right") - 1] = True
        return held

    def each(self, text: str, slots: np.ndarray) -> np.ndarray:
        """Which of `slots` hold `text`, each slot's segment tested."""
        hay, starts, size = self.text, self.starts, self.size
        return np.array(
            [s < size and text in hay[starts[s] : starts[s + 1]] for s in slots.tolist()],
            dtype=np.bool_,
        ).reshape(len(slots))


def _code_points(text: str) -> np.ndarray:
    """The code points of `text` as an array, in the narrowest of one, two or four bytes that
    holds them all (names in Chinese: two, unless one has a character past U+FFFF)."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), np.uint8)
    two = text.encode("utf-16-le")
    if len(two) == 2 * len(text):  # no surrogate pair: one unit a character
        return np.frombuffer(two, "<u2")
    return np.frombuffer(text.encode("utf-32-le"), "<u4")


class _Names:
    """What a text search looks in: each stay's name and English name, folded, in a haystack
    each. A text holding a character no English name holds (a Chinese one, as most are) is
    looked for in the names only: at 200,000 stays a third of the characters, and the English
    names, all ASCII, take a byte a character instead of the two a joined string with
    Chinese in it takes (str.isascii() answers at once)."""

    def __init__(self, scan_from: int = _SCAN_FROM) -> None:
        self.zh, self.en = _Haystack(), _Haystack()
        self.scan_from = scan_from  # from this many slots, `matching` asks `holding`
        # text -> (the haystacks' versions, slots, a bit a slot): who holds the last texts
        # `holding` found, until a name changes
        self._held: OrderedDict[str, tuple[tuple[int, int], int, np.ndarray]] = OrderedDict()

    def put(self, slots: list[int], names: list[tuple[str, str]]) -> None:
        self.zh.put(slots, [_Haystack.segment(name) for name, _ in names])
        self.en.put(slots, [_Haystack.segment(name_en) for _, name_en in names])

    def _haystacks(self, text: str) -> list[_Haystack]:
        """Those `text` may occur in (none when it cannot occur anywhere)."""
        if not text or _END in text:
            return []
        ascii_text = text.isascii()
        parts = []
        for hay in (self.zh, self.en):
            hay.settle()
            if ascii_text or not hay.text.isascii():
                parts.append(hay)
        return parts

    def hits(self, text: str, at_most: int) -> np.ndarray | None:
        """The slots whose names hold `text`, in order; None past `at_most` occurrences (or
        holders, when `holding` knows them)."""
        hays = self._haystacks(text)
        known = self._known(text)
        if known is not None and np.count_nonzero(known) > at_most:
            return None
        found = [hay.hits(text, at_most) for hay in hays]
        if any(f is None for f in found):
            return None
        return np.unique(np.concatenate([_NONE, *found]))

    def holding(self, text: str) -> np.ndarray:
        """One bool a slot the haystacks know: whether its name or English name holds
        `text`. A text most names hold ("民宿", "homestay") is what tourists type most: who
        holds the last HELD texts is kept (a bit a slot), until a name changes."""
        hays = self._haystacks(text)
        known = self._known(text)
        if known is not None:
            return known
        size = max(len(self.zh.starts), len(self.en.starts)) - 1
        held = np.zeros(size, np.bool_)
        for hay in hays:
            found = hay.holding(text)
            held[: len(found)] |= found
        self._held[text] = ((self.zh.version, self.en.version), size, np.packbits(held))
        while len(self._held) > HELD:
            self._held.popitem(last=False)
        return held

    def _known(self, text: str) -> np.ndarray | None:
        """Who holds `text`, if kept since the names last changed (the haystacks settled)."""
        kept = self._held.get(text)
        if kept is None or kept[0] != (self.zh.version, self.en.version):
            return None
        self._held.move_to_end(text)
        return np.unpackbits(kept[2], count=kept[1]).view(np.bool_)

    def matching(self, text: str, slots: np.ndarray) -> np.ndarray:
        """Which of `slots` hold `text` in a name: of many slots, taken from `holding`; of a
        few, each slot's names tested."""
        if len(slots) >= self.scan_from:
            held = self.holding(text)
            inside = slots < len(held)  # a slot past the names holds nothing yet
            return np.take(held, np.where(inside, slots, 0)) & inside
        among = np.zeros(len(slots), np.bool_)
        for hay in self._haystacks(text):
            among |= hay.each(text, slots)
        return among
