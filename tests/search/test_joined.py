"""Strings kept by slot in one string: their order, made in numpy, is the order sorted()
gives by (string, tie), whatever the strings share and however long they are."""

from __future__ import annotations

import random

import numpy as np

from homestay.search.joined import JoinedStrings


def test_the_order_is_sorted_by_string_then_tie_for_any_strings():
    rng = random.Random(7)
    alphabets = ["ab", "云栖民宿", "aé云\U0001f600", "abcdefghijklmnopq"]
    for trial in range(300):
        count = rng.randint(0, 80)
        alphabet = rng.choice(alphabets)
        strings = [
            "".join(rng.choices(alphabet, k=rng.choice([0, 1, 3, 15, 16, 17, 30])))
            for _ in range(count)
        ]
        if rng.random() < 0.4:  # a chain's names: the compared prefix is shared by all
            strings = ["莫干山竹隐精品民宿连锁店第" + s for s in strings]
        joined = JoinedStrings(empty="")
        joined.put(list(range(count)), strings)
        if count and rng.random() < 0.5:  # a change waiting to be written in
            joined.put([rng.randrange(count)], ["莫干山竹隐精品民宿连锁店第" + alphabet])
        ties = np.array([f"{rng.randrange(4)}-{n}".encode() for n in range(count)], np.bytes_)
        slots = np.array(rng.sample(range(count), count), np.int64)
        got = joined.ordered(slots, ties[slots]).tolist()
        expected = sorted(slots.tolist(), key=lambda s: (joined.get(s), bytes(ties[s])))
        assert got == expected, (trial, strings)


def test_changes_waiting_to_be_written_in_stay_bounded_without_a_search():
    from homestay.search.joined import PENDING_AT_MOST, JoinedStrings

    joined = JoinedStrings("")
    joined.put(list(range(1000)), [f"name {i}" for i in range(1000)])
    for round_ in range(3):
        for slot in range(0, 6000):  # renames, and new slots past the end
            joined.put([slot], [f"renamed {round_} {slot}"])
            assert len(joined.pending) <= max(PENDING_AT_MOST, joined.size // 8) + 1
    assert joined.get(17) == "renamed 2 17" and joined.get(5999) == "renamed 2 5999"
    joined.settle()
    assert joined.get(4321) == "renamed 2 4321"


def test_written_in_changes_read_back_as_a_list_of_strings_would():
    """Random renames, new slots past the end and gaps, settled at random moments: every
    slot reads what a plain list holds, and the text is exactly the slots' strings joined."""
    rng = random.Random(11)
    for empty in ("", "\x1e"):
        truth = [f"stay {i}" for i in range(50)]
        joined = JoinedStrings(empty=empty)
        joined.put(list(range(50)), list(truth))
        for _ in range(400):
            slot = rng.randrange(len(truth) + 5)
            value = rng.choice(["", "云栖", "a" * rng.randrange(20), f"renamed {slot}"])
            if slot >= len(truth):
                truth.extend([empty] * (slot + 1 - len(truth)))
            truth[slot] = value
            joined.put([slot], [value])
            if rng.random() < 0.2:
                joined.settle()
                assert joined.text == "".join(truth)
                assert joined.starts[-1] == len(joined.text)
            assert [joined.get(s) for s in range(len(truth))] == truth
