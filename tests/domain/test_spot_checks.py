"""Spot checks: reproducible, independent of the list's order, and weighted as recorded."""

from __future__ import annotations

import random
from collections import Counter

from homestay.domain.spot_checks import Candidate, draw


def test_the_same_seed_draws_the_same_stays_whatever_the_order():
    candidates = [Candidate(f"330521-2026-{i:05d}", 10 + i) for i in range(40)]
    first = draw("330521:2026-12-04", candidates, 5)
    shuffled = list(candidates)
    random.Random(1).shuffle(shuffled)
    assert draw("330521:2026-12-04", shuffled, 5) == first
    assert len(set(first)) == 5  # without replacement
    assert draw("330521:2026-12-05", candidates, 5) != first  # another seed, another draw


def test_a_riskier_stay_is_drawn_more_often_and_none_is_never_drawn():
    candidates = [Candidate("risky", 90), *(Candidate(f"calm{i}", 10) for i in range(9))]
    firsts = Counter(draw(f"seed{n}", candidates, 1)[0] for n in range(4000))
    # 90 of 180 weight: half the first draws; each calm one 10 of 180
    assert 0.45 < firsts["risky"] / 4000 < 0.55
    assert all(firsts[f"calm{i}"] > 100 for i in range(9))


def test_asking_for_more_than_there_are_draws_them_all():
    candidates = [Candidate("a", 1), Candidate("b", 5)]
    assert sorted(draw("s", candidates, 10)) == ["a", "b"]
