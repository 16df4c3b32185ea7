"""Near-duplicate text: MinHash over word shingles, with LSH band keys for lookup.

A reprint of the same receipt gives almost the same OCR text, while two receipts of one
shop share only their header and footer. Shingles of three words keep the word order, so
the shared boilerplate is a minority of a receipt's shingles once it has real line items.
"""

from __future__ import annotations

import re
import unicodedata
import zlib

import numpy as np

NUM_PERM = 128
SHINGLE_WORDS = 3
# 32 bands of 4 rows: pairs above a Jaccard of about 0.5 share a band key with high
# probability; the stored signatures then give the similarity estimate.
LSH_BANDS = 32
LSH_ROWS = NUM_PERM // LSH_BANDS
_rng = np.random.default_rng(20240501)
# Multiply-shift hashing: odd 64-bit multipliers, keep the high 32 bits (wraps mod 2**64).
_A = _rng.integers(1, 2**63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64)


def normalise_text(text: str) -> list[str]:
    """Words in a canonical form: accents folded, lower case, punctuation dropped."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.findall(r"[a-z0-9]+(?:[.,][0-9]+)*", folded)


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[int]:
    words = normalise_text(text)
    if len(words) < size:
        return {zlib.crc32(" ".join(words).encode())} if words else set()
    return {
        zlib.crc32(" ".join(words[i : i + size]).encode()) for i in range(len(words) - size + 1)
    }


def minhash(text: str) -> np.ndarray | None:
    """MinHash signature (NUM_PERM uint32 values), or None for text with no words."""
    values = np.fromiter(shingles(text), dtype=np.uint64)
    if len(values) == 0:
        return None
    with np.errstate(over="ignore"):
        hashed = (values[:, None] * _A[None, :] + _B[None, :]) >> np.uint64(32)
    return hashed.min(axis=0).astype(np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets."""
    return float(np.mean(a == b))


def band_keys(signature: np.ndarray) -> list[int]:
    """One 63-bit key per LSH band; two texts are candidates when any key is equal."""
    rows = signature.reshape(LSH_BANDS, LSH_ROWS)
    keys = []
    for band, row in enumerate(rows):
        digest = zlib.crc32(row.tobytes(), band) | (band << 32)
        keys.append(digest)
    return keys


def to_bytes(signature: np.ndarray) -> bytes:
    return signature.astype("<u4").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<u4").astype(np.uint32)
