"""Keyset pagination: a cursor is the sort key of the last item seen, so inserts between two
pages never cause duplicates or skips."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from homestay.errors import BadUserInput


def encode_cursor(key: Sequence[Any]) -> str:
    raw = json.dumps(list(key), ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, shape: Sequence[type]) -> list[Any]:
    """The key behind a cursor, checked against the types the current sort expects."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise BadUserInput("after", "not a cursor from this list") from None
    if (
        not isinstance(key, list)
        or len(key) != len(shape)
        or not all(
            isinstance(v, t) and not isinstance(v, bool) for v, t in zip(key, shape, strict=True)
        )
    ):
        raise BadUserInput("after", "not a cursor from this list and sort")
    return key


def keyset_after(order: list[tuple[str, int]], key: list[Any]) -> dict:
    """The keyset condition 'strictly after key' for a compound sort."""
    clauses = []
    for i, (name, direction) in enumerate(order):
        clause: dict[str, Any] = {order[j][0]: key[j] for j in range(i)}
        clause[name] = {"$gt" if direction == 1 else "$lt": key[i]}
        clauses.append(clause)
    return {"$or": clauses}


async def newest_first(
    collection: Any, flt: dict, time_field: str, first: int, after: str | None
) -> tuple[list[tuple[dict, str]], bool]:
    """A page of `collection` matching `flt`, newest first by `time_field` (then `_id`):
    (document, cursor) pairs, and whether there is more. An index on (..., time_field, _id)
    serves it."""
    return await by_time(collection, flt, time_field, first, after, direction=-1)


async def oldest_first(
    collection: Any, flt: dict, time_field: str, first: int, after: str | None
) -> tuple[list[tuple[dict, str]], bool]:
    """The same, oldest first: a queue."""
    return await by_time(collection, flt, time_field, first, after, direction=1)


async def by_time(
    collection: Any, flt: dict, time_field: str, first: int, after: str | None, direction: int
) -> tuple[list[tuple[dict, str]], bool]:
    order = [(time_field, direction), ("_id", direction)]
    page_filter = flt
    if after is not None:
        when, last_id = decode_cursor(after, [str, str])
        try:
            key = [datetime.fromisoformat(when), last_id]
        except ValueError:
            raise BadUserInput("after", "not a cursor from this list") from None
        page_filter = {"$and": [flt, keyset_after(order, key)]}
    docs = await collection.find(page_filter).sort(order).limit(first + 1).to_list()
    return (
        [(d, encode_cursor([d[time_field].isoformat(), d["_id"]])) for d in docs[:first]],
        len(docs) > first,
    )
