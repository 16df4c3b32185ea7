"""Near-duplicate text: MinHash over character shingles, with LSH band keys for lookup.

OCR splits and joins words differently on every capture of the same receipt ("Total
Amount:" vs "TotalAmount:"), which breaks word shingles: on sroie-dev re-captures, word
3-shingle similarity of the same receipt had a median of 0.49 (JPEG q40) and 0.22 (re-
photographed). Shingles of 5 characters over the text with spaces and punctuation removed
are immune to that and kept 0.8-1.0 (JPEG q40) and 0.73-0.98 (5 % crop), while distinct
receipts of one shop reached 0.67 (bench/fraud_quality.py --ocr). Re-photographs stay hard.
"""

from __future__ import annotations

import re
import unicodedata
import zlib

import numpy as np

NUM_PERM = 128
SHINGLE_CHARS = 5
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


def shingles(text: str, size: int = SHINGLE_CHARS) -> set[int]:
    """Hashes of every run of `size` letters/digits, ignoring spaces and punctuation."""
    chars = "".join(normalise_text(text)).replace(".", "").replace(",", "")
    if len(chars) < size:
        return {zlib.crc32(chars.encode())} if chars else set()
    return {zlib.crc32(chars[i : i + size].encode()) for i in range(len(chars) - size + 1)}


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
