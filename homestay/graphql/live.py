"""Subscriptions over graphql-transport-ws: the bureau's live desk and an inspector's
assignments, from the database's change feed (homestay/live)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from datetime import datetime

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from homestay.domain import geo
from homestay.errors import BadRequest
from homestay.graphql.appeals import Appeal
from homestay.graphql.assignments import Assignment
from homestay.graphql.certificates import Certificate
from homestay.graphql.common import Info
from homestay.graphql.concerns import Concern
from homestay.graphql.inspections import Inspection
from homestay.graphql.permissions import IsBureau, IsInspector
from homestay.graphql.requests import InspectionRequest
from homestay.live.events import AssignmentEventKind, DeskEventKind, Event
from homestay.services.assignments import assignment
from homestay.storage import documents

strawberry.enum(DeskEventKind)
strawberry.enum(AssignmentEventKind)
_DESK = frozenset(k.value for k in DeskEventKind)
_ASSIGNMENT = frozenset(k.value for k in AssignmentEventKind)


class SocketForSubscriptions(SchemaExtension):
    """A socket carries subscriptions only: queries and mutations go over HTTP, where every
    limit of a request applies; and a subscription sent over HTTP is refused in words."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        on_socket = getattr(context.context, "socket", None) is not None
        subscription = context.operation_type is OperationType.SUBSCRIPTION
        if on_socket and not subscription:
            raise BadRequest(
                "query", "a socket carries subscriptions only: send queries and mutations over HTTP"
            )
        if subscription and not on_socket:
            raise BadRequest(
                "query", "a subscription goes over a WebSocket at /graphql (graphql-transport-ws)"
            )
        yield


@strawberry.type(description="Something the county's desk should see, as it happened.")
class DeskEvent:
    cursor: str = strawberry.field(
        description="Give it as `after` when reconnecting: what was missed comes first."
    )
    kind: DeskEventKind
    at: datetime = strawberry.field(description="When the database recorded the change.")
    inspection: Inspection | None = None
    concern: Concern | None = None
    appeal: Appeal | None = None
    request: InspectionRequest | None = None
    certificate: Certificate | None = None

    @classmethod
    def of(cls, event: Event) -> DeskEvent:
        doc = event.document
        shown: dict = {}
        if event.collection == "inspections":
            shown["inspection"] = Inspection.of(documents.inspection(doc), geo.CoordSystem.WGS84)
        elif event.collection == "concerns":
            shown["concern"] = Concern.of(documents.concern(doc))
        elif event.collection == "appeals":
            shown["appeal"] = Appeal.of(documents.appeal(doc))
        elif event.collection == "inspection_requests":
            shown["request"] = InspectionRequest.of(documents.inspection_request(doc))
        elif event.collection == "certificates":
            shown["certificate"] = Certificate.of(documents.certificate(doc), geo.CoordSystem.WGS84)
        return cls(cursor=event.cursor, kind=DeskEventKind(event.kind), at=event.at, **shown)


@strawberry.type(description="A change to one of the inspector's assignments.")
class AssignmentEvent:
    cursor: str
    kind: AssignmentEventKind
    at: datetime
    assignment: Assignment


@strawberry.type(name="Subscription")
class LiveSubscriptions:
    @strawberry.subscription(
        permission_classes=[IsBureau],
        description="The county's desk, live: submissions, concerns, appeals, requests and "
        "certificates' changes, through any API process. `after` replays what was missed "
        "(within a day).",
    )
    async def desk_events(
        self, info: Info, county: str, after: str | None = None
    ) -> AsyncGenerator[DeskEvent, None]:
        context = info.context
        context.caller.require_county(county)

        def wants(event: Event) -> bool:
            return event.kind in _DESK and event.county == county

        async for event in context.live_events(wants, after):
            yield DeskEvent.of(event)

    @strawberry.subscription(
        permission_classes=[IsInspector],
        description="The caller's assignments, live: ASSIGNED, CANCELLED, DUE_TOMORROW.",
    )
    async def assignment_events(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[AssignmentEvent, None]:
        context = info.context
        me = context.caller.account_id

        def wants(event: Event) -> bool:
            return event.kind in _ASSIGNMENT and event.inspector_id == me

        async for event in context.live_events(wants, after):
            yield AssignmentEvent(
                cursor=event.cursor,
                kind=AssignmentEventKind(event.kind),
                at=event.at,
                assignment=Assignment.of(assignment(event.document), context.today),
            )
