"""Exact Hamming-distance search over 256-bit hashes, for one company.

Brute force, but cheap: the hashes live as four contiguous uint64 columns, and a query
XORs and popcounts (np.bitwise_count) the first two columns for every stored hash. The
distance over 128 bits can only grow when the other 128 bits are added, so every hash with
a full distance within the threshold survives this first pass: the filter is exact, never
approximate. Only the survivors (for random-looking hashes almost none) get the full
distance. Scratch buffers are reused, so a query allocates almost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

WORDS = 4  # 256 bits
HASH_BYTES = WORDS * 8
_INITIAL_CAPACITY = 1024


def hash_to_words(digest: bytes) -> np.ndarray:
    """32-byte hash as four big-endian uint64 words (bit order matches the byte string)."""
    if len(digest) != HASH_BYTES:
        raise ValueError(f"expected {HASH_BYTES} bytes, got {len(digest)}")
    return np.frombuffer(digest, dtype=">u8").astype(np.uint64)


def hashes_to_words(digests: list[bytes]) -> np.ndarray:
    if not digests:
        return np.empty((0, WORDS), dtype=np.uint64)
    joined = b"".join(digests)
    if len(joined) != HASH_BYTES * len(digests):
        raise ValueError("every hash must be 32 bytes")
    return np.frombuffer(joined, dtype=">u8").astype(np.uint64).reshape(-1, WORDS)


@dataclass
class HammingIndex:
    """Growable in-memory table of (key, 256-bit hash); append-only."""

    size: int = 0
    keys: np.ndarray = field(default_factory=lambda: np.empty(_INITIAL_CAPACITY, np.int64))
    columns: list[np.ndarray] = field(
        default_factory=lambda: [np.empty(_INITIAL_CAPACITY, np.uint64) for _ in range(WORDS)]
    )
    _xor: np.ndarray = field(default_factory=lambda: np.empty(_INITIAL_CAPACITY, np.uint64))
    _count: np.ndarray = field(default_factory=lambda: np.empty(_INITIAL_CAPACITY, np.uint8))
    _count2: np.ndarray = field(default_factory=lambda: np.empty(_INITIAL_CAPACITY, np.uint8))

    @property
    def capacity(self) -> int:
        return len(self.keys)

    @property
    def memory_bytes(self) -> int:
        arrays = [self.keys, *self.columns, self._xor, self._count, self._count2]
        return sum(a.nbytes for a in arrays)

    def _grow(self, needed: int) -> None:
        capacity = self.capacity
        while capacity < needed:
            capacity *= 2
        if capacity == self.capacity:
            return

        def grown(array: np.ndarray) -> np.ndarray:
            bigger = np.empty(capacity, dtype=array.dtype)
            bigger[: self.size] = array[: self.size]
            return bigger

        self.keys = grown(self.keys)
        self.columns = [grown(column) for column in self.columns]
        self._xor = np.empty(capacity, np.uint64)
        self._count = np.empty(capacity, np.uint8)
        self._count2 = np.empty(capacity, np.uint8)

    def add(self, keys: np.ndarray | list[int], words: np.ndarray) -> None:
        """Append hashes (shape (n, 4) uint64) under integer keys (e.g. database ids)."""
        keys = np.asarray(keys, dtype=np.int64)
        if words.shape != (len(keys), WORDS):
            raise ValueError("words must have shape (len(keys), 4)")
        self._grow(self.size + len(keys))
        end = self.size + len(keys)
        self.keys[self.size : end] = keys
        for column, values in zip(self.columns, words.T, strict=True):
            column[self.size : end] = values
        self.size = end

    def search(self, query: bytes, max_distance: int) -> list[tuple[int, int]]:
        """Every (key, distance) with distance <= max_distance, nearest first. Exact."""
        if self.size == 0:
            return []
        q = hash_to_words(query)
        n = self.size
        xor, count, count2 = self._xor[:n], self._count[:n], self._count2[:n]
        np.bitwise_xor(self.columns[0][:n], q[0], out=xor)
        np.bitwise_count(xor, out=count)
        np.bitwise_xor(self.columns[1][:n], q[1], out=xor)
        np.bitwise_count(xor, out=count2)
        np.add(count, count2, out=count)  # at most 128: fits uint8
        candidates = np.flatnonzero(count <= max_distance)
        if len(candidates) == 0:
            return []
        distance = count[candidates].astype(np.int32)
        for word in (2, 3):
            distance += np.bitwise_count(self.columns[word][candidates] ^ q[word]).astype(np.int32)
        keep = distance <= max_distance
        hits = sorted(
            zip(self.keys[candidates[keep]].tolist(), distance[keep].tolist(), strict=True),
            key=lambda hit: (hit[1], hit[0]),
        )
        return hits
