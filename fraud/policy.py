"""The workflow's fraud policy (WorkflowVersion.fraud_policy) with defaults, and scoring.

Evidence about one pair of submissions adds up (combine): a check writes its matches when
the pair's combined score reaches flag_threshold. Strong evidence flags on its own; weak
evidence (scores 30-45) needs a second, independent piece about the same pair: any two
weak pieces combine to at least 51.

Keys (all optional; unknown keys are ignored):
- flag_threshold (50): combined score of a pair from which its matches are written;
  fraud_score at or above it makes the submission `flagged`.
- block_threshold (95): fraud_score at or above it makes the submission `blocked`.
- visual_strong_distance (16): PDQ bit distance (of 256, smallest over the page views)
  within which a page match is strong evidence on its own (score 70-90).
- visual_max_distance (48): up to this distance a page match is weak evidence (score
  30-45): receipts of one shop share a layout and come this close.
- text_min_similarity (0.75): Jaccard of the digit shingles (fraud.textsim) from which
  text is strong evidence (55-90). Distinct receipts of one shop reach ~0.68.
- text_weak_similarity (0.5): from here up text is weak evidence (30-45): OCR of a
  degraded re-capture misreads digits. Chosen on each data set as the lowest of 0.6,
  0.55 and 0.5 that keeps false matches within their targets, and reported on the other
  (bench/RESULTS.md); both chose 0.5.
- data_window_days (3): dates this far apart still count for the data check. Same total,
  a date within the window and a similar merchant name (data_merchant_similarity, 0.5,
  character trigrams: OCR reads names differently) are weak evidence (45 on the same day,
  35 at the window's edge): a canteen sells the same lunch every day.
- data_same_time_score (65): the same total and merchant on the same day at the same
  minute is strong evidence, unless both receipt numbers were read and differ.
  At the same minute, a date outside the window but one digit away (a misread digit) is
  weak evidence, scored as at the window's edge.
- data_same_number_score (60): a similar merchant with the same receipt number (at least
  five digits, fraud.normalise.distinctive_number), whatever the dates and totals: an
  earlier receipt with its date and total edited.
- tampering (true), visual/text/data (true): switch a check off.
- tampering_arithmetic_score (30): weight of line items not adding up to the total.
- reject_on_confirmed_fraud (true): confirming fraud rejects a submission in review.
- local (true): verify candidate pairs with keypoints and a homography (fraud.local):
  the submissions another check found, then the nearest pages by hash within
  local_candidate_distance (64) bits, at most local_max_candidates (2). A pair whose
  pages align (local_min_inliers 40, local_min_coverage 0.5) with no character-sized
  window of changed print above local_max_change (0.02) is the same paper: its visual
  score becomes local_score (80), strong on its own.
- visual_other_date (true): a page look-alike, or a weak text likeness (below
  text_min_similarity), whose receipts were read with different dates scores 0, unless
  the keypoints verified the same paper (local_score): receipts printed on one template
  look alike and share most of their digits (a canteen's lunch, one form on a mostly
  blank sheet), while a copy keeps its date, and OCR misreading it is rarer than a shop
  printing two receipts alike (bench/fraud_quality.py, bench/RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fraud.local import LocalMatch

DEFAULTS: dict[str, Any] = {
    "flag_threshold": 50.0,
    "block_threshold": 95.0,
    "visual_strong_distance": 16,
    "visual_max_distance": 48,
    "text_min_similarity": 0.75,
    "text_weak_similarity": 0.5,
    "data_window_days": 3,
    "data_merchant_similarity": 0.5,
    "data_same_time_score": 65.0,
    "data_same_number_score": 60.0,
    "visual": True,
    "text": True,
    "data": True,
    "tampering": True,
    "tampering_arithmetic_score": 30.0,
    "reject_on_confirmed_fraud": True,
    "local": True,
    "local_candidate_distance": 64,
    "local_max_candidates": 2,
    "local_min_inliers": 40,
    "local_min_coverage": 0.5,
    "local_max_change": 0.02,
    "local_score": 80.0,
    "visual_other_date": True,
}


def policy_errors(raw: Any) -> list[str]:
    """What is wrong with a workflow's fraud policy as JSON: unknown keys (a misspelt one
    would be ignored silently), and values of the wrong type (the string "false" would be
    read as true, "abc" as a threshold failed every later submission)."""
    if not isinstance(raw, dict):
        return ["The fraud policy is a JSON object (or empty)."]
    errors = []
    for key, value in raw.items():
        if key not in DEFAULTS:
            errors.append(f"{key}: not a policy setting (known: {', '.join(sorted(DEFAULTS))}).")
            continue
        default = DEFAULTS[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                errors.append(f"{key}: true or false.")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(f"{key}: a number.")
        elif not 0 <= value <= 1e6:  # NaN and infinities fail here too
            errors.append(f"{key}: between 0 and 1000000.")
        elif isinstance(default, int) and value != int(value):
            errors.append(f"{key}: a whole number.")
    return errors


@dataclass(frozen=True)
class FraudPolicy:
    flag_threshold: float
    block_threshold: float
    visual_strong_distance: int
    visual_max_distance: int
    text_min_similarity: float
    text_weak_similarity: float
    data_window_days: int
    data_merchant_similarity: float
    data_same_time_score: float
    data_same_number_score: float
    visual: bool
    text: bool
    data: bool
    tampering: bool
    tampering_arithmetic_score: float
    reject_on_confirmed_fraud: bool
    local: bool
    local_candidate_distance: int
    local_max_candidates: int
    local_min_inliers: int
    local_min_coverage: float
    local_max_change: float
    local_score: float
    visual_other_date: bool

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> FraudPolicy:
        merged = {**DEFAULTS, **{k: v for k, v in (raw or {}).items() if k in DEFAULTS}}
        return cls(
            flag_threshold=float(merged["flag_threshold"]),
            block_threshold=float(merged["block_threshold"]),
            # The index is exact only up to 128 bits (see fraud.index); PDQ matches are far
            # below that anyway.
            visual_strong_distance=max(0, int(merged["visual_strong_distance"])),
            visual_max_distance=max(0, min(int(merged["visual_max_distance"]), 128)),
            text_min_similarity=float(merged["text_min_similarity"]),
            text_weak_similarity=min(
                float(merged["text_weak_similarity"]), float(merged["text_min_similarity"])
            ),
            data_window_days=max(0, int(merged["data_window_days"])),
            data_merchant_similarity=float(merged["data_merchant_similarity"]),
            data_same_time_score=float(merged["data_same_time_score"]),
            data_same_number_score=float(merged["data_same_number_score"]),
            visual=bool(merged["visual"]),
            text=bool(merged["text"]),
            data=bool(merged["data"]),
            tampering=bool(merged["tampering"]),
            tampering_arithmetic_score=float(merged["tampering_arithmetic_score"]),
            reject_on_confirmed_fraud=bool(merged["reject_on_confirmed_fraud"]),
            local=bool(merged["local"]),
            local_candidate_distance=max(0, min(int(merged["local_candidate_distance"]), 128)),
            local_max_candidates=max(0, int(merged["local_max_candidates"])),
            local_min_inliers=max(4, int(merged["local_min_inliers"])),
            local_min_coverage=float(merged["local_min_coverage"]),
            local_max_change=float(merged["local_max_change"]),
            local_score=float(merged["local_score"]),
            visual_other_date=bool(merged["visual_other_date"]),
        )


def visual_score(distance: int, strong: int, max_distance: int) -> float:
    """70-90 within the strong radius, 45 down to 30 in the weak band beyond it.

    Capped below the default block threshold: only identical bytes or a match with known
    fraud block on their own; a look-alike image goes to a reviewer.
    """
    if distance <= strong:
        return round(90.0 - 20.0 * distance / max(strong, 1), 2)
    span = max(max_distance - strong, 1)
    return round(45.0 - 15.0 * min(distance - strong, span) / span, 2)


def text_score(similarity: float, min_similarity: float, weak_similarity: float) -> float:
    """55 at the strong threshold up to 90 for identical text (below the default block
    threshold: text alone never blocks); 30 at the weak threshold up to 45 below the
    strong one; 0 below the weak threshold."""
    if similarity >= min_similarity:
        span = max(1e-6, 1.0 - min_similarity)
        return round(55.0 + 35.0 * min(1.0, (similarity - min_similarity) / span), 2)
    if similarity >= weak_similarity:
        span = max(1e-6, min_similarity - weak_similarity)
        return round(30.0 + 15.0 * (similarity - weak_similarity) / span, 2)
    return 0.0


def data_score(days_apart: int, window: int) -> float:
    """Same merchant and total: 45 on the same day, 35 at the edge of the window."""
    if window <= 0:
        return 45.0
    return round(45.0 - 10.0 * min(days_apart, window) / window, 2)


def local_score(match: LocalMatch, policy: FraudPolicy) -> float:
    """policy.local_score when the keypoints verify the same paper, else 0.

    Verified: one homography explains at least local_min_inliers matches spread over at
    least local_min_coverage of the page, and once aligned no character-sized window
    changed more than local_max_change (another receipt of the same shop aligns on its
    template, but its numbers change).
    """
    aligned = (
        match.inliers >= policy.local_min_inliers and match.coverage >= policy.local_min_coverage
    )
    return policy.local_score if aligned and match.changed <= policy.local_max_change else 0.0


def combine(scores: list[float]) -> float:
    """Independent evidence about one pair adds up: 1 - prod(1 - s/100), on 0-100."""
    remaining = 1.0
    for score in scores:
        remaining *= 1.0 - max(0.0, min(score, 100.0)) / 100.0
    return round(100.0 * (1.0 - remaining), 2)
