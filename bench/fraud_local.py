"""The local-feature check (fraud.local) on its own: chosen on one data set, reported on the other.

    .venv/bin/python bench/fraud_local.py --choose sroie-dev --report sroie-test [--limit N]

For each set: the first N receipts and each re-capture of bench/fraud_transforms.py (the
copies), every pair of distinct receipts of one shop among all the set's receipts (same
ground-truth company or address, the hard negatives: one template, other numbers), and
as many random pairs of other shops (same-shop pairs sampled down to --pairs). Every pair is verified with fraud.local.verify on the
files as uploaded (no OCR: keypoints are rotation-invariant, so the upright page OCR
hands over changes little).

local_max_change is chosen on the --choose set only: the geometric mean of the largest
change among its aligned copies and the smallest among its aligned distinct pairs (the
middle of the gap between them, on a log scale); when they overlap, the largest value
that verifies none of its distinct pairs. Alignment (local_min_inliers,
local_min_coverage) stays at the policy's defaults, set before any measurement. The
chosen value is then reported on the --report set, which played no part in choosing it.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import fraud_quality as fq  # noqa: E402
from fraud_transforms import TRANSFORMS  # noqa: E402

from fraud import local  # noqa: E402
from fraud.policy import FraudPolicy  # noqa: E402

Verdict = tuple[int, float, float]  # inliers, coverage, changed (-1: no homography)


def _features(receipt_id: str, transform: str | None) -> local.LocalFeatures:
    return local.local_features(Image.open(io.BytesIO(fq.file_bytes(receipt_id, transform))))


def _verdict(a: local.LocalFeatures, b: local.LocalFeatures) -> Verdict:
    match = local.verify(a, b)
    if match is None:
        return 0, 0.0, -1.0
    return match.inliers, match.coverage, match.changed


def measure(dataset: str, limit: int, pair_cap: int, seed: int = 0) -> dict[str, list[Verdict]]:
    """Verdicts per kind of pair: each transform's copies, same-shop and other pairs."""
    fq.use_dataset(dataset)
    ids = fq.receipt_ids(None)
    originals = {i: _features(i, None) for i in ids}
    out: dict[str, list[Verdict]] = defaultdict(list)
    for transform in TRANSFORMS:
        for i in ids[:limit]:
            out[transform].append(_verdict(_features(i, transform), originals[i]))
    same, others = [], []
    for a, b in itertools.combinations(ids, 2):
        if not fq.same_key(a, b):  # the same receipt twice in the data set: not distinct
            (same if fq._same_merchant(a, b) else others).append((a, b))
    rng = random.Random(seed)
    same = rng.sample(same, min(len(same), pair_cap))
    others = rng.sample(others, min(len(others), len(same)))
    for name, pairs in (("same shop", same), ("other shops", others)):
        for a, b in pairs:
            out[name].append(_verdict(originals[b], originals[a]))
    return out


def aligned(verdicts: list[Verdict], policy: FraudPolicy) -> list[float]:
    return [
        changed
        for inliers, coverage, changed in verdicts
        if inliers >= policy.local_min_inliers and coverage >= policy.local_min_coverage
    ]


def choose(measured: dict[str, list[Verdict]], policy: FraudPolicy) -> float:
    copies = [c for t in TRANSFORMS for c in aligned(measured[t], policy)]
    distinct = aligned(measured["same shop"] + measured["other shops"], policy)
    top, bottom = max(copies, default=0.0), min(distinct, default=1.0)
    if top < bottom:
        return float(np.sqrt(max(top, 1e-3) * bottom))
    return float(np.nextafter(bottom, 0))


def report(dataset: str, measured: dict[str, list[Verdict]], limit: float, policy) -> None:
    print(f"\n### {dataset}, local_max_change = {limit:.4f}")
    print("| pairs | count | aligned | verified (same paper) | changed median / max |")
    print("|---|---|---|---|---|")
    for name, verdicts in measured.items():
        changes = aligned(verdicts, policy)
        verified = sum(c <= limit for c in changes)
        spread = f"{np.median(changes):.3f} / {max(changes):.3f}" if changes else "-"
        print(
            f"| {name} | {len(verdicts)} | {len(changes)} | {verified / len(verdicts):.1%} "
            f"({verified}) | {spread} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--choose", default="sroie-dev")
    parser.add_argument("--report", default="sroie-test")
    parser.add_argument("--limit", type=int, default=30, help="receipts per set with copies")
    parser.add_argument("--pairs", type=int, default=400, help="same-shop pairs per set, at most")
    args = parser.parse_args()
    started = time.perf_counter()
    policy = FraudPolicy.from_json({})
    chosen_on = measure(args.choose, args.limit, args.pairs)
    reported_on = measure(args.report, args.limit, args.pairs)
    limit = choose(chosen_on, policy)
    print(f"# local_max_change chosen on {args.choose}: {limit:.4f}")
    print(f"(reported on {args.report}; the other direction is the same run with the sets swapped)")
    report(f"{args.choose} (chosen on)", chosen_on, limit, policy)
    report(f"{args.report} (reported on)", reported_on, limit, policy)
    other = choose(reported_on, policy)
    print(f"\n# the other direction: chosen on {args.report}: {other:.4f}")
    report(f"{args.report} (chosen on)", reported_on, other, policy)
    report(f"{args.choose} (reported on)", chosen_on, other, policy)
    print(f"\n(total {time.perf_counter() - started:.0f} s, pid {os.getpid()})")


if __name__ == "__main__":
    main()
