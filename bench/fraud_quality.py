"""Fraud-check quality on sroie-dev: what Steve decides about re-captured receipts.

    DATABASE_URL=postgres://... .venv/bin/python bench/fraud_quality.py \\
        [--limit N] [--workers 2] [--cached-only]

Every receipt and every re-capture of it (bench/fraud_transforms.py: rotation, crop, 50 %
scale, brightness +-20 %, JPEG q40, a combination, a re-photograph) goes through what the
pipeline does with a submission:

1. extraction with jobs.extraction (load_document, read_text, parse_fields: the calls
   extract_document makes), OCR results cached on disk by bench/fraud_ocr_cache.py; the
   page hashes get the words OCR read, as in the pipeline (the text view);
2. fraud.services.fraud_run_checks with the page images as OCR left them, the joined page
   text and the parsed fields, under the default workflow's fraud policy, against
   PostgreSQL (DATABASE_URL of a migrated database), inside one transaction that is rolled
   back at the end: nothing is written.

The originals are submitted first, one after the other, to one throw-away company: every
match among them is a false match between distinct receipts (all pairs). Then every copy is
submitted on its own (savepoint rolled back after each): a match with its original is a
catch, a match with any other original a false match (copies vs others). Pairs that are
the same receipt in the data set (identical bytes or identical ground truth) are left out
of the false-match counts. A check "alone" means its own score reaches the flag threshold;
"decision" means the pair got any match, i.e. the submission goes to a reviewer because of
that original. Same-merchant pairs (same ground-truth company or address) are reported on
their own: they share a layout and most of their text.

--cached-only skips files whose OCR is not cached yet (fill the cache in the background
with `bench/fraud_ocr_cache.py fill`); the tables say how many receipts they cover.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from fraud_transforms import TRANSFORMS  # noqa: E402

from fraud import hashing, local, normalise, textsim  # noqa: E402

DATASETS = REPO.parent / "shared" / "datasets"
DATASET_ENV = "STEVE_BENCH_DATASET"  # set by --dataset; inherited by the worker processes
ALL_VIEWS_ENV = "STEVE_BENCH_ALL_VIEWS"  # set by --all-views; inherited likewise
# Re-captured files, kept so a run does not make them again (the 12 MP one takes seconds).
RECAPTURE_CACHE = (
    Path(os.environ.get("STEVE_BENCH_CACHE", Path.home() / ".cache" / "steve-bench")) / "recaptures"
)
THRESHOLDS = (16, 24, 31, 40, 48)
CHECKS = ("visual", "local", "text", "data")
# Seeds follow every transform's place in this order, whatever --transforms selects.
SEED_ORDER = sorted(TRANSFORMS)


def dataset() -> str:
    return os.environ.get(DATASET_ENV, "sroie-dev")


def use_dataset(name: str) -> None:
    if not (DATASETS / name / "img").is_dir():
        raise SystemExit(f"no data set {name!r} under {DATASETS}")
    os.environ[DATASET_ENV] = name


def data_dir() -> Path:
    return DATASETS / dataset()


def receipt_ids(limit: int | None) -> list[str]:
    ids = sorted(p.stem for p in (data_dir() / "img").glob("*.jpg"))
    return ids[:limit] if limit else ids


def key(receipt_id: str) -> dict[str, str]:
    return json.loads((data_dir() / "key" / f"{receipt_id}.json").read_text())


def transformed_bytes(receipt_id: str, transform: str) -> bytes:
    """The re-captured file: deterministic per receipt and transform (seeded), made once
    per version of bench/fraud_transforms.py and kept on disk."""
    source = hashlib.sha256((REPO / "bench" / "fraud_transforms.py").read_bytes()).hexdigest()
    path = RECAPTURE_CACHE / source[:12] / dataset() / transform / f"{receipt_id}.jpg"
    if path.exists():
        return path.read_bytes()
    image = Image.open(data_dir() / "img" / f"{receipt_id}.jpg")
    seed = int(receipt_id) * 100 + SEED_ORDER.index(transform)
    data = TRANSFORMS[transform](image, np.random.default_rng(seed))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    tmp.replace(path)  # atomic: two processes may make the same file
    return data


def file_bytes(receipt_id: str, transform: str | None) -> bytes:
    if transform is None:
        return (data_dir() / "img" / f"{receipt_id}.jpg").read_bytes()
    return transformed_bytes(receipt_id, transform)


def _prepare(job: tuple[str, str | None, bool]) -> dict:
    """Read one file as the pipeline does (OCR from the cache) and hash its pages."""
    import fraud_ocr_cache

    receipt_id, transform, cached_only = job
    all_views = bool(os.environ.get(ALL_VIEWS_ENV))
    data = file_bytes(receipt_id, transform)
    out = {"id": receipt_id, "transform": transform, "sha256": hashlib.sha256(data).hexdigest()}
    if cached_only and not fraud_ocr_cache.cached(data):
        return out | {"missing": True}
    read = fraud_ocr_cache.read(data)
    # CPU time, not wall: the machine is shared, and OCR's share is measured in CPU too.
    started = time.process_time()
    words = read.words or []  # None only for a file that failed, which has no pages
    # As fraud.services.hash_pages: each page decoded once, for the hashes and features.
    grays = [hashing.page_gray(image) for image in read.pages]
    views = (*hashing.IMAGE_VIEWS, *hashing.MEASURED_VIEWS) if all_views else hashing.IMAGE_VIEWS
    pages = [hashing.page_hashes(g, w, views) for g, w in zip(grays, words, strict=True)]
    hashed = time.process_time()
    features = [local.local_features(gray) for gray in grays]
    done = time.process_time()
    took = (hashed - started) / max(1, len(pages))
    return out | {
        "text": read.text,
        "fields": read.fields,
        "pages": pages,
        "features": features,
        "features_seconds": (done - hashed) / max(1, len(pages)),
        "error": read.error,
        "ocr_seconds": read.ocr_seconds,
        "ocr_source": read.ocr_source,
        "hash_seconds": took,
    }


def _same_merchant(a: str, b: str) -> bool:
    """Same shop by ground truth: the same company name, or the same address."""
    ka, kb = key(a), key(b)
    if normalise.merchant(ka["company"]) == normalise.merchant(kb["company"]):
        return True
    address = [re.sub(r"[^A-Z0-9]", "", k.get("address", "").upper()) for k in (ka, kb)]
    return bool(address[0]) and address[0] == address[1]


def same_key(a: str, b: str) -> bool:
    """The same ground truth, spaces aside: one receipt twice in the data set (sroie-dev
    016 and 018 are one image, their addresses typed with and without a space)."""
    squash = [{k: re.sub(r"\s+", "", v) for k, v in key(i).items()} for i in (a, b)]
    return squash[0] == squash[1]


def _same_receipt(a: str, b: str, sha: dict[str, str]) -> bool:
    return sha[a] == sha[b] or same_key(a, b)


class Run:
    """fraud_run_checks on throw-away submissions of one company, rolled back at the end."""

    def __init__(self) -> None:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steve.settings")
        import django

        django.setup()
        from django.db import transaction

        from fraud.models import FraudMatch
        from fraud.policy import FraudPolicy
        from fraud.services import HashedPage, fraud_run_checks
        from tests.factories import CompanyFactory, SubmissionFactory, SubmissionFileFactory

        self.transaction, self.FraudMatch = transaction, FraudMatch
        self.HashedPage, self.fraud_run_checks = HashedPage, fraud_run_checks
        self.SubmissionFactory, self.SubmissionFileFactory = (
            SubmissionFactory,
            SubmissionFileFactory,
        )
        self.CompanyFactory = CompanyFactory
        self.policy_json = json.loads(os.environ.get("STEVE_BENCH_POLICY") or "{}")
        self.policy = FraudPolicy.from_json(self.policy_json)
        self.seconds: list[float] = []

    def start(self) -> None:
        from jobs.defaults import publish_default_workflows

        self.atomic = self.transaction.atomic()
        self.atomic.__enter__()
        self.company = self.CompanyFactory(slug=f"fraud-bench-{os.getpid()}-{time.time_ns()}")
        self.version = publish_default_workflows(company=self.company)[0]
        assert self.version.kind == "receipt" and not self.version.fraud_policy
        if self.policy_json:  # --policy: the run's policy on the throw-away workflow
            self.version.fraud_policy = self.policy_json
            self.version.save(update_fields=["fraud_policy"])

    def stop(self) -> None:
        self.transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def submit(self, item: dict) -> str:
        submission = self.SubmissionFactory(
            company=self.company,
            workflow_version=self.version,
            workflow=self.version.workflow,
            extracted_data=item["fields"],  # as the pipeline stores them
        )
        file = self.SubmissionFileFactory(submission=submission, sha256=item["sha256"])
        hashed = [
            self.HashedPage(file_id=file.pk, page=n, hashes=h, features=f)
            for n, (h, f) in enumerate(zip(item["pages"], item["features"], strict=True))
        ]
        started = time.process_time()
        self.fraud_run_checks(
            submission_id=submission.pk,
            pages=[],
            fields=item["fields"],
            text=item["text"],
            hashed=hashed,
        )
        self.seconds.append(time.process_time() - started)
        return submission.pk

    def matches(self, submission_id: str) -> list[tuple[str, str, float]]:
        """(other submission, check type, score) of every pair match of a submission."""
        from django.db.models import Q

        rows = self.FraudMatch.objects.filter(
            Q(submission_id=submission_id) | Q(target_submission_id=submission_id),
            target_submission__isnull=False,
        ).values_list("submission_id", "target_submission_id", "check_type", "score", "details")
        found = []
        for s, t, c, score, details in rows:
            other = t if s == submission_id else s
            found.append((other, c, score))
            if c == "visual" and "local" in details:  # the keypoint verdict, on its own
                found.append((other, "local", details["local"]["score"]))
        return found

    def copy_matches(self, item: dict) -> list[tuple[str, str, float]]:
        savepoint = self.transaction.savepoint()
        try:
            return self.matches(self.submit(item))
        finally:
            self.transaction.savepoint_rollback(savepoint)


def _alone(found: list[tuple[str, float]], check: str, flag: float) -> bool:
    return any(c == check and score >= flag for c, score in found)


def evaluate(ids: list[str], items: dict, run: Run) -> None:
    usable, sha, pair_found, copies = submit_all(ids, items, run)
    flag = run.policy.flag_threshold
    failed = {k: item["error"] for k, item in items.items() if item.get("error")}
    _print_recall(usable, copies, flag, failed)
    _print_false_matches(usable, sha, pair_found, copies, flag)


def submit_all(ids: list[str], items: dict, run: Run) -> tuple[list[str], dict, dict, dict]:
    """Originals one after the other, then each copy on its own: (receipts submitted,
    their file hashes, what each pair of originals got, what each copy matched)."""
    usable = [i for i in ids if "pages" in items[(i, None)] and not items[(i, None)]["error"]]
    sha = {i: items[(i, None)]["sha256"] for i in ids}
    run.start()
    try:
        submission_of = {i: run.submit(items[(i, None)]) for i in usable}
        receipt_of = {v: k for k, v in submission_of.items()}
        # Distinct pairs among the originals.
        pair_found: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
        for i in usable:
            for other, check, score in run.matches(submission_of[i]):
                a, b = sorted((i, receipt_of[other]))
                if (check, score) not in pair_found[(a, b)]:
                    pair_found[(a, b)].append((check, score))
        copies: dict[tuple[str, str], list[tuple[str, str, float]]] = {}
        for t in TRANSFORMS:
            for i in usable:
                item = items.get((i, t))
                if item is None or "pages" not in item:
                    continue
                found = run.copy_matches(item) if not item["error"] else []
                copies[(i, t)] = [(receipt_of[o], c, s) for o, c, s in found]
    finally:
        run.stop()
    return usable, sha, pair_found, copies


def _without_views(items: dict, dropped: set[str]) -> dict:
    """The items with the page hashes of the `dropped` views left out."""
    return {
        k: item
        | {
            "pages": [
                hashing.PageHashes(
                    views={v: d for v, d in h.views.items() if v not in dropped}, quality=h.quality
                )
                for h in item["pages"]
            ]
        }
        if "pages" in item
        else item
        for k, item in items.items()
    }


def ablation(ids: list[str], items: dict, run: Run) -> None:
    """The whole decision again without each image view in turn: a view whose removal
    costs no catch and adds no false match adds nothing on this set."""
    print("\n## Views left out (decision recall per transform; false matches)")
    names = [t for t in TRANSFORMS]
    print("| left out | " + " | ".join(names) + " | distinct pairs | copies vs others |")
    print("|---" * (len(names) + 3) + "|")
    # The costliest boxes (fraud.hashing._BOXES) left out together, the dearest first.
    together = [("dark", "ink"), ("dark", "ink", "strong"), ("dark", "ink", "strong", "paper")]
    for dropped in [(), *together]:
        usable, sha, pair_found, copies = submit_all(ids, _without_views(items, set(dropped)), run)
        cells = []
        for t in names:
            done = [i for i in usable if (i, t) in copies]
            caught = sum(any(o == i for o, _, _ in copies[(i, t)]) for i in done)
            cells.append(f"{caught}/{len(done)}")
        distinct = [p for p in itertools.combinations(usable, 2) if not _same_receipt(*p, sha)]
        pairs = sum(bool(pair_found.get(p)) for p in distinct)
        cross = sum(
            any(o != i and not _same_receipt(i, o, sha) for o, _, _ in found)
            for (i, _t), found in copies.items()
        )
        print(
            f"| {', '.join(dropped) or 'none'} | {' | '.join(cells)} "
            f"| {pairs}/{len(distinct)} | {cross} copies |",
            flush=True,
        )


def _print_recall(ids: list[str], copies: dict, flag: float, failed: dict) -> None:
    print(f"\n## Re-captures caught (fraud_run_checks, default policy, flag at {flag:g})")
    print("A check alone: its score reaches the flag threshold. Decision: any match with the")
    print("original (evidence about the pair adds up, fraud.policy.combine). A copy whose")
    print("extraction failed (missed, with the error code) was never checked: the pipeline")
    print("fails its session, so it is counted as missed.")
    print("| transform | receipts | visual | local | text | data | decision | missed |")
    print("|---|---|---|---|---|---|---|---|")
    for t in TRANSFORMS:
        done = [i for i in ids if (i, t) in copies]
        if not done:
            continue
        own = {i: [(c, s) for o, c, s in copies[(i, t)] if o == i] for i in done}
        cells = [f"{np.mean([_alone(own[i], c, flag) for i in done]):.1%}" for c in CHECKS]
        caught = [bool(own[i]) for i in done]
        missed = [
            f"{i} ({failed[(i, t)]})" if (i, t) in failed else i
            for i, hit in zip(done, caught, strict=True)
            if not hit
        ]
        print(
            f"| {t} | {len(done)} | {' | '.join(cells)} | **{np.mean(caught):.1%}** "
            f"| {', '.join(missed) or '-'} |"
        )


def _print_false_matches(
    ids: list[str], sha: dict, pair_found: dict, copies: dict, flag: float
) -> None:
    groups: dict[str, list[tuple[str, str]]] = {"same merchant": [], "other merchants": []}
    excluded = []
    for a, b in itertools.combinations(ids, 2):
        if _same_receipt(a, b, sha):
            excluded.append((a, b))
            continue
        groups["same merchant" if _same_merchant(a, b) else "other merchants"].append((a, b))
    print("\n## False matches between distinct receipts (originals, all pairs)")
    print("| pairs | count | visual | local | text | data | decision |")
    print("|---|---|---|---|---|---|---|")
    rows = [("all distinct", groups["same merchant"] + groups["other merchants"]), *groups.items()]
    for name, pairs in rows:
        cells = []
        for check in CHECKS:
            hits = sum(_alone(pair_found.get(p, []), check, flag) for p in pairs)
            cells.append(f"{hits / max(1, len(pairs)):.3%} ({hits})")
        decided = sum(bool(pair_found.get(p)) for p in pairs)
        print(
            f"| {name} | {len(pairs)} | {' | '.join(cells)} "
            f"| **{decided / max(1, len(pairs)):.3%}** ({decided}) |"
        )
    flagged = sorted((p, pair_found[p]) for p in pair_found if p not in excluded)
    print(f"- flagged distinct pairs: {flagged}")
    print(f"- same receipt twice in the data set (left out): {excluded}")

    cross_pairs, cross = 0, defaultdict(int)
    cross_examples = []
    for (i, t), found in copies.items():
        for j in ids:
            if j == i or _same_receipt(i, j, sha):
                continue
            cross_pairs += 1
            theirs = [(c, s) for o, c, s in found if o == j]
            for check in CHECKS:
                cross[check] += _alone(theirs, check, flag)
            if theirs:
                cross["decision"] += 1
                cross_examples.append((i, t, j, theirs))
    cells = " | ".join(f"{cross[c] / max(1, cross_pairs):.3%} ({cross[c]})" for c in CHECKS)
    print(
        f"| copies vs other originals | {cross_pairs} | {cells} "
        f"| **{cross['decision'] / max(1, cross_pairs):.3%}** ({cross['decision']}) |"
    )
    print(f"- copies matched to another receipt (first 10): {cross_examples[:10]}")


def evidence(ids: list[str], items: dict, policy) -> None:
    """Raw evidence per transform, whatever the policy makes of it."""
    ok = [i for i in ids if items[(i, None)].get("pages")]
    print("\n## Evidence between each copy and its original")
    print(
        "Visual: smallest PDQ distance over the page views (bits of 256). Text: Jaccard of "
        "the digit shingles. Data: total and date equal, merchant similar."
    )
    header = "| transform | " + " | ".join(f"vis <= {t}" for t in THRESHOLDS)
    print(header + " | vis median / p95 / max | text median / p5 | text >= strong | data |")
    print("|" + "---|" * (header.count("|") + 3))
    for t in TRANSFORMS:
        done = [i for i in ok if items.get((i, t), {}).get("pages")]
        if not done:
            continue
        dist = np.array(
            [
                hashing.min_distance(items[(i, t)]["pages"][0], items[(i, None)]["pages"][0])
                for i in done
            ]
        )
        sims = np.array(
            [
                textsim.similarity(
                    textsim.shingles(items[(i, t)]["text"]),
                    textsim.shingles(items[(i, None)]["text"]),
                )
                for i in done
            ]
        )
        data = np.mean(
            [_data_agrees(items[(i, t)]["fields"], items[(i, None)]["fields"]) for i in done]
        )
        cells = " | ".join(f"{np.mean(dist <= limit):.1%}" for limit in THRESHOLDS)
        print(
            f"| {t} | {cells} | {np.median(dist):.0f} / {np.percentile(dist, 95):.0f} / "
            f"{dist.max()} | {np.median(sims):.2f} / {np.percentile(sims, 5):.2f} "
            f"| {np.mean(sims >= policy.text_min_similarity):.1%} | {data:.1%} |"
        )
    pairs = [
        hashing.min_distance(items[(a, None)]["pages"][0], items[(b, None)]["pages"][0])
        for a, b in itertools.combinations(ok, 2)
        if items[(a, None)]["sha256"] != items[(b, None)]["sha256"] and not same_key(a, b)
    ]
    print(
        "- distinct pairs within each visual threshold: "
        + ", ".join(f"<= {t}: {sum(d <= t for d in pairs)}" for t in THRESHOLDS)
        + f" (of {len(pairs)})"
    )


def _data_agrees(a: dict, b: dict) -> bool:
    from fraud.services import data_key

    ka, kb = data_key(a), data_key(b)
    return (
        ka is not None
        and kb is not None
        and ka.total == kb.total
        and ka.day == kb.day
        and normalise.merchant_similarity(ka.merchant, kb.merchant) >= 0.5
    )


def _ocr_cpu_seconds(ids: list[str]) -> list[float]:
    """CPU seconds of extraction as the pipeline runs it, read afresh (not from the cache)."""
    from jobs.extraction import load_document, parse_fields, read_text

    if ids:  # the first read loads the OCR models: not part of any receipt's time
        read_text(load_document(file_bytes(ids[0], None)))
    seconds = []
    for receipt_id in ids:
        started = time.process_time()
        document = load_document(file_bytes(receipt_id, None))
        read_text(document)
        parse_fields(document, kind="receipt")
        seconds.append(time.process_time() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", nargs="?", default="sroie-dev", help="sroie-dev, sroie-test")
    parser.add_argument("--limit", type=int, default=None, help="first N receipts only")
    parser.add_argument("--workers", type=int, default=2, help="processes reading and hashing")
    parser.add_argument("--cached-only", action="store_true", help="skip files not OCR'd yet")
    parser.add_argument("--policy", default="", help='fraud policy JSON, e.g. {"local": false}')
    parser.add_argument("--transforms", default="", help="comma-separated; default all")
    parser.add_argument(
        "--ocr-sample", type=int, default=5, help="originals OCR'd afresh for the CPU share"
    )
    parser.add_argument(
        "--ablate", action="store_true", help="decision without each image view in turn"
    )
    parser.add_argument("--all-views", action="store_true", help="also hash hashing.MEASURED_VIEWS")
    args = parser.parse_args()
    use_dataset(args.dataset)
    os.environ["STEVE_BENCH_POLICY"] = args.policy
    if args.all_views:
        os.environ[ALL_VIEWS_ENV] = "1"
    if args.transforms:
        for name in set(TRANSFORMS) - set(args.transforms.split(",")):
            del TRANSFORMS[name]
    started = time.perf_counter()
    ids = receipt_ids(args.limit)
    jobs = [(i, None, args.cached_only) for i in ids]
    jobs += [(i, t, args.cached_only) for i in ids for t in TRANSFORMS]
    with Pool(args.workers) as pool:
        prepared = pool.map(_prepare, jobs, chunksize=4)
    items = {(p["id"], p["transform"]): p for p in prepared}
    read = [p for p in prepared if "pages" in p]
    missing = len(prepared) - len(read)
    errors = Counter(p["error"] for p in read if p["error"])
    print(f"# {dataset()}: {len(ids)} receipts x (original + {len(TRANSFORMS)} re-captures)")
    print(
        f"- files read: {len(read)} of {len(prepared)} ({missing} not OCR'd yet, skipped); "
        f"extraction errors: {dict(errors) or 'none'}"
    )
    import fraud_ocr_cache

    versions = Counter(p["ocr_source"] for p in read)
    current = fraud_ocr_cache.ocr_source_version()
    print(
        f"- OCR cache entries by jobs/extraction/ocr.py version: {dict(versions)} "
        f"(current {current})"
    )
    run = Run()
    if args.ablate:
        ablation(ids, items, run)
        return
    evidence(ids, items, run.policy)
    evaluate(ids, items, run)

    hash_s = [p["hash_seconds"] for p in read if p["pages"]]  # CPU seconds
    features_s = [p["features_seconds"] for p in read if p["pages"]]
    ocr_s = [p["ocr_seconds"] for p in read]
    checks_s = run.seconds
    print("\n## Fraud step share of pipeline time (per one-page receipt)")
    print(
        f"- CPU: page hashing ({len(hashing.VIEWS)} views) mean {np.mean(hash_s) * 1000:.0f} ms, "
        f"p95 {np.percentile(hash_s, 95) * 1000:.0f} ms; local features mean "
        f"{np.mean(features_s) * 1000:.0f} ms; fraud_run_checks without hashing "
        f"(PostgreSQL, local verification included, {len(checks_s)} runs): "
        f"mean {np.mean(checks_s) * 1000:.0f} ms"
    )
    fraud = np.mean(hash_s) + np.mean(features_s) + np.mean(checks_s)
    ocr_cpu = _ocr_cpu_seconds(ids[: args.ocr_sample]) if args.ocr_sample else []
    if ocr_cpu:
        print(
            f"- extraction CPU (load_document, read_text, parse_fields; {len(ocr_cpu)} originals "
            f"read afresh): mean {np.mean(ocr_cpu):.2f} s; fraud step {fraud * 1000:.0f} ms CPU; "
            f"fraud share {fraud / (fraud + np.mean(ocr_cpu)):.1%}"
        )
    print(
        f"- extraction wall time when the cache was filled: mean {np.mean(ocr_s):.1f} s "
        "(the machine's load, not a CPU figure)"
    )
    print(f"\n(total bench time {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
