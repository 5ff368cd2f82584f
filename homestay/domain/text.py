"""Free text from the field, checked once for every name, address, note and reason.

Text is normalized (NFC: one encoding of each character, so that 民宿 typed on two phones is
the same string, and a search finds it) and trimmed. What a reader cannot see but a program
obeys is refused, naming the field: C0 and C1 controls (NUL among them; a note may keep its
line breaks and tabs), bidirectional overrides and isolates (U+202E turns "gpj.exe" into
"exe.jpg"), zero-width and other format characters, line and paragraph separators, private
use code points, lone surrogates and noncharacters. These travel raw into CSV files, the
public feed and the bureau's screen otherwise.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from homestay.errors import UserError

_KEPT_IN_NOTES = {"\n", "\t"}


def first_hidden(value: str, multiline: bool = False) -> str | None:
    """The first character a reader cannot see but a program obeys, or None."""
    for char in value:
        if multiline and char in _KEPT_IN_NOTES:
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp", "Cn"):
            return char
    return None


def normalize(value: str, multiline: bool = False) -> str:
    value = unicodedata.normalize("NFC", value)
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.strip()


def check_text(
    errors: list[UserError],
    field: Sequence[str],
    value: str | None,
    limit: int,
    *,
    required: bool = False,
    multiline: bool = False,
) -> str | None:
    """`value` normalized, or None; what is wrong with it appended to `errors`."""
    name = field[-1]
    if value is None:
        if required:
            errors.append(UserError(list(field), "REQUIRED", f"{name} is required"))
        return None
    value = normalize(value, multiline)
    hidden = first_hidden(value, multiline)
    if hidden is not None:
        errors.append(
            UserError(
                list(field),
                "INVALID_CHARACTER",
                f"{name} holds an invisible control character "
                f"U+{ord(hidden):04X} ({unicodedata.name(hidden, 'unnamed')}); "
                f"remove it",
            )
        )
        return None
    if not value and required:
        errors.append(UserError(list(field), "REQUIRED", f"{name} must not be empty"))
    elif len(value) > limit:
        errors.append(
            UserError(list(field), "TOO_LONG", f"{name} may have at most {limit} characters")
        )
    return value or None
