"""Extraction benchmark: field accuracy, calibration, straight-through and cost, per data
set and cross-set (fit on one set, score on the other, both ways).

Usage: .venv/bin/python bench/extraction.py [--dataset sroie-dev|sroie-test|PATH ...]
           [--cross] [--fit] [--memory] [--limit N] [--start N]
           [--engine rapidocr|tesseract] [--ocr-cache DIR [--cached-only]] [--errors]
           [--scale F]

- default: each data set scored with the shipped field model (jobs/extraction/
  field_model.json). That model was fitted on both sets, so these figures are in-sample.
- ``--cross``: the field model (ranker weights, feature standardisation, calibrator and
  its isotonic steps: everything fitted) is fitted on one set and scored on the other,
  both ways. These are the figures that count. The hand rules' keyword lists, the OCR
  and the candidate generation are fixed code, not refitted; the rules' pick and their
  confidence are two features among the rest.
- ``--fit``: fits on both sets and writes the shipped weights file.
- ``--memory``: replays each set in file order with a reviewer correcting every wrong
  merchant name and address from the ground truth, through the correction memory's
  matching (submissions/memory.py), and reports accuracy on receipts of shops seen before
  (and on first receipts, where a recall can only be false). The memory's two fitted
  thresholds are fitted on the other set (bench/extraction_memory.py).

The default engine runs RapidOCR's PP-OCRv4 models on OpenVINO (float32) with one thread.
CPU seconds are this process's (process time), so other load on the machine inflates
them less than wall time, but not to zero: say under what load a figure was taken.
``--ocr-cache`` stores OCR output outside the repo so parser changes can be re-scored in
seconds; timings are then meaningless and printed as such (``--cached-only`` skips the
receipts the cache lacks instead of reading them). ``--errors`` lists every wrong field
with its cause (bench/extraction_errors.py) and counts the causes per field. ``--scale F`` upscales every
image by F before extraction (a stand-in for 600-dpi scans and big phone photos).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("STEVE_OCR_THREADS", "1")  # the target is seconds on one core

from PIL import Image  # noqa: E402

from bench.extraction_errors import CAUSES, miss_cause  # noqa: E402
from jobs.extraction import Word, get_engine, load_document, read_text  # noqa: E402
from jobs.extraction.api import document_lines  # noqa: E402
from jobs.extraction.errors import ExtractionError  # noqa: E402
from jobs.extraction.fields import Candidate  # noqa: E402
from jobs.extraction.fitting import Group, fit_model  # noqa: E402
from jobs.extraction.layout import Line  # noqa: E402
from jobs.extraction.ocr import OcrEngine  # noqa: E402
from jobs.extraction.ranker import (  # noqa: E402
    MODEL_PATH,
    FieldModel,
    ModelError,
    Option,
    load_model,
)
from jobs.extraction.receipt import choose_fields, read_receipt  # noqa: E402
from jobs.extraction.values import parse_dates  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
FIELDS = {  # Steve field -> ground-truth key
    "totalAmount": "total",
    "date": "date",
    "merchantName": "company",
    "merchantAddress": "address",
}
TARGETS = {"totalAmount": 0.95, "date": 0.97, "merchantName": 0.85, "merchantAddress": 0.75}
REQUIRED = ("merchantName", "date", "totalAmount")
REVIEW_THRESHOLD = 0.80  # the default workflow's review threshold (80)
HIGH_CONFIDENCE = 0.90
UPSCALE_MAX_PIXELS = 36_000_000
BUCKETS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)


def norm_text(value: object) -> str:
    """Case-, whitespace- and punctuation-insensitive form of a name or address."""
    return re.sub(r"[^0-9A-Z]", "", str(value).upper())


def norm_total(value: object) -> Decimal | None:
    text = re.sub(r"[^0-9.,-]", "", str(value)).replace(",", "")
    try:
        return Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def norm_date(value: object) -> str | None:
    text = str(value).strip()
    if re.fullmatch(r"(19|20)\d{6}", text):  # compact yyyymmdd
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    dates = parse_dates(text, day_first=True)
    return dates[0].value.isoformat() if dates else None  # type: ignore[attr-defined]


def is_correct(name: str, predicted: object, truth: object) -> bool:
    if predicted is None:
        return False
    if name == "totalAmount":
        return norm_total(predicted) == norm_total(truth)
    if name == "date":
        return str(predicted) == norm_date(truth)
    return norm_text(predicted) == norm_text(truth)


def canonical(name: str, value: object) -> str:
    """A value in the form ``is_correct`` compares (for sorting misses by cause)."""
    if name == "date":
        return norm_date(value) or ""
    return norm_text(value)


class NotCached(LookupError):
    """--cached-only met an image the cache does not hold: the receipt is skipped."""


class CachingEngine:
    """Wraps an engine and memoises its words per image (development only)."""

    def __init__(self, engine: OcrEngine, directory: Path, *, only_cached: bool = False) -> None:
        self.engine = engine
        self.only_cached = only_cached
        self.name = engine.name
        self.upright_confidence = engine.upright_confidence
        self.directory = directory / engine.name
        self.directory.mkdir(parents=True, exist_ok=True)

    def recognize(self, image: Image.Image) -> list[Word]:
        key = hashlib.sha1(image.tobytes() + str(image.size).encode()).hexdigest()
        path = self.directory / f"{key}.json"
        if path.exists():
            rows = json.loads(path.read_text())
            return [Word(r[0], tuple(r[1]), r[2]) for r in rows]  # type: ignore[arg-type]
        if self.only_cached:
            raise NotCached(path.name)
        words = self.engine.recognize(image)
        path.write_text(json.dumps([[w.text, list(w.bbox), w.confidence] for w in words]))
        return words


@dataclass
class Receipt:
    """One receipt read once: what the rules found, what the model ranks, the truth."""

    dataset: str
    stem: str
    truth: dict
    lines: list[Line]
    rules: dict[str, Candidate]
    options: dict[str, list[Option]]
    megapixels: float
    cpu_seconds: float
    seconds: float

    def groups(self) -> dict[str, Group]:
        return {
            name: (opts, [is_correct(name, o.value, self.truth.get(FIELDS[name])) for o in opts])
            for name, opts in self.options.items()
        }


def dataset_path(name: str) -> Path:
    """A data set's folder (with img/ and key/): a path, or a name under DATASETS. A
    missing one stops the bench: scoring "0 receipts" read as a result."""
    path = Path(name)
    path = path if path.is_dir() else DATASETS / name
    if not (path / "img").is_dir():
        raise SystemExit(f"no data set at {path} (give --dataset a folder holding img/ and key/)")
    return path


def read_receipts(
    engine: OcrEngine, dataset: Path, limit: int | None, start: int = 0, scale: float = 1.0
) -> list[Receipt]:
    receipts = []
    for path in sorted((dataset / "img").glob("*.jpg"))[start:][:limit]:
        truth = json.loads((dataset / "key" / f"{path.stem}.json").read_text())
        data = path.read_bytes()
        if scale != 1.0:
            data = _upscaled(data, scale)
        with Image.open(io.BytesIO(data)) as image:
            megapixels = image.width * image.height / 1e6
        started, cpu_started = time.perf_counter(), cpu_seconds()
        document = load_document(data)
        try:
            read_text(document, engine=engine)
        except ExtractionError as exc:
            if isinstance(exc.__cause__, NotCached):
                continue  # the OCR wraps the engine's error
            raise
        lines = document_lines(document)
        text = "\n".join(page.text for page in document.pages)
        rules, options = read_receipt(lines, text)
        if (model := _shipped_model()) is not None:  # timed as production runs it
            choose_fields(rules, options, lines, model)
        receipts.append(
            Receipt(
                dataset=dataset.name,
                stem=path.stem,
                truth=truth,
                lines=lines,
                rules=rules,
                options=options,
                megapixels=megapixels,
                cpu_seconds=cpu_seconds() - cpu_started,
                seconds=time.perf_counter() - started,
            )
        )
    return receipts


def _shipped_model() -> FieldModel | None:
    """The weights file, or None before a first --fit or while the features change (the
    --cross and --fit figures refit and do not need it)."""
    try:
        return load_model()
    except ModelError:
        return None


def _upscaled(data: bytes, factor: float) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        # At most 36 MP (a 600-dpi A4 scan is 35), under the 40-MP upload guard.
        factor = min(factor, (UPSCALE_MAX_PIXELS / (image.width * image.height)) ** 0.5)
        size = (round(image.width * factor), round(image.height * factor))
        big = image.convert("RGB").resize(size, Image.Resampling.BICUBIC)
    out = io.BytesIO()
    big.save(out, format="JPEG", quality=90)
    return out.getvalue()


@dataclass
class Result:
    label: str
    count: int = 0
    correct: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    # bucket -> [right, fields, sum of their confidences]
    buckets: dict[float, list[float]] = field(
        default_factory=lambda: {b: [0, 0, 0.0] for b in BUCKETS}
    )
    straight: int = 0
    straight_correct: int = 0
    # field -> [right, read] among fields at or above the review threshold
    sure: dict[str, list[int]] = field(default_factory=lambda: {name: [0, 0] for name in FIELDS})
    errors: list[str] = field(default_factory=list)
    # field -> cause -> misses (filled with --errors; see bench/extraction_errors.py)
    causes: dict[str, dict[str, int]] = field(
        default_factory=lambda: {name: dict.fromkeys(CAUSES, 0) for name in FIELDS}
    )

    @property
    def high(self) -> tuple[int, int]:
        rows = [v for b, v in self.buckets.items() if b >= HIGH_CONFIDENCE]
        return int(sum(r[0] for r in rows)), int(sum(r[1] for r in rows))


def score(
    receipts: list[Receipt], model: FieldModel | None, label: str, *, explain: bool = False
) -> Result:
    """Score the model's choices (or, with no model, the hand rules' own); with
    ``explain``, sort every miss by its cause."""
    result = Result(label)
    for receipt in receipts:
        if model is None:
            fields = receipt.rules
        else:
            fields = choose_fields(receipt.rules, receipt.options, receipt.lines, model)
        _score(result, receipt, fields, explain=explain)
    return result


def _score(
    result: Result, receipt: Receipt, fields: dict[str, Candidate], *, explain: bool
) -> None:
    result.count += 1
    ok_required, sure = True, True
    for name, key in FIELDS.items():
        candidate = fields.get(name)
        predicted = candidate.value if candidate else None
        conf = candidate.confidence if candidate else 0.0
        correct = is_correct(name, predicted, receipt.truth.get(key, ""))
        result.correct[name] += correct
        bucket = max(b for b in BUCKETS if conf >= b)
        result.buckets[bucket][0] += correct
        result.buckets[bucket][1] += 1
        result.buckets[bucket][2] += conf
        if conf >= REVIEW_THRESHOLD:
            result.sure[name][0] += correct
            result.sure[name][1] += 1
        if name in REQUIRED:
            ok_required = ok_required and correct
            sure = sure and conf >= REVIEW_THRESHOLD
        if not correct:
            cause = ""
            if explain:
                cause = miss_cause(
                    name,
                    receipt.options.get(name, []),
                    receipt.lines,
                    receipt.truth.get(key, ""),
                    is_correct,
                    canonical,
                )
                result.causes[name][cause] += 1
            result.errors.append(
                f"{receipt.dataset}/{receipt.stem} {name:15} conf={conf:.2f} [{cause}] "
                f"got={predicted!r} want={receipt.truth.get(key)!r}"
            )
    result.straight += sure
    result.straight_correct += sure and ok_required


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (tesseract runs as a child)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _row(label: str, value: str, target: str = "", met: bool | None = None, note: str = "") -> None:
    flag = "" if met is None else ("yes" if met else "NO")
    print(f"{label:38} {value:>10} {target:>10}  {flag:3} {note}".rstrip())


def print_result(result: Result) -> bool:
    n = max(1, result.count)
    checks: list[bool] = []
    print(f"\n== {result.label}: {result.count} receipts")
    _row("metric", "value", "target", None, "met")
    for name, target in TARGETS.items():
        accuracy = result.correct[name] / n
        checks.append(accuracy >= target)
        _row(f"accuracy {name}", f"{accuracy:.1%}", f">= {target:.0%}", checks[-1])
    right, total = result.high
    calibration = right / total if total else 1.0
    checks.append(calibration >= 0.99)
    _row("correct | conf>=0.90", f"{calibration:.1%}", ">= 99%", checks[-1], f"({right}/{total})")
    straight = result.straight / n
    checks.append(straight >= 0.55)
    note = f"({result.straight_correct}/{result.straight} with all required correct)"
    _row("straight-through (required>=0.80)", f"{straight:.1%}", ">= 55%", checks[-1], note)
    sure = ", ".join(f"{name} {r}/{t}" for name, (r, t) in result.sure.items())
    print(f"  at confidence >= 0.80 (right/read): {sure}")
    print("  reliability: confidence bucket -> observed accuracy (fields), mean confidence")
    for low, (good, count, total) in result.buckets.items():
        high = next((b for b in BUCKETS if b > low), 1.0)
        shown = f"{good / count:.1%}" if count else "-"
        mean = f"{total / count:.3f}" if count else "-"
        edge = "]" if high == 1.0 else ")"
        print(f"    [{low:.2f}, {high:.2f}{edge}  {shown:>7}  ({good:.0f}/{count:.0f})  {mean}")
    return all(checks)


def print_causes(result: Result) -> None:
    if not any(any(c.values()) for c in result.causes.values()):
        return  # pooled results carry no causes
    print("  misses by cause (bench/extraction_errors.py)")
    print(f"    {'field':16}" + "".join(f"{cause:>15}" for cause in CAUSES))
    for name, counts in result.causes.items():
        print(f"    {name:16}" + "".join(f"{counts[cause]:>15}" for cause in CAUSES))


def print_cost(receipts: list[Receipt], timed: bool) -> None:
    n = max(1, len(receipts))
    sizes = statistics.median(r.megapixels for r in receipts) if receipts else 0.0
    print(f"\n== cost: {len(receipts)} receipts, median image {sizes:.2f} MP")
    if timed:
        per = sum(r.cpu_seconds for r in receipts) / n
        _row("CPU seconds per receipt (1 thread)", f"{per:.2f}", "<= 1.00", per <= 1.0)
        _row("wall seconds per receipt", f"{sum(r.seconds for r in receipts) / n:.2f}")
    else:
        _row("CPU seconds per receipt (1 thread)", "n/a", "<= 1.00", None, "(OCR cached)")
    rss = peak_memory_mb()
    _row("peak memory (MB, RSS)", f"{rss:.0f}", "<= 800", rss <= 800)


def fit_on(receipts: list[Receipt], label: str) -> FieldModel:
    groups: dict[str, list[Group]] = {name: [] for name in FIELDS}
    for receipt in receipts:
        for name, group in receipt.groups().items():
            groups[name].append(group)
    return fit_model(groups, fitted_on=label)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", help="sroie-dev, sroie-test or a path")
    parser.add_argument("--cross", action="store_true", help="fit on one set, score the other")
    parser.add_argument("--fit", action="store_true", help="fit on all sets, write the weights")
    parser.add_argument("--memory", action="store_true", help="replay with correction memory")
    parser.add_argument("--rules", action="store_true", help="also score the hand rules alone")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--start", type=int, default=0, help="skip the first N receipts")
    parser.add_argument("--engine", default=None, help="rapidocr or tesseract")
    parser.add_argument("--ocr-cache", type=Path, default=None)
    parser.add_argument(
        "--cached-only", action="store_true", help="skip receipts the OCR cache lacks"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="upscale images by this")
    parser.add_argument("--errors", action="store_true", help="list every wrong field")
    args = parser.parse_args()
    names = args.dataset or (
        ["sroie-dev", "sroie-test"] if args.cross or args.fit or args.memory else ["sroie-dev"]
    )
    engine: OcrEngine = get_engine(args.engine)
    if args.ocr_cache:
        engine = CachingEngine(engine, args.ocr_cache, only_cached=args.cached_only)
    sets = {
        name: read_receipts(engine, dataset_path(name), args.limit, args.start, args.scale)
        for name in names
    }
    everything = [r for receipts in sets.values() for r in receipts]
    print(f"engine={engine.name}, scale={args.scale}, sets={', '.join(names)}")
    results: list[Result] = []
    shipped: FieldModel | None = None
    if args.fit:
        fitted_on = " + ".join(f"{k} ({len(v)})" for k, v in sets.items())
        shipped = fit_on(everything, fitted_on)
        MODEL_PATH.write_text(json.dumps(shipped.to_json(), indent=1) + "\n")
        print(f"wrote {MODEL_PATH.relative_to(ROOT)}, fitted on {fitted_on}")
    elif not args.cross:
        shipped = load_model()
    if args.cross:
        if len(sets) != 2:
            parser.error("--cross needs exactly two data sets")
        (a, fit_a), (b, fit_b) = sets.items()
        explain = args.errors
        label_ab, label_ba = (
            f"CROSS fitted on {a}, scored on {b}",
            f"CROSS fitted on {b}, scored on {a}",
        )
        results.append(score(fit_b, fit_on(fit_a, a), label_ab, explain=explain))
        results.append(score(fit_a, fit_on(fit_b, b), label_ba, explain=explain))
        pooled = Result("CROSS both directions pooled")
        for r in results:
            _merge(pooled, r)
        results.append(pooled)
    elif not args.memory and shipped is not None:
        for name, receipts in sets.items():
            label = f"{name}, shipped model ({shipped.fitted_on}: in-sample)"
            results.append(score(receipts, shipped, label, explain=args.errors))
    if args.rules:
        for name, receipts in sets.items():
            label = f"{name}, hand rules alone"
            results.append(score(receipts, None, label, explain=args.errors))
    if args.memory:
        from bench.extraction_memory import report  # Django models: loaded only here

        models = {}
        for name in sets:
            others = [r for other, rs in sets.items() if other != name for r in rs]
            models[name] = fit_on(others, "the other set") if others else shipped
        report(sets, models, is_correct)
    met = True
    for result in results:
        if args.errors:
            print("\n".join(result.errors))
        met = print_result(result) and met
        if args.errors:
            print_causes(result)
    print_cost(everything, timed=args.ocr_cache is None)
    return 0 if met else 1


def _merge(into: Result, other: Result) -> None:
    into.count += other.count
    into.straight += other.straight
    into.straight_correct += other.straight_correct
    for name, (right, read) in other.sure.items():
        into.sure[name][0] += right
        into.sure[name][1] += read
    for name in FIELDS:
        into.correct[name] += other.correct[name]
        for cause, misses in other.causes[name].items():
            into.causes[name][cause] += misses
    for bucket, row in other.buckets.items():
        for i, value in enumerate(row):
            into.buckets[bucket][i] += value


if __name__ == "__main__":
    sys.exit(main())
