"""Near-duplicate text: the numbers on a document, compared line by line.

What tells two receipts of one shop apart is their variable content: receipt number, date,
time, amounts. The words (shop name, address, "Thank you") are the same on every receipt
of the shop, and OCR splits and joins them differently on every capture. So the text check
compares the digits: for every OCR line, the digits in reading order (separators dropped,
so "12:49:00" and "1249:00" agree), cut into overlapping 4-digit shingles; a line with only
2-3 digits counts as one token. Shingles never cross a line break, because OCR orders the
lines of a re-capture differently ("Date" above or beside its value). The similarity is the
exact Jaccard index of two documents' shingle sets.

Measured on sroie-dev (bench/fraud_quality.py, OCR of every copy): distinct receipts of one
shop reach at most ~0.68 (the same purchase on another day), other shops ~0.2; a re-capture
keeps 0.9+ unless OCR degrades (50 % scale, combined re-captures, re-photographs).

Lookup: MinHash of the shingles with LSH band keys finds candidates above a Jaccard of
about 0.5 (32 bands of 4 rows); the stored shingle sets then give the exact similarity.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

SHINGLE_DIGITS = 4
NUM_PERM = 128
# 32 bands of 4 rows: pairs above a Jaccard of about 0.5 share a band key with high
# probability (0.99 at 0.6, 0.87 at 0.5).
LSH_BANDS = 32
LSH_ROWS = NUM_PERM // LSH_BANDS
# Fewer shingles than this (a document with hardly any numbers) say too little.
MIN_SHINGLES = 15
_rng = np.random.default_rng(20240501)
# Multiply-shift hashing: odd 64-bit multipliers, keep the high 32 bits (wraps mod 2**64).
_A = _rng.integers(1, 2**63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64)
_NOT_DIGIT = re.compile(r"[^0-9]")


def shingles(text: str, size: int = SHINGLE_DIGITS) -> set[int]:
    """Hashes of the digit shingles of every line (see the module docstring)."""
    found: set[int] = set()
    for line in (text or "").splitlines():
        digits = _NOT_DIGIT.sub("", line)
        if len(digits) >= size:
            found.update(
                zlib.crc32(digits[i : i + size].encode()) for i in range(len(digits) - size + 1)
            )
        elif len(digits) >= 2:
            found.add(zlib.crc32(b"#" + digits.encode()))
    return found


def minhash(values: set[int]) -> np.ndarray | None:
    """MinHash signature (NUM_PERM uint32 values) of a shingle set, or None if empty."""
    array = np.fromiter(values, dtype=np.uint64, count=len(values))
    if len(array) == 0:
        return None
    with np.errstate(over="ignore"):
        hashed = (array[:, None] * _A[None, :] + _B[None, :]) >> np.uint64(32)
    return hashed.min(axis=0).astype(np.uint32)


def similarity(a: set[int] | np.ndarray, b: set[int] | np.ndarray) -> float:
    """Exact Jaccard index of two shingle sets (sets, or sorted arrays from from_bytes)."""
    left = a if isinstance(a, set) else set(a.tolist())
    right = b if isinstance(b, set) else set(b.tolist())
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def band_keys(signature: np.ndarray) -> list[int]:
    """One 63-bit key per LSH band; two texts are candidates when any key is equal."""
    rows = signature.reshape(LSH_BANDS, LSH_ROWS)
    return [zlib.crc32(row.tobytes(), band) | (band << 32) for band, row in enumerate(rows)]


def to_bytes(values: set[int] | np.ndarray) -> bytes:
    """A shingle set or a signature as little-endian uint32 (sets sorted)."""
    array = np.array(sorted(values), dtype="<u4") if isinstance(values, set) else values
    return np.asarray(array, dtype="<u4").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<u4").astype(np.uint32)
