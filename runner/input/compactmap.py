"""A map from 64-bit keys to small unsigned ints in flat arrays: 24 bytes an entry, not ~115.

Spotting duplicate rows in a file of a million rows means remembering a million keys. A dict of
ints costs about 115 bytes an entry once the int objects and the table are counted; two parallel
`array`s with open addressing cost 12 bytes a slot, kept at most half full.
"""

from __future__ import annotations

from array import array

_KEY_MASK = (1 << 64) - 1


class CompactMap:
    """`setdefault`, `get` and `add_bits` for int keys (any int: folded to 64 bits, 0 avoided).

    Keys are expected to be well-mixed already (hashes); their low bits pick the slot.

    >>> seen = CompactMap()
    >>> seen.setdefault(hash(("p1", "d1")), 2), seen.setdefault(hash(("p1", "d1")), 9)
    (2, 2)
    """

    def __init__(self, capacity: int = 1 << 12) -> None:
        size = 1 << max(capacity - 1, 1).bit_length()  # a power of two, so a mask picks the slot
        self._keys = array("Q", bytes(8 * size))  # 0 marks an empty slot
        self._values = array("I", bytes(4 * size))
        self._mask = size - 1
        self._used = 0

    def __len__(self) -> int:
        return self._used

    def get(self, key: int, default: int = 0) -> int:
        slot = self._find((key & _KEY_MASK) or 1)
        return self._values[slot] if self._keys[slot] else default

    # setdefault and add_bits run for every row of big files: the probe is inlined, not shared.

    def setdefault(self, key: int, value: int) -> int:
        """The value stored for `key`, storing `value` first if there is none."""
        folded = (key & _KEY_MASK) or 1
        keys, mask = self._keys, self._mask
        slot = folded & mask
        while found := keys[slot]:
            if found == folded:
                return self._values[slot]
            slot = (slot + 1) & mask
        self._insert(slot, folded, value)
        return value

    def add_bits(self, key: int, bits: int) -> int:
        """OR `bits` into the value for `key` (absent counts as 0); returns the value before."""
        folded = (key & _KEY_MASK) or 1
        keys, mask = self._keys, self._mask
        slot = folded & mask
        while found := keys[slot]:
            if found == folded:
                old: int = self._values[slot]
                if old | bits != old:
                    self._values[slot] = old | bits
                return old
            slot = (slot + 1) & mask
        self._insert(slot, folded, bits)
        return 0

    def _find(self, folded: int) -> int:
        """The slot holding `folded`, or the empty slot where it belongs (linear probing)."""
        keys, mask = self._keys, self._mask
        slot = folded & mask
        while (found := keys[slot]) and found != folded:
            slot = (slot + 1) & mask
        return slot

    def _insert(self, slot: int, folded: int, value: int) -> None:
        self._values[slot] = value  # raises OverflowError past 32 bits, before the key is stored
        self._keys[slot] = folded
        self._used += 1
        if self._used * 2 > self._mask:
            self._grow()

    def _grow(self) -> None:
        old_keys, old_values = self._keys, self._values
        size = 2 * (self._mask + 1)
        self._keys = keys = array("Q", bytes(8 * size))
        self._values = values = array("I", bytes(4 * size))
        self._mask = mask = size - 1
        for key, value in zip(old_keys, old_values, strict=True):
            if key:
                slot = key & mask
                while keys[slot]:
                    slot = (slot + 1) & mask
                keys[slot] = key
                values[slot] = value
