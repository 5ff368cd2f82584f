"""Finding a homestay by any part of its name or address, as an inspector types it.

A substring is not what a B-tree finds: `$regex` without an anchor reads every key of the
county. So each homestay keeps the distinct two-character pieces (bigrams) of its folded name,
English name and address, in a multikey index; every substring of two or more characters
contains at least one of them, and the homestays holding all of the query's bigrams are the
only candidates. The folded text itself confirms the match exactly (a bigram set may match
"山水" in "山...水山"). Chinese has no spaces to split words at, so bigrams (not words) are
the unit; one character alone would match a county, and is refused.
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


def bigrams(folded: str) -> set[str]:
    return {folded[i:i + 2] for i in range(len(folded) - 1)}


def searchable(*fields: str | None) -> tuple[str, list[str]]:
    """The folded text and its sorted bigrams, for the homestay document."""
    parts = [fold(f) for f in fields if f]
    grams: set[str] = set()
    for part in parts:
        grams |= bigrams(part)
    return SEPARATOR.join(parts), sorted(grams)


def query_grams(folded_query: str) -> list[str]:
    """The query's bigrams, the least common-looking first (a Han character pair before
    Latin letters, which recur across English names), for the index to start from."""
    return sorted(bigrams(folded_query), key=lambda g: (not any(ord(c) > 0x2E80 for c in g), g))
