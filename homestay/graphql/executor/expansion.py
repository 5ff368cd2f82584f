"""The work a document asks for, bounded before anything validates or runs it.

Tokens, depth and aliases do not see a fragment spread twice per level: `fragment F0 on Query
{ ...F1 ...F1 }` ... 22 levels is ~270 tokens and 4 million fields once expanded, which
holds graphql-core's validation (OverlappingFieldsCanBeMerged compares what spreads expand
to) for seconds on the event loop, and every other request with it. Here the document is measured as
expanded, each fragment once (memoized, so linear in the document's size), and refused past
MAX_SELECTIONS before validation: the apps' largest document expands to about 150 selections.
The same pass counts the fields that answer to one name in one selection set, the pairs
validation compares, and bounds them too (MAX_SAME_NAME).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

MAX_SELECTIONS = 1000
# validation compares the fields that answer to one name pairwise (quadratic); the apps
# repeat a name a few times at most
MAX_SAME_NAME = 50


@dataclass(frozen=True)
class Expansion:
    """A document as validation and execution will see it, fragments spread."""

    selections: int  # every field, inline fragment and spread, counted as expanded
    same_name: int  # the most fields answering to one name in one selection set


def expand(document: DocumentNode, cap: int = MAX_SELECTIONS) -> Expansion:
    """The document's operations with every fragment spread expanded, each fragment measured
    once; stops counting soon after `cap`. A spread of an unknown or cyclic fragment counts
    nothing here: validation refuses those."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    measured: dict[str, tuple[int, Counter[str]]] = {}
    same_name = 0

    def fragment(name: str, open_: frozenset[str]) -> tuple[int, Counter[str]]:
        if name in measured:
            return measured[name]
        if name in open_ or name not in fragments:
            return 0, Counter()
        measured[name] = of(fragments[name].selection_set, open_ | {name})
        return measured[name]

    def of(
        selection_set: SelectionSetNode | None, open_: frozenset[str]
    ) -> tuple[int, Counter[str]]:
        """(selections, how many fields answer to each name at this level)."""
        nonlocal same_name
        total, names = 0, Counter[str]()
        for selection in selection_set.selections if selection_set else ():
            total += 1
            if isinstance(selection, FieldNode):
                names[(selection.alias or selection.name).value] += 1
                total += of(selection.selection_set, open_)[0]
            else:
                inner = (
                    of(selection.selection_set, open_)
                    if isinstance(selection, InlineFragmentNode)
                    else fragment(cast(FragmentSpreadNode, selection).name.value, open_)
                )
                total += inner[0]
                names.update(inner[1])  # they merge into this level
            if total > cap:
                break
        same_name = max(same_name, *names.values(), 0)
        return total, names

    total = 0
    for operation in _operations(document):
        total += of(operation.selection_set, frozenset())[0]
        if total > cap:
            break
    return Expansion(total, same_name)


def expanded_selections(document: DocumentNode, cap: int = MAX_SELECTIONS) -> int:
    return expand(document, cap).selections


def _operations(document: DocumentNode) -> Iterator[OperationDefinitionNode]:
    return (d for d in document.definitions if isinstance(d, OperationDefinitionNode))


def refusal(expansion: Expansion) -> GraphQLError | None:
    if expansion.selections > MAX_SELECTIONS:
        return GraphQLError(
            f"this document expands to more than {MAX_SELECTIONS} selections once its "
            f"fragments are spread; send fewer or smaller fragments",
            extensions={"code": "QUERY_TOO_COMPLEX", "limit": MAX_SELECTIONS},
        )
    if expansion.same_name > MAX_SAME_NAME:
        return GraphQLError(
            f"{expansion.same_name} fields answer to one name in one selection set; at most "
            f"{MAX_SAME_NAME} may (give them aliases)",
            extensions={"code": "QUERY_TOO_COMPLEX", "limit": MAX_SAME_NAME},
        )
    return None
