"""graphql-core's schema behind strawberry's, for what only graphql-core does (validating a
document, walking its types to price a query, naming a field's type in an error).

strawberry keeps it in `Schema._schema` and offers no public accessor (0.341; its own
extensions read the attribute the same way): this is the one place that does, so that a
strawberry upgrade that renames it breaks here, by name, and nowhere else.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLSchema


def core_schema(schema: Any) -> GraphQLSchema:
    graphql_schema = schema._schema
    assert isinstance(graphql_schema, GraphQLSchema), "strawberry moved its graphql-core schema"
    return graphql_schema
