"""Choosing a field's value among its candidates with a small fitted model.

Each receipt field (total, date, merchant name, address) is read as a list of options,
each described by numeric features (position, label cues, arithmetic, font height, OCR
confidence, and whether the hand rules picked it). A conditional-logit ranker scores the
options; the best one is the value. Its confidence comes from a calibrator: a logistic
regression over how clearly the ranker preferred it, fitted on out-of-fold predictions,
then an isotonic map whose steps are the lower bounds of the accuracy observed in each
step, so a confidence of 0.9 means right 9 times in 10 or better on receipts never fitted.

The weights live in ``field_model.json`` next to this file (written by
``bench/extraction.py --fit``); the file names the feature set it was fitted on and loading
fails when that differs from the code's, so stale weights cannot be used silently.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).with_name("field_model.json")

FEATURES: dict[str, tuple[str, ...]] = {
    "totalAmount": (
        "label_weight", "cues", "cue_cash_change", "cue_rounding",
        "cue_subtotal_tax", "cue_items", "cue_tender", "is_largest", "rank_desc",
        "occurrences", "in_tender", "in_change", "in_subtotal", "in_tax", "in_other",
        "y_last", "height_rel", "ocr", "x_right", "is_item_sum", "below_last_total",
        "column_sum", "last_total_line", "totals_below", "largest_lower",
    ),
    "date": (
        "rule_pick", "rule_conf", "score", "occurrences", "labelled", "with_time", "glued",
        "y_first", "ocr", "not_issue",
    ),
    "merchantName": (
        "rule_pick", "rule_conf", "name_like", "suffix", "legal_form", "address_like",
        "order", "first_name_like", "y", "height_rel", "tallest", "letters", "digits",
        "ocr", "two_lines", "centred", "next_is_address", "lower_share", "postcode", "place",
        "with_reg", "height_rank",
    ),
    "merchantAddress": (
        "rule_pick", "rule_conf", "lines", "starts_address", "after_name", "skipped",
        "has_stop", "has_contact", "ends_postcode_place", "has_postcode", "postcode_inside",
        "has_street", "next_stop", "next_place", "next_gap", "max_gap", "y", "ocr",
        "has_name", "amounts", "next_continues",
    ),
}  # fmt: skip
# Inputs of the calibrator: how clearly the ranker preferred the chosen option.
CALIBRATION_INPUTS = ("log_top", "log_margin", "ocr", "rule_pick", "rule_conf", "log_options")


def feature_set_hash() -> str:
    """Identifies the feature set (names and order): weights fitted on another are stale."""
    payload = json.dumps([FEATURES, CALIBRATION_INPUTS], sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


class ModelError(RuntimeError):
    """The weights file is missing, unreadable or fitted on another feature set."""


@dataclass
class Option:
    """One possible value of a field and what the page says about it."""

    value: object
    features: dict[str, float]
    evidence: list[dict] = field(default_factory=list)
    cues: list[str] = field(default_factory=list)

    def vector(self, name: str) -> list[float]:
        return [float(self.features.get(f, 0.0)) for f in FEATURES[name]]


@dataclass
class Choice:
    option: Option
    confidence: float


@dataclass
class FieldWeights:
    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    calib_weights: np.ndarray  # intercept first
    calib_mean: np.ndarray
    calib_scale: np.ndarray
    steps_x: list[float]  # isotonic steps: from raw probability steps_x[i] up ...
    steps_y: list[float]  # ... the confidence is steps_y[i]

    def scores(self, options: list[Option], name: str) -> np.ndarray:
        x = np.array([o.vector(name) for o in options], dtype=float)
        return ((x - self.mean) / self.scale) @ self.weights

    def raw_probability(self, inputs: list[float]) -> float:
        z = (np.asarray(inputs) - self.calib_mean) / self.calib_scale
        logit = float(self.calib_weights[0] + z @ self.calib_weights[1:])
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, logit))))

    def calibrate(self, raw: float) -> float:
        confidence = 0.0
        for x, y in zip(self.steps_x, self.steps_y, strict=True):
            if raw >= x:
                confidence = y
        return confidence

    def to_json(self) -> dict:
        return {
            "weights": self.weights.round(6).tolist(),
            "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(),
            "calibWeights": self.calib_weights.round(6).tolist(),
            "calibMean": self.calib_mean.round(6).tolist(),
            "calibScale": self.calib_scale.round(6).tolist(),
            "stepsX": [round(v, 6) for v in self.steps_x],
            "stepsY": [round(v, 6) for v in self.steps_y],
        }

    @classmethod
    def from_json(cls, data: dict) -> FieldWeights:
        return cls(
            weights=np.asarray(data["weights"], dtype=float),
            mean=np.asarray(data["mean"], dtype=float),
            scale=np.asarray(data["scale"], dtype=float),
            calib_weights=np.asarray(data["calibWeights"], dtype=float),
            calib_mean=np.asarray(data["calibMean"], dtype=float),
            calib_scale=np.asarray(data["calibScale"], dtype=float),
            steps_x=list(data["stepsX"]),
            steps_y=list(data["stepsY"]),
        )


@dataclass
class FieldModel:
    fields: dict[str, FieldWeights]
    fitted_on: str = ""

    def choose(self, name: str, options: list[Option]) -> Choice | None:
        if not options:
            return None
        weights = self.fields[name]
        scores = weights.scores(options, name)
        best = int(np.argmax(scores))
        chosen = options[best]
        raw = weights.raw_probability(calibration_inputs(scores, chosen))
        return Choice(chosen, round(bounded(weights.calibrate(raw), chosen), 3))

    def to_json(self) -> dict:
        return {
            "featureSet": feature_set_hash(),
            "features": FEATURES,
            "fittedOn": self.fitted_on,
            "fields": {name: w.to_json() for name, w in self.fields.items()},
        }


# Below the default review threshold (80): a value the hand rules did not pick is reviewed.
DISAGREEMENT_CAP = 0.79
# A confidence of CLAIM or more promises a field right 99 times in 100 (issue 13's
# target): it needs evidence the calibrator alone cannot give across data sets.
CLAIM = 0.9
BELOW_CLAIM = 0.899


def bounded(confidence: float, chosen: Option) -> float:
    """The calibrated confidence; at CLAIM or above, never above what the hand rules' own
    checks (rival totals, OCR doubt, unexplained lines) allow for the same value.

    Fitted on one data set, the calibrator alone was overconfident at the top on the
    other (89 % of fields at >= 0.9 right, fitted on sroie-dev and scored on sroie-test:
    that set has layouts the other lacks, so nothing there taught it when to doubt);
    both judges together were right 99 % of the time in both directions. Below CLAIM the
    calibrator's probability stands: capping it there too kept every name without a
    legal form (rules: 0.55) from straight-through whatever its measured accuracy. A
    value only the model chose stays below the review threshold.
    """
    if chosen.features.get("rule_pick"):
        return min(confidence, max(chosen.features.get("rule_conf", 0.0), BELOW_CLAIM))
    return min(confidence, DISAGREEMENT_CAP)


def calibration_inputs(scores: np.ndarray, chosen: Option) -> list[float]:
    """What the calibrator sees of one ranking (order: CALIBRATION_INPUTS)."""
    shifted = scores - scores.max()
    probs = np.exp(shifted) / np.exp(shifted).sum()
    ordered = np.sort(probs)[::-1]
    second = ordered[1] if len(ordered) > 1 else 0.0
    return [
        math.log(max(ordered[0], 1e-9)),
        math.log(max(ordered[0], 1e-9) / max(second, 1e-9)),
        chosen.features.get("ocr", 1.0),
        chosen.features.get("rule_pick", 0.0),
        chosen.features.get("rule_conf", 0.0),
        math.log(len(scores)),
    ]


_LOADED: dict[Path, FieldModel] = {}
_LOCK = threading.Lock()


def load_model(path: Path = MODEL_PATH) -> FieldModel:
    """The fitted model from ``path``, read once per process; never touches the network."""
    with _LOCK:
        if path not in _LOADED:
            _LOADED[path] = read_model(path)
        return _LOADED[path]


def read_model(path: Path) -> FieldModel:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"The field model {path} is missing or unreadable.") from exc
    if data.get("featureSet") != feature_set_hash():
        raise ModelError(
            f"{path} was fitted on feature set {data.get('featureSet')!r}, the code has "
            f"{feature_set_hash()!r}: re-fit it with bench/extraction.py --fit."
        )
    fields = {name: FieldWeights.from_json(w) for name, w in data["fields"].items()}
    if set(fields) != set(FEATURES):
        raise ModelError(f"{path} does not cover the fields {sorted(FEATURES)}.")
    return FieldModel(fields=fields, fitted_on=data.get("fittedOn", ""))
