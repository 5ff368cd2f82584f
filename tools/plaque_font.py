#!/usr/bin/env python3
"""Make homestay/fonts/plaque-sc.otf: the few glyphs the door plaque's PNG draws, from Noto Sans
CJK SC Bold (SIL Open Font License 1.1, homestay/fonts/OFL.txt).

    apt-get install fonts-noto-cjk && pip install fonttools
    python3 tools/plaque_font.py           # writes the font; --check: fails if it differs

A server cannot be assumed to have a CJK font, and the whole face is 20 MB: the plaque needs
the grade names, the digits and Latin letters of a certificate number, nothing else. The
subset is made from a fixed character set with fixed options, without timestamps, so running
this again on the same Debian font gives the same bytes (--check says so). The family is
renamed (a Modified Version under the OFL keeps the licence, not the original's name).
"""

from __future__ import annotations

import io
import string
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
FACE = "Noto Sans CJK SC Bold"
TARGET = ROOT / "homestay" / "fonts" / "plaque-sc.otf"
FAMILY = "Homestay Plaque SC"


def characters() -> str:
    sys.path.insert(0, str(ROOT))
    from homestay.domain.grades import Grade

    labels = "".join(g.label["zh"] + g.label["en"] for g in Grade)
    return "".join(sorted(set(labels + string.ascii_letters + string.digits + " -·/")))


def made() -> bytes:
    collection = TTCollection(str(SOURCE))
    [font] = [f for f in collection.fonts if f["name"].getDebugName(4) == FACE]
    options = subset.Options()
    options.layout_features = []  # the plaque's text needs no shaping
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]  # the copyright and licence stay
    options.notdef_outline = True
    options.recalc_timestamp = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters())
    subsetter.subset(font)
    names = font["name"]
    for record in names.names:
        if record.nameID in (1, 4, 16):
            record.string = FAMILY if record.nameID != 4 else f"{FAMILY} Bold"
        elif record.nameID == 6:
            record.string = FAMILY.replace(" ", "") + "-Bold"
        elif record.nameID == 3:
            record.string = f"{FAMILY.replace(' ', '')}-Bold (subset of {FACE})"
    font.recalcTimestamp = False  # head.modified stays the source's
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def main() -> int:
    data = made()
    if "--check" in sys.argv:
        same = TARGET.exists() and TARGET.read_bytes() == data
        print("the shipped font is what this makes" if same else f"{TARGET} differs")
        return 0 if same else 1
    TARGET.write_bytes(data)
    print(f"{TARGET.relative_to(ROOT)}: {len(data):,} bytes, {len(characters())} characters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
