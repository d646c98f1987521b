"""The flat-array map used to remember a million row keys cheaply."""

from __future__ import annotations

import random

import pytest

from runner.input.compactmap import CompactMap


def test_setdefault_keeps_the_first_value_stored() -> None:
    seen = CompactMap()
    assert seen.setdefault(42, 2) == 2
    assert seen.setdefault(42, 9) == 2
    assert len(seen) == 1


def test_it_agrees_with_a_dict_through_many_growths() -> None:
    rng = random.Random(3)
    seen, expected = CompactMap(capacity=4), dict[int, int]()
    for row in range(20_000):
        key = rng.getrandbits(64) if row % 3 else rng.choice([1, 2, 3, 2**64 + 1])
        assert seen.setdefault(key, row) == expected.setdefault(key & (2**64 - 1), row)
    assert len(seen) == len(expected)
    assert all(seen.get(key) == value for key, value in expected.items())


def test_negative_and_zero_keys_are_stored_like_any_other() -> None:
    seen = CompactMap()
    seen.setdefault(-1, 5)
    seen.setdefault(0, 6)
    assert (seen.get(-1), seen.get(0), seen.get(7, 99)) == (5, 6, 99)


def test_add_bits_returns_the_value_before_and_accumulates() -> None:
    flags = CompactMap()
    assert flags.add_bits(7, 1) == 0
    assert flags.add_bits(7, 4) == 1
    assert flags.get(7) == 5


def test_a_value_wider_than_32_bits_is_refused() -> None:
    with pytest.raises(OverflowError):
        CompactMap().setdefault(1, 2**32)
