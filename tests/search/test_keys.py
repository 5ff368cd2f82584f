"""Which slot holds which id, kept in arrays: it answers what a plain dict answers, through
additions, moves, removals, ids longer than any before, and the merges between."""

from __future__ import annotations

import random

import numpy as np
import pytest

from homestay.search.keys import SlotKeys


def test_slot_keys_agree_with_a_dict_through_every_change():
    rng = random.Random(3)
    keys, model = SlotKeys(), {}
    free = list(range(20_000))
    rng.shuffle(free)
    ids = [f"330521-2026-{n:05d}" for n in range(12_000)] + ["h" + "x" * 40, "短"]
    # a build's bulk first, then single changes of every kind
    for chunk in (ids[:1_000], ids[1_000:1_500], ids[1_500:3_000]):
        slots = [free.pop() for _ in chunk]
        keys.bulk(chunk, slots)
        model.update(zip(chunk, slots, strict=True))
    for step in range(15_000):
        key = rng.choice(ids)
        action = rng.random()
        if action < 0.6:
            slot = model.get(key)
            if slot is None:
                slot = free.pop()
            elif rng.random() < 0.3:  # moved to another slot
                free.append(slot)
                slot = free.pop(0)
            keys.set(key, slot)
            model[key] = slot
        elif key in model:
            free.append(model.pop(key))
            keys.remove(key)
        if step % 997 == 0:
            probe = rng.sample(ids, 50)
            assert [keys.get(k) for k in probe] == [model.get(k) for k in probe]
    assert len(keys) == len(model)
    assert all(keys.get(k) == model.get(k) for k in ids)
    assert all(keys.key(slot) == key for key, slot in model.items())
    held = set(model.values())
    assert all(keys.key(s) == "" for s in range(20_000) if s not in held)
    keys.settle()
    assert all(keys.get(k) == model.get(k) for k in ids)


def test_a_bulk_takes_only_new_ids_and_says_which_are_new():
    keys = SlotKeys()
    keys.bulk(["b", "a"], [0, 1])
    keys.set("c", 2)  # waiting to be merged
    keys.remove("a")
    assert keys.new(["a", "b", "c", "d", "d", "a"]).tolist() == [
        True,
        False,
        False,
        True,
        False,  # twice in the same chunk: once
        False,
    ]
    for held_or_twice in (["b"], ["c"], ["e", "e"]):
        with pytest.raises(ValueError):
            keys.bulk(held_or_twice, list(range(10, 10 + len(held_or_twice))))
    keys.bulk(["a", "長い番号-2026-00001"], [3, 4])
    assert [keys.get(k) for k in ("a", "b", "c", "長い番号-2026-00001")] == [3, 0, 2, 4]
    assert keys.raw(np.array([4, 1])).tolist() == ["長い番号-2026-00001".encode(), b""]
