"""Spot checks drawn so that no one could have chosen whom they hit, and anyone can check it.

The draw is Efraimidis and Spirakis' weighted sampling without replacement (2006), in its
exponential form, with each candidate's uniform number derived from the seed and the
certificate number by SHA-256 instead of a generator's state:

    u(c)   = (int(SHA-256(seed + ":" + number)[:8 bytes], big-endian) + 0.5) / 2**64
    key(c) = -ln(u(c)) / weight(c)

and the `count` candidates with the smallest keys are drawn, in that order (ties, which need a
hash collision, by number). Each candidate's chance of being drawn first is its weight over the
total, and so on without replacement. Because a candidate's key depends only on the seed, its
number and its weight, the draw does not depend on the order of the list, and a re-draw needs
nothing but the recorded seed, candidates and weights: a few lines in any language.

Weights: every certificate in service gets a floor weight, plus the re-inspection plan's
priority for it (risk-based: the riskier, the likelier), so none is never drawn.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

ALGORITHM = "efraimidis-spirakis-exp/sha256-v1"


@dataclass(frozen=True)
class Candidate:
    number: str  # the certificate number
    weight: int  # > 0


def uniform(seed: str, number: str) -> float:
    """The candidate's number in (0, 1), from the seed: never 0, never 1."""
    digest = hashlib.sha256(f"{seed}:{number}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / 2**64


def draw(seed: str, candidates: Sequence[Candidate], count: int) -> list[str]:
    """The numbers of `count` candidates (all, when fewer), drawn by weight without
    replacement; the same inputs always give the same list, whatever their order."""
    keyed = sorted((-math.log(uniform(seed, c.number)) / c.weight, c.number) for c in candidates)
    return [number for _, number in keyed[:count]]
