"""The documents the apps send, parsed and validated once per text.

The apps send the same few documents again and again. Strawberry's caches keyed the validation
by the parsed document: every request parsed its text anew, then graphql-core hashed and
compared the whole tree in Python to find it in the cache, then validated in a worker thread:
much of what a small request cost. Here the text is the key (its hash is one pass in C): a
known text reuses its parsed document and the errors its validation found.

A document the cache has not seen is parsed by strawberry as usual (its syntax errors take
the normal path to the error-coding extension), measured as expanded and refused past the
bound (expansion.py) without being validated, and otherwise validated in a worker thread:
within the bound graphql-core may still spend tens of milliseconds on a hostile document,
and the event loop answers everyone else meanwhile.

Bounded by the total length of the texts kept, not their number: a parsed document takes
about a hundred times its text, so BUDGET_CHARS keeps the cache within tens of megabytes
whatever an attacker sends, and holds a few hundred of the apps' documents.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from graphql import DocumentNode, GraphQLError, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from homestay.graphql.executor.core import core_schema
from homestay.graphql.executor.expansion import expand, refusal

BUDGET_CHARS = 256_000


@dataclass(frozen=True)
class Known:
    document: DocumentNode
    errors: tuple[GraphQLError, ...]  # what validation (or the expansion bound) found


class KnownDocuments:
    """Texts seen lately with what parsing and validating them gave; least recent out first."""

    def __init__(self, budget_chars: int = BUDGET_CHARS) -> None:
        self.budget_chars = budget_chars
        self._entries: OrderedDict[str, Known] = OrderedDict()
        self._chars = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, text: str) -> Known | None:
        known = self._entries.get(text)
        if known is not None:
            self._entries.move_to_end(text)
        return known

    def put(self, text: str, known: Known) -> None:
        if len(text) > self.budget_chars or text in self._entries:
            return
        self._entries[text] = known
        self._chars += len(text)
        while self._chars > self.budget_chars:
            oldest, _ = self._entries.popitem(last=False)
            self._chars -= len(oldest)


class CachedDocuments(SchemaExtension):
    """Parse and validate a text once; a schema builds one KnownDocuments for its requests."""

    def __init__(self, known: KnownDocuments, hide_suggestions: bool = False) -> None:
        super().__init__()
        self.known = known
        self.hide_suggestions = hide_suggestions
        self.seen: Known | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query:
            self.seen = self.known.get(context.query)
            if self.seen is not None:
                context.graphql_document = self.seen.document
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        if self.seen is not None:
            context.pre_execution_errors = list(self.seen.errors)
            yield
            return
        document = context.graphql_document
        assert document is not None  # parsed, or strawberry would not validate
        refused = refusal(expand(document))
        errors = (
            [refused]
            if refused is not None
            else await asyncio.to_thread(
                validate,
                core_schema(context.schema),
                document,
                # and strawberry's own two, as its validate_document adds them
                (*context.validation_rules, MaybeNullValidationRule, OneOfInputValidationRule),
                hide_suggestions=self.hide_suggestions,
            )
        )
        context.pre_execution_errors = list(errors)
        if context.query:
            self.known.put(context.query, Known(document, tuple(errors)))
        yield
