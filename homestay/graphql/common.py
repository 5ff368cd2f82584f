"""Types every domain uses: points, counties, user errors, Relay connections, enums."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.types import Info as _Info

from homestay.auth import Role
from homestay.domain import geo, messages
from homestay.domain.certificates import CertificateStatus as DomainCertificateStatus
from homestay.domain.gazetteer import gazetteer
from homestay.domain.grades import Grade as DomainGrade
from homestay.domain.grading import ItemKind as DomainItemKind
from homestay.domain.inspections import InspectionStatus as DomainInspectionStatus
from homestay.domain.inspections import Person
from homestay.domain.inspections import ReviewDecision as DomainReviewDecision
from homestay.errors import BadUserInput, UserErrors
from homestay.errors import UserError as DomainUserError
from homestay.graphql.context import Context
from homestay.search.service import StaySort as DomainStaySort

# strawberry.enum registers a domain enum for GraphQL on the class itself and returns it: the
# names below are the domain's own classes, which type checkers then see as such
strawberry.enum(DomainGrade, description="STANDARD 标准民宿 < PREMIUM 优品民宿 < BOUTIQUE 精品民宿")
strawberry.enum(DomainCertificateStatus)
strawberry.enum(DomainItemKind)
strawberry.enum(
    geo.CoordSystem, description="WGS84 (GPS), GCJ02 (AMap, Tencent maps), BD09 (Baidu maps)"
)
strawberry.enum(DomainStaySort)
Grade = DomainGrade
CertificateStatus = DomainCertificateStatus
ItemKind = DomainItemKind
CoordSystem = geo.CoordSystem
StaySort = DomainStaySort


strawberry.enum(DomainInspectionStatus, name="InspectionStatus")
strawberry.enum(DomainReviewDecision, name="ReviewDecision")
InspectionStatus = DomainInspectionStatus
ReviewDecision = DomainReviewDecision


strawberry.enum(Role, name="Role")
AccountRole = Role

Info = _Info[Context, None]


@strawberry.interface(
    description="An object a client may cache and fetch again by its id "
    "(Relay's global object identification): `node(id:)`, `nodes(ids:)`."
)
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque and global: it names the type too. Treat it as a string."
    )


def global_id(kind: str, key: str) -> strawberry.ID:
    """The id a client sees of the `kind` object stored under `key`: opaque (base64url of
    kind:key, unpadded), so that a cache keyed by id alone never mixes two types."""
    raw = f"{kind}:{key}".encode()
    return strawberry.ID(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())


def parse_global_id(value: str) -> tuple[str, str] | None:
    """(kind, key) of a global id; None when the value is not one."""
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    kind, colon, key = text.partition(":")
    if not colon or not kind.isalpha() or not kind[:1].isupper() or not key:
        return None
    return kind, key


def key_of(value: str, kind: str) -> str:
    """The stored key behind an id given as input where a `kind` is expected. A global id of
    that kind gives its key; any other string is taken as a key as the apps got it before
    ids were global (a global id of another kind then finds nothing, as it should)."""
    parsed = parse_global_id(str(value))
    if parsed is not None and parsed[0] == kind:
        return parsed[1]
    return str(value)


@strawberry.type
class GeoPoint:
    lat: float
    lng: float

    @classmethod
    def of(cls, wgs84: geo.LatLng, system: geo.CoordSystem) -> GeoPoint:
        point = geo.from_wgs84(wgs84, system)
        return cls(lat=point.lat, lng=point.lng)

    @classmethod
    def from_geojson(cls, doc: dict, system: geo.CoordSystem) -> GeoPoint:
        return cls.of(geo.from_geojson(doc), system)


@strawberry.input
class GeoPointInput:
    lat: float
    lng: float

    def to_wgs84(self, system: geo.CoordSystem, field: str) -> geo.LatLng:
        try:
            return geo.to_wgs84(geo.check_point(self.lat, self.lng, field), system)
        except geo.GeoError as exc:
            raise BadUserInput(exc.field, str(exc)) from None


@strawberry.input
class BBoxInput:
    south: float
    west: float
    north: float
    east: float

    def to_wgs84(self, system: geo.CoordSystem, max_corner_m: float | None = 400_000) -> geo.BBox:
        box = geo.BBox(self.south, self.west, self.north, self.east)
        try:
            return geo.bbox_to_wgs84(geo.check_bbox(box, max_corner_m=max_corner_m), system)
        except geo.GeoError as exc:
            raise BadUserInput(exc.field, str(exc)) from None


@strawberry.type
class County:
    code: str
    name_zh: str
    name_en: str
    # set when made, not resolved: a resolver costs strawberry far more than an attribute
    name: str = strawberry.field(
        description="In the language of Accept-Language (zh-CN by default)."
    )

    @classmethod
    def of(cls, code: str, lang: str) -> County:
        info = gazetteer().county(code)
        zh, en = (info.name_zh, info.name_en) if info is not None else (code, code)
        return cls(code=code, name_zh=zh, name_en=en, name=en if lang == "en" else zh)


@strawberry.type
class UserError:
    field: list[str] | None
    code: str
    message_en: str = strawberry.field(description="The message in English, with its detail.")
    message_zh: str = strawberry.field(description="The message in Chinese, for the app's user.")

    @strawberry.field(description="In the language of Accept-Language (zh-CN by default).")
    def message(self, info: Info) -> str:
        return self.message_en if info.context.lang == "en" else self.message_zh

    @classmethod
    def of(cls, error: DomainUserError) -> UserError:
        return cls(
            field=error.field,
            code=error.code,
            message_en=error.message,
            message_zh=messages.chinese(error.code, error.field, error.message),
        )


T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = strawberry.field(
        description="Lists page forward (first/after): true when `after` was given, as the "
        "items before a cursor from this list exist."
    )
    start_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="All the items of the list; counted only when asked for.")
    async def total_count(self) -> int:
        return await self.count()

    @classmethod
    def of(
        cls,
        edges: list[Edge[T]],
        has_next: bool,
        count: Callable[[], Awaitable[int]],
        after: str | None = None,
    ) -> Connection[T]:
        return cls(
            edges=edges,
            count=count,
            page_info=PageInfo(
                has_next_page=has_next,
                end_cursor=edges[-1].cursor if edges else None,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
            ),
        )


def check_first(first: int) -> int:
    if not 1 <= first <= 100:
        raise BadUserInput("first", "must be between 1 and 100")
    return first


def localized(label: Mapping[str, str], lang: str) -> str:
    return label.get(lang) or label.get("zh") or next(iter(label.values()), "")


P = TypeVar("P")
R = TypeVar("R")


async def payload(
    kind: Callable[..., P], action: Awaitable[R], fields: Callable[[R], dict[str, Any]]
) -> P:
    """Run a mutation's action; its UserErrors go into the payload, with nothing written."""
    try:
        result = await action
    except UserErrors as exc:
        return kind(errors=[UserError.of(e) for e in exc.errors])
    return kind(**fields(result), errors=[])


@strawberry.type
class Actor:
    id: strawberry.ID = strawberry.field(description="The account's id (an Account node).")
    name: str

    @classmethod
    def of_person(cls, person: Person) -> Actor:
        return cls(id=global_id("Account", person.id or ""), name=person.name or "")


@strawberry.type
class StandardRef:
    code: str
    version: int
