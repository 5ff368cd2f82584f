"""The GraphQL schema: each domain's queries and mutations merged into one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from homestay.graphql.accounts import Account, AccountMutations, AccountQueries
from homestay.graphql.appeals import Appeal, AppealMutations, AppealQueries
from homestay.graphql.assignments import (
    Assignment,
    AssignmentMutations,
    AssignmentQueries,
    SpotCheckDraw,
)
from homestay.graphql.bureau import BureauQueries
from homestay.graphql.certificates import Certificate, CertificateMutations, CertificateQueries
from homestay.graphql.concerns import Concern, ConcernMutations, ConcernQueries
from homestay.graphql.errors import ErrorCodes, Observed, log_errors
from homestay.graphql.executor.cost import CostLane, CostLimit
from homestay.graphql.executor.documents import CachedDocuments, KnownDocuments
from homestay.graphql.executor.execution import Execution
from homestay.graphql.homestays import HomestayMutations, HomestayQueries
from homestay.graphql.inspections import Inspection, InspectionMutations, InspectionQueries
from homestay.graphql.live import LiveSubscriptions, SocketForSubscriptions
from homestay.graphql.node import NodeQueries
from homestay.graphql.requests import RequestMutations, RequestQueries
from homestay.graphql.scalars import DateTime
from homestay.graphql.search import SearchQueries
from homestay.graphql.standards import GradingStandard, StandardQueries

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2000

Query = merge_types(
    "Query",
    (
        SearchQueries,
        HomestayQueries,
        CertificateQueries,
        StandardQueries,
        InspectionQueries,
        AccountQueries,
        BureauQueries,
        ConcernQueries,
        NodeQueries,
        RequestQueries,
        AppealQueries,
        AssignmentQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        HomestayMutations,
        InspectionMutations,
        CertificateMutations,
        AccountMutations,
        ConcernMutations,
        RequestMutations,
        AppealMutations,
        AssignmentMutations,
    ),
)


class HomestaySchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        context: Any = execution_context.context if execution_context else None
        log_errors(errors, getattr(context, "request_id", None))


def build_schema(
    *,
    introspection: bool = True,
    cost_public: int = 15_000,
    cost_account: int = 50_000,
    costly_lane: int = 1,
    short_road: bool = True,
) -> HomestaySchema:
    """The schema, with the limits a request meets (cost.py: budgets and the costly lane)."""
    known = KnownDocuments()  # this schema's rules validated them
    lane = CostLane(costly_lane)
    extensions: list = [
        Observed,
        SocketForSubscriptions,
        lambda: ErrorCodes(hide_suggestions=not introspection),
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        # the apps send the same few documents again and again: parsed and validated once
        # per text; one that expands past its bound is refused unvalidated
        lambda: CachedDocuments(known, hide_suggestions=not introspection),
        lambda: CostLimit(public=cost_public, account=cost_account, lane=lane),
    ]
    if not introspection:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return HomestaySchema(
        query=Query,
        mutation=Mutation,
        subscription=LiveSubscriptions,
        extensions=extensions,
        # every type that implements Node, for node(id) to return
        types=[
            Certificate,
            Inspection,
            Account,
            Concern,
            GradingStandard,
            Appeal,
            Assignment,
            SpotCheckDraw,
        ],
        scalar_overrides={datetime: DateTime},
        execution_context_class=Execution
        if short_road
        else type("StockExecution", (Execution,), {"short_road": False}),
    )


schema = build_schema()
