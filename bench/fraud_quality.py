"""Fraud-check quality on sroie-dev: recall on re-captures, false matches between receipts.

    .venv/bin/python bench/fraud_quality.py [--limit N] [--ocr N] [--workers 2]

Visual: every receipt against re-captured copies of itself (bench/fraud_transforms.py) and
all pairs of distinct receipts (same-merchant pairs reported on their own). Pairs that are
the same receipt in the data set (identical bytes, or identical ground truth) are left out
of the false-match counts and listed. Data: ground-truth fields (merchant, total, date).
Text and fields-from-OCR: jobs.extraction on --ocr receipts (OCR costs ~10 s a page here),
picked so that same-merchant pairs are among them. Nothing is written anywhere.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import json
import re
import sys
import time
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from fraud_transforms import TRANSFORMS  # noqa: E402

from fraud import hashing, normalise, textsim  # noqa: E402
from fraud.policy import DEFAULTS  # noqa: E402

DATA = REPO.parent / "shared" / "datasets" / "sroie-dev"
THRESHOLDS = (16, 24, 31, 40, 48)


def receipt_ids(limit: int | None) -> list[str]:
    ids = sorted(p.stem for p in (DATA / "img").glob("*.jpg"))
    return ids[:limit] if limit else ids


def key(receipt_id: str) -> dict[str, str]:
    return json.loads((DATA / "key" / f"{receipt_id}.json").read_text())


def merchant_of(receipt_id: str) -> str:
    return re.sub(r"\s+", " ", key(receipt_id)["company"].strip().upper())


def _hash_job(job: tuple[str, str | None]) -> tuple[str, str | None, hashing.PageHashes, float]:
    receipt_id, transform = job
    image = Image.open(DATA / "img" / f"{receipt_id}.jpg")
    if transform is not None:
        seed = int(receipt_id) * 100 + sorted(TRANSFORMS).index(transform)
        data = TRANSFORMS[transform](image, np.random.default_rng(seed))
        image = Image.open(io.BytesIO(data))
    started = time.perf_counter()
    hashes = hashing.page_hashes(image)
    return receipt_id, transform, hashes, time.perf_counter() - started


def visual(ids: list[str], workers: int) -> dict[str, float]:
    jobs = [(i, None) for i in ids] + [(i, t) for t in TRANSFORMS for i in ids]
    with Pool(workers) as pool:
        results = pool.map(_hash_job, jobs, chunksize=4)
    original = {r[0]: r[2] for r in results if r[1] is None}
    copies = {(r[0], r[1]): r[2] for r in results if r[1] is not None}
    hash_seconds = [r[3] for r in results]

    same_receipt, same_merchant, other = [], [], []
    digests = {i: hashlib.sha256((DATA / "img" / f"{i}.jpg").read_bytes()).digest() for i in ids}
    for a, b in itertools.combinations(ids, 2):
        d = hashing.min_distance(original[a], original[b])
        if digests[a] == digests[b] or key(a) == key(b):
            same_receipt.append((a, b, d))
        elif merchant_of(a) == merchant_of(b):
            same_merchant.append(d)
        else:
            other.append(d)
    # Re-captured copies against every other receipt: many more impostor pairs.
    duplicates = {(a, b) for a, b, _ in same_receipt} | {(b, a) for a, b, _ in same_receipt}
    cross = [
        hashing.min_distance(copies[(i, t)], original[j])
        for (i, t) in copies
        for j in ids
        if j != i and (i, j) not in duplicates
    ]
    print(f"\n## Visual (PDQ of normalised page, min over content/paper view), {len(ids)} receipts")
    header = (
        "| threshold | "
        + " | ".join(TRANSFORMS)
        + " | all | FMR pairs | FMR same-merchant | FMR copies-vs-others |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    genuine = {
        t: np.array([hashing.min_distance(copies[(i, t)], original[i]) for i in ids])
        for t in TRANSFORMS
    }
    pairs = np.array(same_merchant + other)
    for limit in THRESHOLDS:
        recalls = [float(np.mean(genuine[t] <= limit)) for t in TRANSFORMS]
        overall = float(np.mean(np.concatenate(list(genuine.values())) <= limit))
        fmr = np.mean(pairs <= limit)
        fmr_same = np.mean(np.array(same_merchant) <= limit) if same_merchant else 0.0
        fmr_cross = np.mean(np.array(cross) <= limit)
        cells = " | ".join(f"{r:.1%}" for r in recalls)
        print(
            f"| {limit} | {cells} | {overall:.1%} | {fmr:.3%} ({int(np.sum(pairs <= limit))}/{len(pairs)})"
            f" | {fmr_same:.2%} ({int(np.sum(np.array(same_merchant) <= limit))}/{len(same_merchant)})"
            f" | {fmr_cross:.3%} ({int(np.sum(np.array(cross) <= limit))}/{len(cross)}) |"
        )
    print("\nGenuine distance by transform (median / p95 / max):")
    for t, d in genuine.items():
        print(f"- {t}: {np.median(d):.0f} / {np.percentile(d, 95):.0f} / {d.max()}")
    closest = sorted(same_merchant)[:5]
    print(
        f"Closest distinct same-merchant pairs: {closest}; closest other pairs: {sorted(other)[:5]}"
    )
    print(f"Same receipt twice in the data set (excluded): {same_receipt}")
    _decision_table(ids, genuine, original)
    qualities = [h.quality for h in original.values()]
    print(f"PDQ quality of originals: min {min(qualities)}, median {np.median(qualities):.0f}")
    return {
        "hash_mean_s": float(np.mean(hash_seconds)),
        "hash_p95_s": float(np.percentile(hash_seconds, 95)),
    }


def _gt_data_key(receipt_id: str) -> tuple:
    k = key(receipt_id)
    return normalise.merchant(k["company"]), normalise.amount(k["total"]), normalise.date(k["date"])


def _data_agrees(a: str, b: str) -> bool:
    (ma, ta, da), (mb, tb, db) = _gt_data_key(a), _gt_data_key(b)
    window = int(DEFAULTS["data_window_days"])
    return (
        bool(ma)
        and ma == mb
        and ta == tb
        and da is not None
        and db is not None
        and abs((da - db).days) <= window
    )


def _decision_table(ids: list[str], genuine: dict[str, np.ndarray], original: dict) -> None:
    """The default policy's decision: strong visual alone, or weak visual + data agreement."""
    strong, weak = int(DEFAULTS["visual_strong_distance"]), int(DEFAULTS["visual_max_distance"])
    print(
        f"\n## Decision with the default policy (visual <= {strong} alone, or <= {weak} with the same merchant+total+date)"
    )
    print(
        "Re-captures: the copy's fields are assumed read as the original's (ground truth); see the OCR table for how often extraction agrees."
    )
    print("| transform | strong visual alone | visual+data (flagged) |")
    print("|---|---|---|")
    for t, d in genuine.items():
        print(f"| {t} | {np.mean(d <= strong):.1%} | {np.mean(d <= weak):.1%} |")
    flagged, pairs, same_flagged, same_pairs = 0, 0, 0, 0
    digests = {i: hashlib.sha256((DATA / "img" / f"{i}.jpg").read_bytes()).digest() for i in ids}
    for a, b in itertools.combinations(ids, 2):
        if digests[a] == digests[b] or key(a) == key(b):
            continue
        d = hashing.min_distance(original[a], original[b])
        hit = d <= strong or (d <= weak and _data_agrees(a, b))
        pairs += 1
        flagged += hit
        if merchant_of(a) == merchant_of(b):
            same_pairs += 1
            same_flagged += hit
    print(
        f"- distinct receipts flagged: {flagged}/{pairs} ({flagged / pairs:.3%}); same-merchant: {same_flagged}/{same_pairs}"
    )


def _hash_timing(ids: list[str]) -> dict[str, float]:
    seconds = [_hash_job((i, None))[3] for i in ids]
    return {"hash_mean_s": float(np.mean(seconds)), "hash_p95_s": float(np.percentile(seconds, 95))}


def data_check_gt(ids: list[str]) -> None:
    window = int(DEFAULTS["data_window_days"])
    keys = {}
    for i in ids:
        k = key(i)
        keys[i] = (
            normalise.merchant(k["company"]),
            normalise.amount(k["total"]),
            normalise.date(k["date"]),
        )
    usable = [i for i in ids if all(v is not None and v != "" for v in keys[i])]
    hits = same_merchant_pairs = 0
    flagged = []
    for a, b in itertools.combinations(usable, 2):
        same_bytes = (DATA / "img" / f"{a}.jpg").read_bytes() == (
            DATA / "img" / f"{b}.jpg"
        ).read_bytes()
        if key(a) == key(b) or same_bytes:
            continue
        (ma, ta, da), (mb, tb, db) = keys[a], keys[b]
        if ma == mb:
            same_merchant_pairs += 1
        if ma == mb and ta == tb and abs((da - db).days) <= window:
            hits += 1
            flagged.append((a, b))
    total_pairs = len(usable) * (len(usable) - 1) // 2
    print(f"\n## Data (ground-truth merchant/total/date, window {window} days)")
    print(
        f"- fields parse on {len(usable)}/{len(ids)} receipts (recall on an exact re-use with correctly read fields: 100% by construction)"
    )
    print(
        f"- false matches among distinct receipts: {hits}/{total_pairs} pairs ({hits / max(1, total_pairs):.3%}); same-merchant pairs: {same_merchant_pairs}; flagged: {flagged}"
    )


def _ocr_pick(ids: list[str], count: int) -> list[str]:
    """Half from merchants with several receipts (same-merchant pairs), half the rest."""
    by_merchant = Counter(merchant_of(i) for i in ids)
    repeated = [i for i in ids if by_merchant[merchant_of(i)] > 1]
    repeated.sort(key=lambda i: (-by_merchant[merchant_of(i)], i))
    chosen = []
    for merchant in dict.fromkeys(merchant_of(i) for i in repeated):
        chosen += [i for i in repeated if merchant_of(i) == merchant][:2]
        if len(chosen) >= count // 2:
            break
    rest = [i for i in ids if i not in chosen]
    return (chosen + rest[: count - len(chosen)])[:count]


def _ocr(data: bytes) -> tuple[str, dict, float]:
    from jobs.extraction import extract_document

    started = time.perf_counter()
    _, extraction = extract_document(data, kind="receipt")
    return "\n".join(extraction.pages_text), extraction.fields, time.perf_counter() - started


def text_and_fields(ids: list[str], count: int, transforms: list[str]) -> dict[str, float]:
    picked = _ocr_pick(ids, count)
    print(
        f"\n## Text (MinHash, character 5-shingles) and data from OCR, {len(picked)} receipts: {picked}"
    )
    originals, seconds = {}, []
    for i in picked:
        data = (DATA / "img" / f"{i}.jpg").read_bytes()
        text, fields, took = _ocr(data)
        originals[i] = (textsim.minhash(text), fields)
        seconds.append(took)
    limit = float(DEFAULTS["text_min_similarity"])
    print("| transform | text similarity median / min | text recall | data-from-OCR recall |")
    print("|---|---|---|---|")
    for t in transforms:
        sims, data_hits = [], 0
        for i in picked:
            image = Image.open(DATA / "img" / f"{i}.jpg")
            seed = int(i) * 100 + sorted(TRANSFORMS).index(t)
            text, fields, took = _ocr(TRANSFORMS[t](image, np.random.default_rng(seed)))
            seconds.append(took)
            signature = textsim.minhash(text)
            sims.append(
                textsim.similarity(signature, originals[i][0]) if signature is not None else 0.0
            )
            data_hits += _same_data(fields, originals[i][1])
        sims_a = np.array(sims)
        print(
            f"| {t} | {np.median(sims_a):.2f} / {sims_a.min():.2f} | {np.mean(sims_a >= limit):.0%} | {data_hits / len(picked):.0%} |"
        )
    pair_sims, same = [], []
    for a, b in itertools.combinations(picked, 2):
        s = textsim.similarity(originals[a][0], originals[b][0])
        (same if merchant_of(a) == merchant_of(b) else pair_sims).append(s)
    print(
        f"- distinct pairs: max similarity {max(pair_sims, default=0):.2f} (other merchants), {max(same, default=0):.2f} (same merchant, {len(same)} pairs); false matches at {limit}: {sum(s >= limit for s in pair_sims + same)}/{len(pair_sims) + len(same)}"
    )
    return {"ocr_mean_s": float(np.mean(seconds))}


def _same_data(a: dict, b: dict) -> int:
    def k(f: dict) -> tuple:
        return (
            normalise.merchant(f.get("merchantName")),
            normalise.amount(f.get("totalAmount")),
            normalise.date(f.get("date")),
        )

    ka, kb = k(a), k(b)
    return int(all(ka) and ka == kb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="first N receipts only")
    parser.add_argument("--ocr", type=int, default=0, help="receipts to OCR for text/data")
    parser.add_argument("--ocr-transforms", default="jpeg_q40,crop_5pct,rephotograph")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-visual", action="store_true", help="skip the visual tables")
    args = parser.parse_args()
    ids = receipt_ids(args.limit)
    started = time.perf_counter()
    timing = _hash_timing(ids[:10]) if args.no_visual else visual(ids, args.workers)
    data_check_gt(ids)
    if args.ocr:
        timing |= text_and_fields(ids, args.ocr, args.ocr_transforms.split(","))
    print("\n## Fraud step share of pipeline time (per one-page receipt)")
    sample = Image.open(DATA / "img" / f"{ids[0]}.jpg")
    text = " ".join(key(ids[0]).values()) * 20
    t0 = time.perf_counter()
    for _ in range(20):
        textsim.minhash(text)
    minhash_s = (time.perf_counter() - t0) / 20
    print(
        f"- page hashing: mean {timing['hash_mean_s'] * 1000:.0f} ms, p95 {timing['hash_p95_s'] * 1000:.0f} ms; MinHash {minhash_s * 1000:.1f} ms"
    )
    if "ocr_mean_s" in timing:
        fraud = timing["hash_mean_s"] + minhash_s
        share = fraud / (fraud + timing["ocr_mean_s"])
        print(
            f"- extraction (OCR + parsing): mean {timing['ocr_mean_s']:.1f} s; fraud CPU share {share:.1%} (DB lookups: see bench/fraud_index.py)"
        )
    else:
        print("- run with --ocr N to time extraction and print the share")
    del sample
    print(f"\n(total bench time {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
