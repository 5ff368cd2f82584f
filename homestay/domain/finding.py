"""Finding a homestay by any part of its name or address, as an inspector types it.

Each homestay keeps one folded text (compatibility forms, case folded) of its name, English
name and address, so that a query typed on any phone, in full-width letters or any case,
finds it by a plain substring test (docs/architecture.md says why not in the database).
One character alone would match a county: refused.
"""

from __future__ import annotations

import re
import unicodedata

MIN_QUERY = 2
MAX_QUERY = 50
# between the fields of the folded text: no query holds it, so no match spans two fields
SEPARATOR = "\x1f"
_SPACES = re.compile(r"\s+")


def fold(text: str | None) -> str:
    """What a search compares: compatibility forms (full-width Ａ is A), case folded, runs of
    space made one."""
    if not text:
        return ""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def searchable(*fields: str | None) -> str:
    """The folded text of a homestay's fields, for its document."""
    return SEPARATOR.join(fold(f) for f in fields if f)
