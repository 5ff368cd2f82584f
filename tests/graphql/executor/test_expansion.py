"""The size of a document once its fragments are spread, measured in linear time."""

from __future__ import annotations

import pytest
from graphql import parse

from homestay.graphql.executor.expansion import expand, expanded_selections


@pytest.mark.parametrize(
    ("document", "size"),
    [
        ("{ a b c }", 3),
        ("{ a { b { c } } }", 3),
        ("{ ...F } fragment F on Query { a b }", 3),  # the spread, and what it brings
        ("{ ...F ...F } fragment F on Query { a b }", 6),
        ("{ ... on Query { a } }", 2),
        ("{ ...Missing }", 1),  # validation names the unknown fragment
        ("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }", 3),  # a cycle: ditto
        ("query One { a } query Two { b c }", 3),  # every operation is validated
    ],
)
def test_expanded_size(document: str, size: int) -> None:
    assert expanded_selections(parse(document)) == size


def test_doubling_is_counted_as_it_would_expand_until_the_cap() -> None:
    def doubling(levels: int) -> str:
        defs = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
        return "\n".join(["{ ...F0 }", *defs, f"fragment F{levels} on Query {{ a }}"])

    # level k holds 2**k spreads; the leaves 2**levels fields
    assert expanded_selections(parse(doubling(3))) == 1 + 2 + 4 + 8 + 8
    assert expanded_selections(parse(doubling(60)), cap=1000) <= 2 * 1000 + 60


@pytest.mark.parametrize(
    ("document", "same_name"),
    [
        ("{ a b c }", 1),
        ("{ a a b }", 2),
        ("{ x: a y: a }", 1),  # aliases answer to their own names
        (
            "{ a ...F ... on Query { a } } fragment F on Query { a a }",
            4,
        ),  # all merge into one level
        ("{ b { a a } c { a } }", 2),  # levels apart
    ],
)
def test_fields_answering_to_one_name_are_counted_where_they_merge(
    document: str, same_name: int
) -> None:
    assert expand(parse(document)).same_name == same_name
