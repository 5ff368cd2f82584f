"""node(id) and nodes(ids): Relay's global object identification.

An id names its type (graphql/common.global_id), so one read per type answers a whole
`nodes` list (the per-request DataLoaders batch them). Each type is shown by the same rule as
its own root field: a homestay to the public only while certified, inspections and concerns
to their county's staff, an account to itself and its county's bureau; anything else, and
an id that names nothing, is null, never an error that would tell which.
"""

from __future__ import annotations

import asyncio

import strawberry

from homestay.auth import Role
from homestay.domain import geo
from homestay.domain.disclosure import sees_private_data
from homestay.errors import BadUserInput
from homestay.graphql.accounts import Account
from homestay.graphql.appeals import Appeal, sees_appeal
from homestay.graphql.assignments import Assignment, SpotCheckDraw
from homestay.graphql.certificates import Certificate
from homestay.graphql.common import CoordSystem, Info, Node, parse_global_id
from homestay.graphql.concerns import Concern
from homestay.graphql.homestays import visible_homestay
from homestay.graphql.inspections import Inspection
from homestay.graphql.standards import GradingStandard

MAX_NODES = 100


async def _certificate(info: Info, key: str, coord: geo.CoordSystem) -> Node | None:
    found = await info.context.certificates.load(key)
    return Certificate.of(found, coord) if found else None


async def _inspection(info: Info, key: str, coord: geo.CoordSystem) -> Node | None:
    found = await info.context.inspections.load(key)
    if found is None or not sees_private_data(info.context.caller, found.county, found.homestay_id):
        return None
    return Inspection.of(found, coord)


async def _account(info: Info, key: str, coord: geo.CoordSystem) -> Node | None:
    caller = info.context.caller
    if caller.account_id is None:
        return None
    found = await info.context.accounts.load(key)
    if found is None:
        return None
    if key == caller.account_id or (
        caller.role is Role.BUREAU and any(caller.can_act_in(c) for c in found.counties)
    ):
        return Account.of(found)
    return None


async def _concern(info: Info, key: str, coord: geo.CoordSystem) -> Node | None:
    if info.context.caller.role is not Role.BUREAU:
        return None
    found = await info.context.concerns.load(key)
    if found is None or not info.context.caller.can_act_in(found.county):
        return None
    return Concern.of(found)


async def _appeal(info: Info, key: str, coord: geo.CoordSystem) -> Node | None:
    found = await info.context.appeals.load(key)
    if found is None or not sees_appeal(info, found.county, found.homestay_id):
        return None
    return Appeal.of(found)


async def _assignment(info: Info, key: str, coord: geo.CoordSystem) -> Node | None:
    """Its county's bureau, and the inspector sent."""
    found = await info.context.assignments.load(key)
    caller = info.context.caller
    if found is None or not caller.can_act_in(found.county):
        return None
    if caller.role is Role.INSPECTOR and (
        found.inspector is None or found.inspector.id != caller.account_id
    ):
        return None
    return Assignment.of(found, info.context.today, coord)


async def _draw(info: Info, key: str, coord: geo.CoordSystem) -> Node | None:
    found = await info.context.draws.load(key)
    caller = info.context.caller
    if found is None or caller.role is not Role.BUREAU or not caller.can_act_in(found.county):
        return None
    return SpotCheckDraw.of(found)


async def _standard(info: Info, key: str, coord: geo.CoordSystem) -> Node | None:
    found = await info.context.standards.load(key)
    return GradingStandard.of(found, info.context.lang) if found else None


async def _homestay(info: Info, key: str, coord: geo.CoordSystem) -> Node | None:
    return await visible_homestay(info, key, coord)


RESOLVERS = {
    "Homestay": _homestay,
    "Certificate": _certificate,
    "Inspection": _inspection,
    "Account": _account,
    "Concern": _concern,
    "Appeal": _appeal,
    "GradingStandard": _standard,
    "Assignment": _assignment,
    "SpotCheckDraw": _draw,
}


async def resolve_node(info: Info, id: str, coord: geo.CoordSystem) -> Node | None:
    parsed = parse_global_id(str(id))
    if parsed is None or parsed[0] not in RESOLVERS:
        return None
    kind, key = parsed
    return await RESOLVERS[kind](info, key, coord)


@strawberry.type
class NodeQueries:
    @strawberry.field(
        description="The object with this global id, as the caller may see it; "
        "null when there is none or the caller may not see it."
    )
    async def node(
        self, info: Info, id: strawberry.ID, coord_system: CoordSystem = geo.CoordSystem.WGS84
    ) -> Node | None:
        return await resolve_node(info, id, coord_system)

    @strawberry.field(
        description=f"node(id) for each id, in order (at most {MAX_NODES}); one "
        "database read per type, however many ids."
    )
    async def nodes(
        self,
        info: Info,
        ids: list[strawberry.ID],
        coord_system: CoordSystem = geo.CoordSystem.WGS84,
    ) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise BadUserInput("ids", f"at most {MAX_NODES} ids at once, not {len(ids)}")
        return list(await asyncio.gather(*(resolve_node(info, i, coord_system) for i in ids)))
