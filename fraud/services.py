"""Fraud checks, scoring and resolution: the services the pipeline, API and UI share.

Checks: duplicate (same file bytes), visual (PDQ of four views of the normalised page, the
fourth the box of the words OCR read; one exact Hamming index per view), text (digit
shingles of the OCR text: LSH candidates, exact Jaccard), data (total + date window +
similar merchant; same minute is strong) and tampering (editing software,
screenshot-like pages, arithmetic). A local-feature stage (fraud.local: ORB keypoints, one
RANSAC homography, the print compared once aligned) verifies the few candidate pairs the
hashes, text and data propose, and raises a verified pair's visual score: it catches
re-photographs PDQ misses, and its matched region is what the review panel draws.
Evidence about one pair
adds up (fraud.policy): the text similarity is also computed for every submission the
visual or data check found, so two weak pieces about the same pair are seen together.
Lookup and insert run under a per-company advisory lock, so two workers checking the same
receipt at the same moment find each other and write one match row, not zero or two.
Every lookup is of the submission's own environment: sandbox submissions are neither found
by production ones nor find them (docs/environments.md).

bench/fraud_quality.py runs fraud_run_checks itself on sroie-dev re-captures.
"""

import datetime as dt
import logging
import re
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from fraud import hashing, local, normalise, tampering, textsim, visual
from fraud.models import (
    DataFingerprint,
    FalsePositivePair,
    FraudMatch,
    KnownFraud,
    PageFeatures,
    PageFingerprint,
    TextBandKey,
    TextFingerprint,
)
from fraud.policy import (
    FraudPolicy,
    combine,
    data_score,
    local_score,
    text_score,
    visual_score,
)
from steve.errors import ServiceError, invalid
from steve.jsonkeys import without_keys
from steve.sweeps import sweep_rows
from submissions.events import announce
from submissions.models import (
    EventType,
    FraudStatus,
    Submission,
    SubmissionFile,
    SubmissionStatus,
)
from submissions.services import (
    RESOLVE_FRAUD,
    UNDO_RESOLUTION,
    Actor,
    SubmissionActionError,
    actor_key,
    checked_reason,
    hold_for_actor,
    locked_submission,
    merchant_memory_reteach_submission,
    merchant_memory_withdraw_submission,
    record_event,
    refuse_others_claim,
    refuse_stale_page,
    save_new_version,
    stale_page_refusal,
    submission_reject,
    wrong_status,
)
from submissions.signals import submission_changed
from webhooks.catalogue import WebhookEventType

logger = logging.getLogger(__name__)
M = FraudMatch
# Pages whose PDQ quality is this low are nearly blank: every blank page looks alike.
MIN_PDQ_QUALITY = 10
# Local-feature candidates: text this similar, and this many latest of the same total.
LOCAL_TEXT_FLOOR = 0.2
LOCAL_SAME_TOTAL = 3


@dataclass(frozen=True)
class PageImage:
    """One rendered page of a submission's file, as the pipeline hands it to the checks:
    the image OCR read and, when known, the words it read there (for the text view)."""

    file_id: str
    page: int
    image: Any  # PIL.Image.Image
    words: Sequence[hashing.OcrWord] = ()


@dataclass(frozen=True)
class FraudOutcome:
    status: str
    score: float
    match_count: int  # the matches that count: open or confirmed
    confirmed_count: int = 0


@dataclass(frozen=True)
class HashedPage:
    file_id: str
    page: int
    hashes: hashing.PageHashes
    features: local.LocalFeatures | None = None  # for the local-feature check
    # Digit shingles (fraud.textsim) of the words OCR read on the page, one line a word:
    # what tells two pages of one document apart when they share its template.
    digits: frozenset[int] = frozenset()


@dataclass
class Finding:
    """One check's evidence that this submission re-uses another one (or was edited)."""

    check_type: str
    target_id: str | None
    score: float
    similarity: float
    details: dict[str, Any] = field(default_factory=dict)


def _lock_company(company_id: str) -> None:
    """Serialise lookup-and-insert per company, so two workers checking the same receipt
    at the same moment find each other and write one row, not zero or two."""
    if connection.vendor == "postgresql":
        key = zlib.crc32(f"fraud:{company_id}".encode())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _ordered_pair(a: str, b: str) -> tuple[str, str]:
    """A pair of submissions in one order, however it was found (false-positive rows)."""
    return (a, b) if a > b else (b, a)


# What the checks copy of the receipts into a match, at any depth: merchants, totals,
# dates and time (data and date checks), the receipt number both printed (the data
# check's same-number finding), the sums of a tampering signal. A purged submission's
# results go, and so must these copies of them.
RESULT_DETAILS = frozenset(
    {"merchant", "targetMerchant", "total", "targetTotal", "date", "targetDate", "time"}
    | {"otherDate", "receiptNumber", "items_sum", "tax"}
)


@transaction.atomic  # the checks' transaction, or one of its own (it locks the other)
def match_pair(
    *,
    company_id: str,
    submission_id: str,
    other_id: str,
    check_type: str,
    score: float,
    similarity: float,
    status: str = M.Status.FLAG,
    details: dict[str, Any] | None = None,
) -> FraudMatch | None:
    """Record one match found while checking ``submission_id``; None when the pair
    already has one, or the other has failed or was cancelled.

    The match is carried by the one of the two whose decision is still ahead (_carrier)
    and points at the other.
    """
    pair = [submission_id, other_id]
    exists = M.objects.filter(
        submission_id__in=pair, target_submission_id__in=pair, check_type=check_type
    ).exists()
    if exists:
        return None
    paired = _carrier(checked_id=submission_id, other_id=other_id)
    if paired is None:
        return None
    carrier, target = paired
    details = details or {}
    if Submission.objects.filter(pk=target, results_purged_at__isnull=False).exists():
        # The target's results were purged; its fingerprint still finds the pair.
        details = without_keys(details, RESULT_DETAILS)
    match = M.objects.create(
        company_id=company_id,
        submission_id=carrier,
        target_submission_id=target,
        check_type=check_type,
        score=score,
        similarity=similarity,
        status=status,
        details=details,
    )
    if carrier != submission_id:
        # Still processing: it learns of the pair now, and its decision counts it
        # (submissions.services.submission_finish_processing reads its status again).
        fraud_refresh(submission_id=carrier, reason={"fraudMatchId": match.pk})
    return match


def _carrier(*, checked_id: str, other_id: str) -> tuple[str, str] | None:
    """(carrier, target) of a pair found while checking ``checked_id``; None when the
    other failed or was cancelled, read under its row lock.

    The other one carries the match only while it is processing and its own check has
    not run (no fraud status yet: a twin submitted at about the same time, whose file or
    early fingerprints were found first): its check will count the match. Otherwise its
    check ran and it was decided, or is being decided, on it, and the checked one, whose
    decision is still ahead, carries the match. Ids say when a session was opened, not when it
    was checked: a session opened first and submitted last must not hang its match on a
    twin that went through already. The other's row is locked (in the order every path
    locks it), so its decision waits for this match rather than passing it by.
    """
    other = locked_submission(submission_id=other_id)
    if other.status in ENDED_UNDECIDED:
        # It ended after the checks read it (_never_decided, no lock): its cancel was in
        # flight, and this waited for its row. A match on it flagged the receipt where a
        # cancel a moment earlier left it clean; an ended submission is matched by nobody.
        return None
    if other.status == SubmissionStatus.PROCESSING and other.fraud_status is None:
        return other_id, checked_id
    return checked_id, other_id


def hash_pages(pages: Sequence[PageImage]) -> list[HashedPage]:
    """Perceptual hashes and local features of every page: the slow part, done before
    taking the lock."""
    return [hashed for page in pages if (hashed := hash_page(page)) is not None]


def hash_page(page: PageImage) -> HashedPage | None:
    """One page's hashes and local features (None when they cannot be taken): all the
    checks need of its image, which the caller may let go once it has them."""
    try:
        gray = hashing.page_gray(page.image)  # decoded once for both
        hashes = hashing.page_hashes(gray, page.words)
        features = local.local_features(gray)
    except Exception:  # noqa: BLE001 - one odd page must not stop the other checks
        logger.exception("Could not hash page %s of file %s", page.page, page.file_id)
        return None
    digits = frozenset(textsim.shingles("\n".join(word.text for word in page.words)))
    return HashedPage(page.file_id, page.page, hashes, features, digits)


def _store_pages(submission: Submission, hashed: list[HashedPage]) -> None:
    rows = [
        PageFingerprint(
            company_id=submission.company_id,
            environment=submission.environment,
            submission_id=submission.pk,
            file_id=page.file_id,
            page=page.page,
            variant=variant,
            pdq=digest,
            quality=page.hashes.quality,
        )
        for page in hashed
        for variant, digest in _variants(page.hashes)
    ]
    # Already recorded early by fraud_record_fingerprints: keep the first rows.
    PageFingerprint.objects.bulk_create(rows, ignore_conflicts=True)
    features = [
        PageFeatures(
            company_id=submission.company_id,
            submission_id=submission.pk,
            file_id=page.file_id,
            page=page.page,
            data=page.features.to_bytes(),
        )
        for page in hashed
        if page.features is not None
    ]
    PageFeatures.objects.bulk_create(features, ignore_conflicts=True)


def _variants(hashes: hashing.PageHashes) -> list[tuple[str, bytes]]:
    """(PageFingerprint.variant, hash) of every view."""
    return [(_variant(name), digest) for name, digest in hashes.views.items()]


def _variant(view: str) -> str:
    """The PageFingerprint.variant of a view: "v2-" + its name."""
    return f"v2-{view}"


def fraud_record_fingerprints(*, submission_id: str, pages: list[PageImage]) -> list[HashedPage]:
    """Store a submission's page hashes early, before the slow extraction steps.

    Optional: fraud_run_checks stores them too. Recording early narrows the window in which
    a twin being processed on another worker cannot see this submission yet; correctness
    does not depend on it (both paths take the company lock).
    """
    hashed = hash_pages(pages)
    submission = Submission.objects.get(pk=submission_id)
    with transaction.atomic():
        _lock_company(submission.company_id)
        _store_pages(submission, hashed)
    return hashed


def _duplicate_findings(submission: Submission, policy: FraudPolicy) -> list[Finding]:
    files = [f for f in submission.files.all() if f.sha256]
    digests = [f.sha256 for f in files]
    twins = (
        SubmissionFile.objects.filter(
            sha256__in=digests,
            submission__company_id=submission.company_id,
            submission__environment=submission.environment,
        )
        .exclude(submission_id=submission.pk)
        .values_list("submission_id", "sha256")
    )
    found: dict[str | None, Finding] = {}
    for other_id, digest in twins:
        found.setdefault(
            other_id, Finding(M.CheckType.DUPLICATE, other_id, 100.0, 1.0, {"sha256": digest})
        )
    # The same file twice in one submission (one receipt claimed twice, or uploaded twice
    # by mistake): enough to flag it for a reviewer, never to block it on its own.
    repeated = [d for d in dict.fromkeys(digests) if digests.count(d) > 1]
    if repeated:
        indexes = [f.file_index for f in files if f.sha256 == repeated[0]]
        details = {"sha256": repeated[0], "files": indexes}
        found[None] = Finding(M.CheckType.DUPLICATE, None, policy.flag_threshold, 1.0, details)
    return list(found.values())


def _repeated_page_finding(
    submission: Submission, hashed: list[HashedPage], policy: FraudPolicy
) -> Finding | None:
    """The same page twice in this submission: in two files (one receipt sent twice as
    different bytes: a JPEG and its PNG, a photo and a PDF of it) or as two pages of one
    file (a PDF with the receipt on page 1 and again on page 3), which the same-bytes check
    and the search of earlier submissions both miss. Like the same file twice, it flags
    for a reviewer and never blocks on its own.

    Receipts printed on one template hash as close as a copy, and the files of one
    submission share its fields, so no date can tell them apart: with the local check on,
    only pages the keypoints verify as the same paper count (nearest by hash first, at
    most policy.local_max_candidates pairs); without it, a strong visual distance.
    """
    pairs = _page_pairs(hashed, policy.local_candidate_distance, same_file=policy.local)
    for distance, page, other in pairs[: policy.local_max_candidates]:
        details: dict[str, Any] = {"distance": distance, "maxDistance": policy.visual_max_distance}
        if page.file_id == other.file_id:
            if _other_numbers(page, other, policy):
                continue
            details["pages"] = [page.page, other.page]
        if policy.local and page.features is not None and other.features is not None:
            match = local.verify(
                other.features,
                page.features,
                min_inliers=policy.local_min_inliers,
                min_coverage=policy.local_min_coverage,
            )
            score = local_score(match, policy) if match is not None else 0.0
            if score <= 0:
                continue
            details["local"] = {**match.details(), "score": score}
        elif policy.local or distance > policy.visual_strong_distance:
            continue
        indexes = dict(submission.files.values_list("pk", "file_index"))
        details |= {
            "files": sorted({indexes.get(page.file_id), indexes.get(other.file_id)} - {None}),
            "file": other.file_id,
            "page": other.page,
            "targetFile": page.file_id,
            "targetPage": page.page,
        }
        similarity = round(1.0 - distance / hashing.HASH_BITS, 4)
        return Finding(M.CheckType.VISUAL, None, policy.flag_threshold, similarity, details)
    return None


def _other_numbers(page: HashedPage, other: HashedPage, policy: FraudPolicy) -> bool:
    """Whether OCR read other numbers on the two pages: the next page of a statement or
    a form aligns with the first on its template, and the keypoints do not see a page
    number or an item number change, but its digits do."""
    if min(len(page.digits), len(other.digits)) < textsim.MIN_SHINGLES:
        return False  # too few numbers read to tell
    return textsim.similarity(set(page.digits), set(other.digits)) < policy.text_min_similarity


def _page_pairs(
    hashed: list[HashedPage], radius: int, *, same_file: bool
) -> list[tuple[int, HashedPage, HashedPage]]:
    """(distance, earlier page, later page) of pages within `radius` bits (the smallest
    over the views both have), nearest first; blank pages left out. Two pages of one file
    only when `same_file`: the pages of one document share its template, so only the
    keypoints, not a hash distance, can tell a repeated page from the next one."""
    pages = [p for p in hashed if p.hashes.quality >= MIN_PDQ_QUALITY]
    pairs = []
    for position, page in enumerate(pages):
        for other in pages[position + 1 :]:
            if other.file_id == page.file_id and (not same_file or other.page == page.page):
                continue
            shared = page.hashes.views.keys() & other.hashes.views.keys()
            distance = min(
                (hashing.hamming(page.hashes.views[v], other.hashes.views[v]) for v in shared),
                default=hashing.HASH_BITS,
            )
            if distance <= radius:
                pairs.append((distance, page, other))
    return sorted(pairs, key=lambda pair: pair[0])


@dataclass(frozen=True)
class VisualHit:
    """The nearest stored page of another submission, by hash."""

    distance: int
    page: HashedPage
    variant: str
    target_file: str
    target_page: int
    mirrored: str | None = None  # hashing.MIRRORS: our page, mirrored back this way


def _visual_hits(
    submission: Submission, hashed: list[HashedPage], radius: int
) -> dict[str, VisualHit]:
    """Per earlier submission, its page nearest to one of ours within `radius` bits: ours
    as it is, or mirrored back (hashing.MIRRORS) when it may have been sent mirrored. The
    stored pages are upright or mirrored alike, so either way round a mirror is found."""
    hits: dict[int, tuple[int, HashedPage, str, str | None]] = {}
    for page in hashed:
        if page.hashes.quality < MIN_PDQ_QUALITY:
            continue
        # Per variant, its hashes and which mirror each is (None, as it is, comes first:
        # at the same distance, the page is no mirror).
        queries: dict[str, list[bytes]] = defaultdict(list)
        mirrors: dict[str, list[str | None]] = defaultdict(list)
        for mirror, views in [(None, page.hashes.views), *page.hashes.mirrored.items()]:
            for name, digest in views.items():
                queries[_variant(name)].append(digest)
                mirrors[_variant(name)].append(mirror)
        found = visual.search_many(submission.company_id, submission.environment, queries, radius)
        for variant, per_hash in found.items():
            for mirror, matches in zip(mirrors[variant], per_hash, strict=True):
                for fingerprint_id, distance in matches:
                    if fingerprint_id not in hits or distance < hits[fingerprint_id][0]:
                        hits[fingerprint_id] = (distance, page, variant, mirror)
    if not hits:
        return {}
    rows = (
        PageFingerprint.objects.filter(
            id__in=list(hits),
            company_id=submission.company_id,
            environment=submission.environment,
        )
        .exclude(submission_id=submission.pk)
        .values_list("id", "submission_id", "file_id", "page")
    )
    best: dict[str, VisualHit] = {}
    for fingerprint_id, target_id, target_file, target_page in rows:
        distance, page, variant, mirror = hits[fingerprint_id]
        if target_id not in best or distance < best[target_id].distance:
            best[target_id] = VisualHit(distance, page, variant, target_file, target_page, mirror)
    return best


def _visual_findings(hits: dict[str, VisualHit], policy: FraudPolicy) -> list[Finding]:
    limit = policy.visual_max_distance
    return [
        Finding(
            M.CheckType.VISUAL,
            target_id,
            visual_score(hit.distance, policy.visual_strong_distance, limit),
            round(1.0 - hit.distance / hashing.HASH_BITS, 4),
            {
                "distance": hit.distance,
                "maxDistance": limit,
                "hash": "pdq",
                "variant": hit.variant,
                **({"mirrored": hit.mirrored} if hit.mirrored else {}),
                "file": hit.page.file_id,
                "page": hit.page.page,
                "targetFile": hit.target_file,
                "targetPage": hit.target_page,
            },
        )
        for target_id, hit in hits.items()
        if hit.distance <= limit
    ]


def _local_candidates(
    hits: dict[str, VisualHit],
    findings: list[Finding],
    similarities: dict[str, float],
    same_total: list[str],
    policy: FraudPolicy,
) -> list[str]:
    """What the local-feature check verifies, at most policy.local_max_candidates: the
    submissions another check found, then the text's nearest (OCR of a re-photograph
    misreads digits, but not all), the nearest by hash, and the same total's latest."""
    found = [f.target_id for f in sorted(findings, key=lambda f: -f.score) if f.target_id]
    by_text = sorted(
        (t for t, s in similarities.items() if s >= LOCAL_TEXT_FLOOR),
        key=lambda t: -similarities[t],
    )
    nearest = sorted(hits, key=lambda target: hits[target].distance)
    ordered = list(dict.fromkeys([*found, *by_text, *nearest, *same_total]))
    return ordered[: policy.local_max_candidates]


def _local_findings(
    submission: Submission,
    hashed: list[HashedPage],
    candidates: list[str],
    findings: list[Finding],
    policy: FraudPolicy,
) -> list[Finding]:
    """Verify candidate pairs with keypoints and a homography (fraud.local).

    The verdict joins the pair's visual finding (one piece of image evidence, never two:
    the hash and the keypoints see the same pixels): a verified pair's score is raised to
    the local score, and the reviewer sees the matched region either way.
    """
    own = [page for page in hashed if page.features is not None]
    if not own or not candidates:
        return []
    stored: dict[str, list[tuple[str, int, bytes]]] = defaultdict(list)
    for target_id, file_id, page, data in PageFeatures.objects.filter(
        company_id=submission.company_id,
        submission__environment=submission.environment,
        submission_id__in=candidates,
        version=PageFeatures.VERSION,
    ).values_list("submission_id", "file_id", "page", "data"):
        stored[target_id].append((file_id, page, bytes(data)))
    visual_by_target = {
        f.target_id: f for f in findings if f.check_type == M.CheckType.VISUAL and f.target_id
    }
    added = []
    for target_id, pages in stored.items():
        verdict = _best_verdict(own, pages, policy)
        if verdict is None:
            continue
        page, target_file, target_page, match = verdict
        score = local_score(match, policy)
        details = {**match.details(), "score": score}
        finding = visual_by_target.get(target_id)
        if finding is not None:
            finding.details["local"] = details
            finding.score = max(finding.score, score)
            continue
        if score <= 0:
            continue
        added.append(
            Finding(
                M.CheckType.VISUAL,
                target_id,
                score,
                round(1.0 - match.changed, 4),
                {
                    "method": "orb-homography",
                    "file": page.file_id,
                    "page": page.page,
                    "targetFile": target_file,
                    "targetPage": target_page,
                    "local": details,
                },
            )
        )
    return added


def _clear_other_dates(findings: list[Finding], day: dt.date | None) -> None:
    """A page look-alike (the hash) or a weak text likeness of a receipt read with another
    date counts 0, unless the keypoints verified the same paper or both carry the same
    receipt number: receipts printed on one template (a canteen's lunch, one form on a
    mostly blank sheet) look alike and share most of their digits (phone, tax number,
    prices); a copy keeps its date, unless it was edited, and then its number names it.
    Nor does a date count against a pair found mirrored (hashing.MIRRORS): one of the two
    was read off mirrored print, and a date OCR reads there is junk."""
    if day is None:
        return
    verified = {
        f.target_id
        for f in findings
        if (f.check_type == M.CheckType.VISUAL and f.details.get("local", {}).get("score", 0) > 0)
        or (f.check_type == M.CheckType.VISUAL and "mirrored" in f.details)
        or (f.check_type == M.CheckType.DATA and "receiptNumber" in f.details)
    }
    alike = [
        f
        for f in findings
        if f.target_id
        and f.target_id not in verified
        and (
            f.check_type == M.CheckType.VISUAL
            or (f.check_type == M.CheckType.TEXT and f.details.get("weak"))
        )
    ]
    days = _receipt_days(list({f.target_id for f in alike}))
    for finding in alike:
        other = days.get(finding.target_id)
        if other is not None and other != day:
            finding.details["otherDate"] = {
                "date": day.isoformat(),
                "targetDate": other.isoformat(),
            }
            finding.score = 0.0


def _receipt_days(submission_ids: list[str]) -> dict[str, dt.date]:
    """The date each submission was read (or corrected) with, where it has one."""
    days = {}
    for submission_id, data in Submission.objects.filter(pk__in=submission_ids).values_list(
        "pk", "extracted_data"
    ):
        day = receipt_day(data or {})
        if day is not None:
            days[submission_id] = day
    return days


def _best_verdict(
    own: list[HashedPage], pages: list[tuple[str, int, bytes]], policy: FraudPolicy
) -> tuple[HashedPage, str, int, local.LocalMatch] | None:
    """The best-aligned pair of pages (most inliers) between us and one earlier submission."""
    best = None
    for file_id, number, data in pages:
        try:
            target = local.LocalFeatures.from_bytes(data)
        except (ValueError, zlib.error):
            continue
        for page in own:
            assert page.features is not None
            match = local.verify(
                page.features,
                target,
                min_inliers=policy.local_min_inliers,
                min_coverage=policy.local_min_coverage,
            )
            if match is not None and (best is None or match.inliers > best[3].inliers):
                best = (page, file_id, number, match)
    return best


@dataclass(frozen=True)
class TextPrint:
    """A submission's digit shingles (fraud.textsim) and their MinHash signature."""

    shingles: set[int]
    signature: Any  # numpy uint32 array


def text_print(text: str) -> TextPrint | None:
    """None for text with too few numbers to tell documents apart."""
    shingles = textsim.shingles(text or "")
    if len(shingles) < textsim.MIN_SHINGLES:
        return None
    return TextPrint(shingles, textsim.minhash(shingles))


def _text_similarities(
    submission: Submission, text: TextPrint, also: set[str], pages: Sequence[TextPrint] = ()
) -> dict[str, float]:
    """Text similarity to the LSH candidates and to the submissions other checks found:
    of the whole text, or of one of its `pages` if that is closer. Pages of made-up
    numbers behind an earlier receipt dilute the whole text's Jaccard below any threshold,
    but not its own page's."""
    prints = [text, *pages]
    keys = {key for p in prints for key in textsim.band_keys(p.signature)}
    candidates = set(
        TextBandKey.objects.filter(
            company_id=submission.company_id,
            environment=submission.environment,
            key__in=list(keys),
        )
        .exclude(submission_id=submission.pk)
        .values_list("submission_id", flat=True)
    ) | (also - {submission.pk})
    stored = TextFingerprint.objects.filter(
        company_id=submission.company_id,
        submission__environment=submission.environment,
        submission_id__in=candidates,
        version=TextFingerprint.VERSION,
    ).values_list("submission_id", "shingles")
    similarities = {}
    for target_id, data in stored:
        other = set(textsim.from_bytes(bytes(data)).tolist())
        similarities[target_id] = round(
            max(textsim.similarity(p.shingles, other) for p in prints), 4
        )
    return similarities


def _text_findings(similarities: dict[str, float], policy: FraudPolicy) -> list[Finding]:
    found = []
    for target_id, similarity in similarities.items():
        score = text_score(similarity, policy.text_min_similarity, policy.text_weak_similarity)
        if score > 0:
            details = {"similarity": similarity, "method": "digit-4-shingles-per-line"}
            if similarity < policy.text_min_similarity:
                details["weak"] = True
            found.append(Finding(M.CheckType.TEXT, target_id, score, similarity, details))
    return found


def _store_text(submission: Submission, text: TextPrint) -> None:
    keys = textsim.band_keys(text.signature)
    TextFingerprint.objects.update_or_create(
        submission=submission,
        defaults={
            "company_id": submission.company_id,
            "version": TextFingerprint.VERSION,
            "signature": textsim.to_bytes(text.signature),
            "shingles": textsim.to_bytes(text.shingles),
            "band_keys": keys,
        },
    )
    TextBandKey.objects.filter(submission=submission).delete()
    TextBandKey.objects.bulk_create(
        TextBandKey(
            company_id=submission.company_id,
            environment=submission.environment,
            submission=submission,
            key=key,
        )
        for key in keys
    )


@dataclass(frozen=True)
class DataKey:
    merchant: str
    total: Any  # Decimal
    day: Any  # datetime.date
    time: str  # "HH:MM" or ""
    number: str  # receipt/invoice number or ""


def receipt_day(fields: dict[str, Any]) -> dt.date | None:
    """The date a receipt (`date`) or invoice (`invoiceDate`) was read with, if any."""
    return normalise.date(fields.get("date") or fields.get("invoiceDate"))


def data_key(fields: dict[str, Any]) -> DataKey | None:
    """The normalised fields of the data check; None without merchant, total and date."""
    merchant = normalise.merchant(fields.get("merchantName") or fields.get("vendorName"))
    total = normalise.amount(fields.get("totalAmount"))
    day = receipt_day(fields)
    if not merchant or total is None or day is None:
        return None
    number = fields.get("receiptNumber") or fields.get("invoiceNumber")
    return DataKey(
        merchant, total, day, normalise.time(fields.get("time")), normalise.receipt_number(number)
    )


def data_keys(fields: dict[str, Any], shown: dict[str, Any] | None) -> dict[bool, DataKey]:
    """The data check's readings of a submission, by DataFingerprint.shown: what was read
    (False) and, where a PDF's page shows a checked field otherwise than its text layer
    says, what the page shows (True).

    Both, not the page's alone: what was read is what a reviewer may approve and what
    every honest document is found by, unchanged; the page's is read again by OCR from a
    small box, and a misread of an honest page must not cost it its fingerprint. An
    edited copy is the same receipt claimed twice whichever reading finds it."""
    readings = {False: data_key(fields), True: shown_key(fields, shown)}
    return {shown: key for shown, key in readings.items() if key is not None}


def shown_key(fields: dict[str, Any], shown: dict[str, Any] | None) -> DataKey | None:
    """The data check's fields as a PDF's page shows them: ``fields`` with the checked
    ones whose page shows otherwise than the text layer says replaced by what it shows
    (``shown``, jobs.extraction.shown.shown_fields); None where none is, or the page
    shows nothing the data check tells apart."""
    if not shown:
        return None
    key = data_key({**fields, **shown})
    return key if key != data_key(fields) else None


def _data_findings(
    submission: Submission, keys: dict[bool, DataKey], policy: FraudPolicy
) -> list[Finding]:
    """The data check's findings for each reading of ``keys`` (by DataFingerprint.shown),
    against every reading stored: one per target, the strongest (combine() adds up the
    findings of a pair, and the same receipt found twice is one piece of evidence)."""
    best: dict[str | None, Finding] = {}
    for shown, key in keys.items():
        for finding in _key_findings(submission, key, policy):
            if shown:
                finding.details["shown"] = True  # what the page shows, not its text layer
            held = best.get(finding.target_id)
            if held is None or finding.score > held.score:
                best[finding.target_id] = finding
    return list(best.values())


def _key_findings(submission: Submission, key: DataKey, policy: FraudPolicy) -> list[Finding]:
    window = timedelta(days=policy.data_window_days)
    near = Q(date__range=(key.day - window, key.day + window))
    if key.time:  # the same minute on a date OCR may have misread (see _data_finding)
        near |= Q(time=key.time)
    wanted = Q(near, total=key.total)
    if normalise.distinctive_number(key.number):
        # Whatever its date and total: an edited copy keeps what the editor left alone.
        wanted |= Q(receipt_number=key.number)
    rows = (
        DataFingerprint.objects.filter(
            wanted, company_id=submission.company_id, environment=submission.environment
        )
        .exclude(submission_id=submission.pk)
        .values_list(
            "submission_id", "merchant", "total", "date", "time", "receipt_number", "shown"
        )
    )
    found = [_data_finding(key, row, policy) for row in rows]
    return [f for f in found if f is not None]


def _data_finding(key: DataKey, row: tuple, policy: FraudPolicy) -> Finding | None:
    """A similar merchant with the same total on a near date, or with the same receipt
    number; None when neither is the case.

    The same distinctive receipt number at one shop names one receipt: strong whatever
    the date and total say (an earlier receipt with its date and total edited keeps what
    the editor left alone). See _near_date_score for the same total.
    """
    target_id, merchant, target_total, target_day, target_time, target_number, shown = row
    likeness = normalise.merchant_similarity(key.merchant, merchant)
    if likeness < policy.data_merchant_similarity:
        return None
    days = abs((target_day - key.day).days)
    details = {
        "merchant": key.merchant,
        "targetMerchant": merchant,
        "merchantSimilarity": round(likeness, 3),
        "total": str(key.total),
        "date": key.day.isoformat(),
        "targetDate": target_day.isoformat(),
        "daysApart": days,
    }
    if shown:
        details["targetShown"] = True  # what the target's page shows, not its text layer
    score = 0.0
    if target_total == key.total:
        score = _near_date_score(key, target_day, target_time, target_number, policy, details)
    if normalise.distinctive_number(key.number) and key.number == target_number:
        details["receiptNumber"] = key.number
        details["targetTotal"] = str(target_total)
        score = max(score, policy.data_same_number_score)
    if score <= 0:
        return None
    similarity = max(0.0, 1.0 - days / 366)
    return Finding(M.CheckType.DATA, target_id, score, similarity, details)


def _near_date_score(
    key: DataKey,
    target_day: dt.date,
    target_time: str,
    target_number: str,
    policy: FraudPolicy,
    details: dict[str, Any],
) -> float:
    """The score of the same total and merchant on the target's date, 0 when too far
    apart; what decided it goes into `details`.

    The same minute with the receipt numbers not in conflict is strong on the same day,
    and weak (as at the window's edge) on a date one digit away: OCR misreads a digit of
    a faded date ("2010-03-20" for "2018-03-20") far more often than a shop sells the
    same total at the same minute on another date.
    """
    days = abs((target_day - key.day).days)
    same_minute = (
        bool(key.time)
        and key.time == target_time
        and not normalise.numbers_conflict(key.number, target_number)
    )
    misread = days > policy.data_window_days
    if misread and not (same_minute and normalise.one_digit_apart(key.day, target_day)):
        return 0.0
    if same_minute:
        details["time"] = key.time
    if misread:
        details["dateMisread"] = True
        return data_score(policy.data_window_days, policy.data_window_days)
    if same_minute and days == 0:
        return policy.data_same_time_score
    return data_score(days, policy.data_window_days)


def _store_data(submission: Submission, key: DataKey, *, shown: bool = False) -> None:
    DataFingerprint.objects.update_or_create(
        submission=submission,
        shown=shown,
        defaults={
            "company_id": submission.company_id,
            "environment": submission.environment,
            "merchant": key.merchant,
            "total": key.total,
            "date": key.day,
            "time": key.time,
            "receipt_number": key.number,
        },
    )


def _store_data_keys(submission: Submission, keys: dict[bool, DataKey]) -> None:
    for shown, key in keys.items():
        _store_data(submission, key, shown=shown)
    if True not in keys:  # a run before found the page showing otherwise; this one not
        DataFingerprint.objects.filter(submission=submission, shown=True).delete()


def _same_total(submission: Submission, keys: Iterable[DataKey]) -> list[str]:
    """The latest submissions with the same total (as read, or as a page shows it),
    whatever their date or merchant (OCR misreads both more often than the total)."""
    latest = (
        DataFingerprint.objects.filter(
            company_id=submission.company_id,
            environment=submission.environment,
            total__in=[key.total for key in keys],
        )
        .exclude(submission_id=submission.pk)
        .order_by("-id")
        .values_list("submission_id", flat=True)
    )
    # Two rows of one submission (DataFingerprint.shown) are one candidate.
    return list(dict.fromkeys(latest[: LOCAL_SAME_TOTAL * 2]))[:LOCAL_SAME_TOTAL]


def _read_file(file: SubmissionFile) -> bytes | None:
    try:
        with default_storage.open(file.storage_key, "rb") as handle:
            return handle.read()
    except Exception:  # noqa: BLE001 - purged or missing: nothing to inspect
        return None


def _tampering_finding(
    submission: Submission, fields: dict[str, Any], policy: FraudPolicy
) -> Finding | None:
    report = tampering.TamperingReport()
    files = {f.pk: f for f in submission.files.all()}
    for file in files.values():
        data = _read_file(file)
        if data is None:
            continue
        if file.mime_type == "application/pdf":  # sniffed: %PDF- may follow a few bytes
            meta = tampering.pdf_metadata(data)
        else:
            meta = tampering.image_metadata(data)
            tampering.check_synthetic(report, data, file.pk)
        meta |= {f"exif.{k}": str(v) for k, v in (file.exif or {}).items() if k == "Software"}
        tampering.check_metadata(report, meta, file.pk)
    tampering.check_arithmetic(report, fields, policy.tampering_arithmetic_score)
    if not report.signals:
        return None
    details = {"signals": report.signals}
    return Finding(M.CheckType.TAMPERING, None, report.score, report.score / 100.0, details)


def _write_matches(submission: Submission, findings: list[Finding], policy: FraudPolicy) -> None:
    """Store the findings of every pair whose combined evidence reaches the flag threshold.

    Weak findings (a mid-range visual distance, same merchant and total) are kept only when
    other evidence about the same pair adds up with them.
    """
    by_target: dict[str | None, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_target[finding.target_id].append(finding)
    targets = {t for t in by_target if t}
    forgiven = _false_positive_partners(submission.pk, targets) | _never_decided(targets)
    known = set(
        KnownFraud.objects.filter(
            company_id=submission.company_id,
            environment=submission.environment,
            submission_id__in=targets,
        ).values_list("submission_id", flat=True)
    )
    for target_id, pair in by_target.items():
        if target_id is None:
            for finding in pair:
                if finding.score >= policy.flag_threshold:
                    _store_unpaired(submission, finding)
            continue
        if target_id in forgiven:
            continue
        # Known fraud upgrades a match to a block, but weak look-alike evidence (another
        # receipt of the same shop) must still add up to a flag first.
        if combine([f.score for f in pair]) < policy.flag_threshold:
            continue
        for finding in pair:
            status, score = M.Status.FLAG, finding.score
            if target_id in known:
                # Matches a document a reviewer confirmed as fraud: block at once.
                status, score = M.Status.BLOCK, 100.0
                finding.details["knownFraud"] = True
            match_pair(
                company_id=submission.company_id,
                submission_id=submission.pk,
                other_id=target_id,
                check_type=finding.check_type,
                score=score,
                similarity=finding.similarity,
                status=status,
                details=finding.details,
            )


def _store_unpaired(submission: Submission, finding: Finding) -> None:
    M.objects.get_or_create(
        submission=submission,
        target_submission=None,
        check_type=finding.check_type,
        defaults={
            "company_id": submission.company_id,
            "score": finding.score,
            "similarity": finding.similarity,
            "details": finding.details,
        },
    )


# Ended with nothing decided on them (nothing paid): they match nothing, and a check of
# one that ended meanwhile flags nothing; a match found on one before it ended is
# withdrawn (fraud_matches_withdraw). A rejected one was a claim, refused: it still is.
ENDED_UNDECIDED = (SubmissionStatus.FAILED, SubmissionStatus.CANCELLED)


def _never_decided(targets: set[str]) -> set[str]:
    """Targets that failed or were cancelled: sending the same files again is how a
    retryable failure is retried (docs/api.md)."""
    ended = Submission.objects.filter(pk__in=targets, status__in=ENDED_UNDECIDED)
    return set(ended.values_list("pk", flat=True))


def _false_positive_partners(submission_id: str, targets: set[str]) -> set[str]:
    partners = set()
    for target in targets:
        first, second = _ordered_pair(submission_id, target)
        if FalsePositivePair.objects.filter(first_id=first, second_id=second).exists():
            partners.add(target)
    return partners


def fraud_run_checks(
    *,
    submission_id: str,
    fields: dict[str, Any],
    text: str,
    pages: Sequence[PageImage] = (),
    hashed: list[HashedPage] | None = None,
    page_texts: Sequence[str] = (),
    shown: dict[str, Any] | None = None,
) -> FraudOutcome:
    """Run the checks for one submission and store its fraud score and status.

    `pages` (or `hashed`, their hash_page results, e.g. what fraud_record_fingerprints
    returned: the pages are not hashed twice), `fields` and `text` feed the visual, data
    and text checks; `page_texts` (the text of each page, of which `text` is the join)
    lets the text check compare each page on its own too. `shown` holds the checked
    fields a PDF's page shows otherwise than its text layer says, as the page shows
    them (jobs.extraction.shown.shown_fields): the data check compares and keeps those
    values too, beside what was read.
    """
    submission = Submission.objects.select_related("workflow_version").get(pk=submission_id)
    policy = FraudPolicy.from_json(submission.workflow_version.fraud_policy)
    # The slow parts run before the lock: hashing, MinHash, reading files for metadata.
    # Fingerprints are stored even when a check is off for this workflow, so submissions
    # of the company's other workflows can still be matched against this one.
    if hashed is None:
        hashed = hash_pages(pages)
    text_fp = text_print(text)
    # One page's own print only when there are several: a single page's is text_fp.
    page_fps = [p for t in page_texts if (p := text_print(t))] if len(page_texts) > 1 else []
    keys = data_keys(fields or {}, shown)
    tampered = _tampering_finding(submission, fields or {}, policy) if policy.tampering else None
    with transaction.atomic():
        _lock_company(submission.company_id)
        if _ended_meanwhile(submission_id):
            # Cancelled while this waited for the lock or hashed: nothing is flagged on a
            # submission nobody will decide (the pipeline stops at its next step).
            return outcome_for(submission_id)
        findings = _duplicate_findings(submission, policy)
        hits: dict[str, VisualHit] = {}
        if hashed:
            if policy.visual:
                # Search first, then store: the index never holds this transaction's rows.
                radius = max(policy.visual_max_distance, policy.local_candidate_distance)
                hits = _visual_hits(submission, hashed, radius)
                findings += _visual_findings(hits, policy)
                repeated = _repeated_page_finding(submission, hashed, policy)
                if repeated is not None:
                    findings.append(repeated)
            _store_pages(submission, hashed)
        if keys and policy.data:
            findings += _data_findings(submission, keys, policy)
        _store_data_keys(submission, keys)
        similarities: dict[str, float] = {}
        if text_fp is not None:
            if policy.text:
                # Also the pairs the other checks found: weak text adds up with them.
                others = {f.target_id for f in findings if f.target_id}
                similarities = _text_similarities(submission, text_fp, others, page_fps)
                findings += _text_findings(similarities, policy)
            _store_text(submission, text_fp)
        if policy.visual and policy.local and hashed:
            same_total = _same_total(submission, keys.values()) if keys else []
            candidates = _local_candidates(hits, findings, similarities, same_total, policy)
            findings += _local_findings(submission, hashed, candidates, findings, policy)
        if policy.visual_other_date:
            _clear_other_dates(findings, receipt_day(fields or {}))
        if tampered is not None:
            findings.append(tampered)
        _write_matches(submission, findings, policy)
        return _store_outcome(submission_id)


def _ended_meanwhile(submission_id: str) -> bool:
    """Cancelled or failed, read under the row lock so a cancel waits for these checks."""
    return locked_submission(submission_id=submission_id).status in ENDED_UNDECIDED


def outcome_for(submission_id: str) -> FraudOutcome:
    """Fraud score and status from the unresolved-or-confirmed matches and the policy
    (a false positive or a withdrawn match counts for nothing).

    Evidence about the same pair (e.g. visual and data) adds up; different pairs do not
    (the score is the strongest pair). Every stored match is at least a flag; a block
    match or a score at the block threshold blocks.
    """
    submission = Submission.objects.select_related("workflow_version").get(pk=submission_id)
    policy = FraudPolicy.from_json(submission.workflow_version.fraud_policy)
    matches = list(
        M.objects.filter(submission_id=submission_id).exclude(
            resolution__in=[M.Resolution.FALSE_POSITIVE, M.Resolution.WITHDRAWN]
        )
    )
    by_pair: dict[str | None, list[float]] = defaultdict(list)
    for match in matches:
        by_pair[match.target_submission_id].append(match.score)
    score = max((combine(scores) for scores in by_pair.values()), default=0.0)
    if any(m.status == M.Status.BLOCK for m in matches) or (
        matches and score >= policy.block_threshold
    ):
        status = FraudStatus.BLOCKED
    elif matches:
        status = FraudStatus.FLAGGED
    else:
        status = FraudStatus.CLEAN
    confirmed = sum(m.resolution == M.Resolution.CONFIRMED_FRAUD for m in matches)
    return FraudOutcome(
        status=status,
        score=round(score, 2),
        match_count=len(matches),
        confirmed_count=confirmed,
    )


def _store_outcome(submission_id: str) -> FraudOutcome:
    outcome = outcome_for(submission_id)
    Submission.objects.filter(pk=submission_id).update(
        fraud_status=outcome.status, fraud_score=outcome.score
    )
    return outcome


def fraud_forget_results(*, submission_id: str, company_id: str) -> None:
    """Retention: drop what the fraud checks keep of a purged submission's content.

    - the receipt content in every match on either side of its pairs (the matches, their
      scores and resolutions stay);
    - its pages' local features, whose print bitmap is a readable copy of the page;
    - its data fingerprint (merchant, total, date, time and receipt number in plain).

    Its page hashes and text shingles stay, so a later upload of the same receipt is
    still caught. Taken under the company's fraud lock: a check running at the same
    moment waits for the purge and then finds the submission purged (match_pair).
    """
    with transaction.atomic():
        _lock_company(company_id)
        PageFeatures.objects.filter(submission_id=submission_id).delete()
        DataFingerprint.objects.filter(submission_id=submission_id).delete()
        matches = M.objects.select_for_update().filter(
            Q(submission_id=submission_id) | Q(target_submission_id=submission_id)
        )
        for match in matches:
            kept = without_keys(match.details, RESULT_DETAILS)
            if kept != match.details:
                match.details = kept
                match.save(update_fields=["details"])


def fraud_refresh(*, submission_id: str, reason: dict[str, Any]) -> FraudOutcome:
    """Recompute a processed submission's fraud status after its matches changed."""
    with transaction.atomic():
        submission = locked_submission(submission_id=submission_id)
        before = submission.fraud_status
        outcome = outcome_for(submission_id)
        submission.fraud_status = outcome.status
        submission.fraud_score = outcome.score
        save_new_version(submission, ["fraud_status", "fraud_score"])
        record_event(
            submission=submission,
            type=EventType.FRAUD_STATUS_CHANGED,
            actor=Actor.system(),
            details={"from": before, "to": outcome.status, **reason},
        )
    return outcome


class FraudMatchError(SubmissionActionError):
    """A refused resolution of a fraud match (a 409, like any refused action)."""


def fraud_match_resolve(
    *,
    submission_id: str,
    match_id: str,
    resolution: str,
    actor: Actor,
    user: Any = None,
    reason: str = "",
    expected_version: int | None = None,
    page_version: int | None = None,
) -> FraudMatch:
    """Resolve one match (the API's unit); the review page resolves a pair's together."""
    [match] = fraud_matches_resolve(
        submission_id=submission_id,
        match_ids=[match_id],
        resolution=resolution,
        actor=actor,
        user=user,
        reason=reason,
        expected_version=expected_version,
        page_version=page_version,
    )
    return match


def _locked_for_resolution(
    submission_id: str,
    actor: Actor,
    expected_version: int | None,
    page_version: int | None,
    match_ids: list[str],
) -> Submission:
    """The submission, row-locked, refusing a stale version (`expected_version`: any
    change since; `page_version`, the review desk panel's: a change to what a resolution
    or undo of `match_ids` depends on) or another reviewer's claim."""
    submission = locked_submission(
        submission_id=submission_id, expected_version=expected_version, actor=actor
    )
    if page_version is not None:
        refuse_stale_resolution(
            submission, match_ids=match_ids, page_version=page_version, actor=actor
        )
    refuse_others_claim(submission, actor)
    return submission


def refuse_stale_resolution(
    submission: Submission, *, match_ids: list[str], page_version: int, actor: Actor
) -> None:
    """The review desk panel's optimistic lock for a resolution or undo of `match_ids`
    from a panel drawn at `page_version`: refused (409 SUBMISSION_CHANGED) only when what
    it depends on changed since: the state or the claim (refuse_stale_page: status,
    decision, a fraud status the checks recomputed, purge, the claim changing hands), or
    that pair (every match with the same matched submission) resolved or undone by anyone
    else; withdrawn by Steve, it is refused as withdrawn (FRAUD_MATCH_WITHDRAWN, saying
    the matched submission was cancelled or failed), not as someone else's change. The reviewer's own corrections and own resolutions of other pairs, sent before
    the panel came back with the new version, do not make it stale; neither does anyone
    else's resolution of another pair, which leaves this pair's evidence as it was.

    A resolution made before matches recorded theirs (resolution_version) counts only in
    Submission.fraud_versions: one by anyone else since that no match accounts for is
    refused, as before. Call it with the row locked (locked_submission)."""
    refuse_stale_page(submission, page_version=page_version, actor=actor)
    me = actor_key(actor)
    matches = M.objects.filter(submission_id=submission.pk)
    targets = matches.filter(pk__in=match_ids, target_submission__isnull=False).values(
        "target_submission_id"
    )
    pair = matches.filter(Q(pk__in=match_ids) | Q(target_submission_id__in=targets))
    changed = pair.filter(resolution_version__gt=page_version).exclude(resolution_by=me)
    withdrawn = changed.filter(resolution=M.Resolution.WITHDRAWN).first()
    if withdrawn is not None:
        # Steve's, not another reviewer's: the panel says why nothing is left to resolve.
        raise withdrawn_refusal(submission, withdrawn)
    if changed.exists():
        raise stale_page_refusal(
            submission,
            "This pair was resolved or undone by someone else since you opened it; "
            "review its new state.",
        )
    recorded = set(
        matches.filter(resolution_version__gt=page_version).values_list(
            "resolution_version", flat=True
        )
    )
    others = (submission.fraud_versions or {}).items()
    if any(v > page_version and v not in recorded for who, v in others if who != me):
        raise stale_page_refusal(submission, since=page_version, actor=actor)


def fraud_match_not_found() -> ServiceError:
    """A match that is not (or no longer) on the submission: removed with the other
    submission of its pair, or never there."""
    return ServiceError(
        "FRAUD_MATCH_NOT_FOUND",
        "This fraud match no longer exists (it may have been removed with the other submission).",
        404,
    )


def _locked_matches(submission_id: str, match_ids: list[str]) -> list[FraudMatch]:
    wanted = set(match_ids)
    matches = list(M.objects.select_for_update().filter(pk__in=wanted, submission_id=submission_id))
    if not wanted or len(matches) != len(wanted):
        raise fraud_match_not_found()
    return sorted(matches, key=lambda m: m.pk)


def _refuse_withdrawn(submission: Submission, matches: list[FraudMatch]) -> None:
    """A withdrawn match is closed by Steve: there is nothing to resolve, and nothing a
    reviewer made to undo (a cancel that withdrew it while they looked, say)."""
    withdrawn = next((m for m in matches if m.resolution == M.Resolution.WITHDRAWN), None)
    if withdrawn is not None:
        raise withdrawn_refusal(submission, withdrawn)


def withdrawn_refusal(submission: Submission, match: FraudMatch) -> FraudMatchError:
    """The refusal of a resolution or undo of a match Steve withdrew, saying why: the
    submission it matched was cancelled or failed (which of them) after it was found."""
    ended = (
        Submission.objects.filter(pk=match.target_submission_id)
        .values_list("status", flat=True)
        .first()
    )
    what = {
        SubmissionStatus.CANCELLED: "was cancelled",
        SubmissionStatus.FAILED: "failed",
    }.get(ended, "failed or was cancelled")
    return FraudMatchError(
        "FRAUD_MATCH_WITHDRAWN",
        f"This match was withdrawn by Steve: the submission it matched {what} after it "
        "was found, so it was never a claim. There is nothing to resolve or undo.",
        current_status=submission.status,
    )


def fraud_sentence(status: str, count: int, *, confirmed: int = 0, decided: bool = False) -> str:
    """The summary's sentence about fraud (jobs.pipeline ends every summary with it).

    `count` is the matches that count, `confirmed` how many of them a reviewer confirmed:
    only the others wait for a reviewer, and none can once the submission is `decided`
    (a confirmation rejected it). It said "3 blocked fraud matches; a reviewer must
    resolve them" of a submission its confirmation had rejected."""
    if status == FraudStatus.CLEAN:
        return "No fraud signals."
    left = count - confirmed
    parts = [f"{confirmed} confirmed fraud {_matches(confirmed)}"] if confirmed else []
    if left:
        todo = " left unresolved" if decided else "; a reviewer must resolve them"
        parts.append(f"{left} {status} fraud {_matches(left)}{todo}")
    return "; ".join(parts) + "."


def _matches(count: int) -> str:
    return "match" if count == 1 else "matches"


_CONFIRMED = r"\d+ confirmed fraud match(?:es)?"
_OPEN = (
    r"\d+ (?:flagged|blocked) fraud match(?:es)?"
    r"(?:; a reviewer must resolve them| left unresolved)"
)
_FRAUD_SENTENCE = re.compile(rf"No fraud signals\.|(?:{_CONFIRMED}; )?{_OPEN}\.|{_CONFIRMED}\.")


def _summary_with(summary: str | None, outcome: FraudOutcome, *, decided: bool) -> str | None:
    """`summary` with its one sentence about fraud told anew from `outcome`; None when it
    holds no such sentence, or more than one (then which is Steve's is unclear)."""
    found = list(_FRAUD_SENTENCE.finditer(summary or ""))
    if len(found) != 1:
        return None
    sentence = fraud_sentence(
        outcome.status, outcome.match_count, confirmed=outcome.confirmed_count, decided=decided
    )
    at = found[0]
    return summary[: at.start()] + sentence + summary[at.end() :]


def _bump_outcome(
    submission: Submission, actor: Actor, matches: list[FraudMatch], *, rejects: bool = False
) -> None:
    """The fraud status after `actor`'s resolution or undo of `matches`, and the
    summary's sentence about it: it went on saying "4 blocked fraud matches; a reviewer
    must resolve them" once they were. Saved as that actor's fraud change, on the
    submission and on the matches: it does not make their own correction or resolution
    in flight stale, as anyone else's does (refuse_stale_correction,
    refuse_stale_resolution). `rejects`: a confirmation that rejects the submission next,
    so what is still open is left as it is, not for a reviewer to resolve."""
    outcome = outcome_for(submission.pk)
    submission.fraud_status = outcome.status
    submission.fraud_score = outcome.score
    changed = ["fraud_status", "fraud_score"]
    summary = _summary_with(submission.ai_summary, outcome, decided=rejects)
    if summary is not None:
        submission.ai_summary = summary
        changed.append("ai_summary")
    save_new_version(submission, changed, fraud_resolved=True, by=actor)
    M.objects.filter(pk__in=[m.pk for m in matches]).update(
        resolution_version=submission.version, resolution_by=actor_key(actor)
    )


def fraud_matches_resolve(
    *,
    submission_id: str,
    match_ids: list[str],
    resolution: str,
    actor: Actor,
    user: Any = None,
    reason: str = "",
    expected_version: int | None = None,
    page_version: int | None = None,
) -> list[FraudMatch]:
    """Resolve matches together (one pair's checks): one version step, an event and a
    webhook per match. Confirmed fraud rejects (by policy) with the reviewer's reason.

    `expected_version` refuses any change since; `page_version` (the review desk
    panel's) only one to what the resolution depends on (refuse_stale_resolution)."""
    if resolution not in M.REVIEWER_RESOLUTIONS:
        # `withdrawn` is Steve's alone: it says the other submission was never a claim.
        raise invalid(
            "resolution",
            f"resolution must be one of {', '.join(M.REVIEWER_RESOLUTIONS)}.",
            code="INVALID_RESOLUTION",
        )
    # Shown in the timeline, the API and webhooks, as a reject reason is.
    reason = checked_reason(reason) or ""
    with transaction.atomic():
        submission = _locked_for_resolution(
            submission_id, actor, expected_version, page_version, match_ids
        )
        if submission.status != SubmissionStatus.REVIEW:
            # A decided submission's matches stay as they were decided: a false positive
            # after a confirmation had remembered one pair as both fraud and unrelated.
            raise wrong_status(submission, RESOLVE_FRAUD)
        matches = _locked_matches(submission_id, match_ids)
        _refuse_withdrawn(submission, matches)
        done = next((m for m in matches if m.resolution), None)
        if done is not None:
            raise FraudMatchError(
                "FRAUD_MATCH_ALREADY_RESOLVED",
                f"This match was already resolved as {done.resolution}.",
                current_status=submission.status,
            )
        was_fraud = _confirmed_fraud(submission_id)
        now = timezone.now()
        for match in matches:
            match.resolution = resolution
            match.resolved_by = actor.label
            match.resolved_by_user = user
            match.resolved_at = now
            match.save()
        confirmed = resolution == M.Resolution.CONFIRMED_FRAUD
        _bump_outcome(
            submission, actor, matches, rejects=confirmed and _confirmation_rejects(submission)
        )
        if submission.status == SubmissionStatus.REVIEW:
            hold_for_actor(submission, actor)  # resolving is working on it
        for match in matches:
            details = {"fraudMatchId": match.pk, "resolution": resolution}
            if reason:
                details["reason"] = reason
            event = record_event(
                submission=submission,
                type=EventType.FRAUD_MATCH_RESOLVED,
                actor=actor,
                details=details,
            )
            announce(
                submission=submission,
                event_type=WebhookEventType.SUBMISSION_FRAUD_MATCH_RESOLVED,
                event=event,
            )
            if resolution == M.Resolution.FALSE_POSITIVE and match.target_submission_id:
                _remember_false_positive(match, actor)
        if confirmed:
            _remember_fraud(submission, actor)
            if not was_fraud:  # a forged receipt teaches the correction memory nothing
                merchant_memory_withdraw_submission(submission=submission)
            _reject_confirmed(submission, actor, reason)
    return matches


def _confirmed_fraud(submission_id: str) -> bool:
    return M.objects.filter(
        submission_id=submission_id, resolution=M.Resolution.CONFIRMED_FRAUD
    ).exists()


# A resolution can be taken back this long after it was made, while still in review.
UNDO_WINDOW = timedelta(minutes=5)


def fraud_resolution_undo(
    *,
    submission_id: str,
    match_ids: list[str],
    actor: Actor,
    expected_version: int | None = None,
    page_version: int | None = None,
) -> list[FraudMatch]:
    """Take back a recent resolution of these matches (recorded as an event and
    announced as `submission.fraud_resolution_undone`).

    Only while the submission is still in review: a confirmation that rejected it has
    decided it, and the review page says so before confirming. `expected_version` and
    `page_version` as for fraud_matches_resolve.
    """
    with transaction.atomic():
        submission = _locked_for_resolution(
            submission_id, actor, expected_version, page_version, match_ids
        )
        if submission.status != SubmissionStatus.REVIEW:
            raise wrong_status(submission, UNDO_RESOLUTION)
        matches = _locked_matches(submission_id, match_ids)
        _refuse_withdrawn(submission, matches)
        since = timezone.now() - UNDO_WINDOW
        if any(not m.resolution or not m.resolved_at or m.resolved_at < since for m in matches):
            raise FraudMatchError(
                "UNDO_WINDOW_PASSED",
                "Only a resolution made in the last 5 minutes can be undone.",
                current_status=submission.status,
            )
        previous = {m.resolution for m in matches}
        was_fraud = _confirmed_fraud(submission_id)
        for match in matches:
            _forget_resolution(match)
        if was_fraud and not _confirmed_fraud(submission_id):
            # No longer fraud: its corrections teach again, as they did before.
            merchant_memory_reteach_submission(submission=submission)
        _bump_outcome(submission, actor, matches)
        event = record_event(
            submission=submission,
            type=EventType.FRAUD_RESOLUTION_UNDONE,
            actor=actor,
            details={"fraudMatchIds": [m.pk for m in matches], "resolution": sorted(previous)},
        )
        # Whoever heard "resolved" must hear it was taken back (one event for the pair).
        announce(
            submission=submission,
            event_type=WebhookEventType.SUBMISSION_FRAUD_RESOLUTION_UNDONE,
            event=event,
        )
    return matches


def _forget_resolution(match: FraudMatch) -> None:
    """Clear a match's resolution and what it taught the checks, unless another
    resolution of the same kind still stands for it."""
    resolution = match.resolution
    match.resolution = None
    match.resolved_by = ""
    match.resolved_by_user = None
    match.resolved_at = None
    match.save()
    siblings = M.objects.filter(submission_id=match.submission_id, resolution=resolution)
    pair = match.target_submission_id
    if (
        resolution == M.Resolution.FALSE_POSITIVE
        and pair
        and not siblings.filter(target_submission_id=pair).exists()
    ):
        first, second = _ordered_pair(match.submission_id, pair)
        FalsePositivePair.objects.filter(first_id=first, second_id=second).delete()
    if resolution == M.Resolution.CONFIRMED_FRAUD and not siblings.exists():
        KnownFraud.objects.filter(submission_id=match.submission_id).delete()


def _remember_false_positive(match: FraudMatch, actor: Actor) -> None:
    """The reviewer says these two are unrelated: no later run flags the pair again."""
    first, second = _ordered_pair(match.submission_id, match.target_submission_id)
    FalsePositivePair.objects.get_or_create(
        first_id=first,
        second_id=second,
        defaults={"company_id": match.company_id, "resolved_by": actor.label},
    )


def _remember_fraud(submission: Submission, actor: Actor) -> None:
    """The submission's files join the company's known-fraud list: matches to it block."""
    digests = sorted({f.sha256 for f in submission.files.all() if f.sha256})
    KnownFraud.objects.get_or_create(
        company_id=submission.company_id,
        submission=submission,
        defaults={
            "environment": submission.environment,
            "sha256s": digests,
            "confirmed_by": actor.label,
        },
    )


def _lock_timelines(submission_ids: Iterable[str]) -> None:
    """Lock the submissions an admin's removal writes events on, in primary-key order and
    each after its session (locked_submission), before the rows it removes: the order a
    resolution or an undo takes them (its submission, then what it taught the checks).
    record_event reads each one's last event under that lock; left to it, they were locked
    one by one in the rows' order, and two removals sharing submissions could deadlock. A
    submission deleted meanwhile took its rows with it."""
    for submission_id in sorted(set(submission_ids)):
        try:
            locked_submission(submission_id=submission_id)
        except Submission.DoesNotExist:
            continue


def known_frauds_remove(*, known_fraud_ids: Sequence[int], actor: Actor) -> list[KnownFraud]:
    """Take submissions off the company's known-fraud list (the admin's deletion): a later
    upload matching one of their files is no longer blocked at once, only scored as any
    other. Every change of what the checks do with a submission is on its timeline: each
    is a `known_fraud_removed` event by `actor` (not announced: the match keeps the
    resolution its reviewer made). Rows removed meanwhile (by another operator, an undo)
    are skipped; returns those this removed."""
    with transaction.atomic():
        _lock_timelines(
            KnownFraud.objects.filter(pk__in=known_fraud_ids).values_list(
                "submission_id", flat=True
            )
        )
        rows = list(
            KnownFraud.objects.select_for_update(of=("self",))
            .select_related("submission")
            .filter(pk__in=known_fraud_ids)
            .order_by("pk")  # every caller locks them in one order
        )
        for row in rows:
            record_event(
                submission=row.submission,
                type=EventType.KNOWN_FRAUD_REMOVED,
                actor=actor,
                details={"confirmedBy": row.confirmed_by},
            )
        KnownFraud.objects.filter(pk__in=[row.pk for row in rows]).delete()
    return rows


def false_positive_pairs_remove(
    *, pair_ids: Sequence[int], actor: Actor
) -> list[FalsePositivePair]:
    """Forget pairs a reviewer declared unrelated (the admin's deletion): the checks may
    flag them again. Recorded on both submissions' timelines as `false_positive_removed`
    events by `actor`, naming the other submission (not announced, as
    known_frauds_remove). Pairs removed meanwhile are skipped; returns those this
    removed."""
    with transaction.atomic():
        ends = FalsePositivePair.objects.filter(pk__in=pair_ids).values_list(
            "first_id", "second_id"
        )
        _lock_timelines(submission_id for pair in ends for submission_id in pair)
        pairs = list(
            FalsePositivePair.objects.select_for_update(of=("self",))
            .select_related("first", "second")
            .filter(pk__in=pair_ids)
            .order_by("pk")
        )
        for pair in pairs:
            for this, other in ((pair.first, pair.second), (pair.second, pair.first)):
                record_event(
                    submission=this,
                    type=EventType.FALSE_POSITIVE_REMOVED,
                    actor=actor,
                    details={"otherSubmissionId": other.pk, "resolvedBy": pair.resolved_by},
                )
        FalsePositivePair.objects.filter(pk__in=[pair.pk for pair in pairs]).delete()
    return pairs


def _confirmation_rejects(submission: Submission) -> bool:
    """Whether confirming fraud on `submission` rejects it (its policy, while in review)."""
    policy = FraudPolicy.from_json(submission.workflow_version.fraud_policy)
    return policy.reject_on_confirmed_fraud and submission.status == SubmissionStatus.REVIEW


def _reject_confirmed(submission: Submission, actor: Actor, reason: str = "") -> None:
    if not _confirmation_rejects(submission):
        return
    # Without a reason (the API's may be left out), say who confirmed it: "a reviewer"
    # read as if a person had, when an integrator's key did. An actor's label hides no
    # text (Actor.for_api_key writes a hidden character out; usernames have none), so
    # the reason is never refused over a name the caller did not choose.
    reason = reason or f"Confirmed fraud by {actor.label}."
    submission_reject(submission_id=submission.pk, actor=actor, reason=reason)


# A match is withdrawn only while its submission's decision is ahead or waits for a
# reviewer; one approved, rejected or cancelled keeps its matches as they were decided.
WITHDRAWABLE = (SubmissionStatus.PROCESSING, SubmissionStatus.REVIEW)


def fraud_matches_withdraw(*, submission_id: str, target_id: str) -> list[FraudMatch]:
    """Withdraw the open matches of `submission_id` against `target_id`, which failed or
    was cancelled after they were found: it was never a claim (ENDED_UNDECIDED), so
    nothing is duplicated. They close as `withdrawn` (by Steve), the fraud status and the
    summary's sentence are recomputed as after a reviewer's last resolution
    (_bump_outcome: a submission with nothing left stays in review, clean, for a
    reviewer to approve), with one event for the pair, announced as
    `submission.fraud_match_withdrawn`.

    Matches a reviewer resolved stay as resolved; a decided submission is left alone.
    Read again under the submission's row lock, so it is a no-op when a resolution got
    there first, and a resolution that waited for it is refused (_refuse_withdrawn)."""
    with transaction.atomic():
        submission = locked_submission(submission_id=submission_id)
        target_status = (
            Submission.objects.filter(pk=target_id).values_list("status", flat=True).first()
        )
        if submission.status not in WITHDRAWABLE or target_status not in ENDED_UNDECIDED:
            return []
        matches = list(
            M.objects.select_for_update()
            .filter(submission_id=submission_id, target_submission_id=target_id)
            .filter(resolution__isnull=True)
            .order_by("pk")
        )
        if not matches:
            return []
        actor, now = Actor.system(), timezone.now()
        for match in matches:
            match.resolution = M.Resolution.WITHDRAWN
            match.resolved_by = actor.label
            match.resolved_by_user = None
            match.resolved_at = now
            match.save()
        _bump_outcome(submission, actor, matches)
        event = record_event(
            submission=submission,
            type=EventType.FRAUD_MATCH_WITHDRAWN,
            actor=actor,
            details={
                "fraudMatchIds": [m.pk for m in matches],
                "targetSubmissionId": target_id,
                "targetStatus": target_status,
            },
        )
        announce(
            submission=submission,
            event_type=WebhookEventType.SUBMISSION_FRAUD_MATCH_WITHDRAWN,
            event=event,
        )
    return matches


# The most pairs one run of beat's withdrawal sweep withdraws.
WITHDRAW_BATCH = 200


def fraud_matches_withdraw_missed(*, limit: int = WITHDRAW_BATCH) -> int:
    """Beat: withdraw the open matches the end of their matched submission left open,
    bounded per run, safe to run twice (or beside the commit's own withdrawal); returns
    how many pairs it withdrew.

    The commit's withdrawal (_withdraw_matches_against) runs after the cancel or failure
    commits, in a transaction of its own: a process killed in between, or a withdrawal
    that raised (robust, only logged), left the carrier waiting in review, blocked, for a
    duplicate of nothing, for good. This finds such pairs (an open match, its target
    failed or cancelled, its carrier still processing or in review) and runs each through
    fraud_matches_withdraw, which reads them again under the carrier's row lock: a pair
    withdrawn or resolved meanwhile is left as it is. Oldest first; those it raised on
    last (a batch of them never fills every run)."""
    due = (
        M.objects.filter(
            resolution__isnull=True,
            target_submission__status__in=ENDED_UNDECIDED,
            submission__status__in=WITHDRAWABLE,
        )
        .values("submission_id", "target_submission_id")
        .annotate(failed_at=Max("withdraw_failed_at"), first=Min("pk"))
        .order_by(F("failed_at").asc(nulls_first=True), "first")
        .values_list("submission_id", "target_submission_id")[:limit]
    )
    counts = sweep_rows(
        "withdraw-fraud-matches",
        list(due),
        lambda pair: bool(fraud_matches_withdraw(submission_id=pair[0], target_id=pair[1])),
        failed=_withdraw_failed,
    )
    return counts[str(True)]


def _withdraw_failed(pair: tuple[str, str]) -> None:
    M.objects.filter(
        submission_id=pair[0], target_submission_id=pair[1], resolution__isnull=True
    ).update(withdraw_failed_at=timezone.now())


def _withdraw_matches_against(
    sender: object, *, submission: Submission, to_status: str, **_: Any
) -> None:
    """`submission` just failed or was cancelled: once that commits, the open matches
    found against it are withdrawn from the submissions that carry them, each in a
    transaction of its own (fraud_matches_withdraw).

    Not in the transition's transaction: it holds this submission's row (and its
    session's), and locking a carrier from there deadlocks with what holds the carrier
    and waits for this row: the carrier's running checks (fraud._carrier locks the
    other), a reviewer's false positive on it (the remembered pair's foreign key waits
    for this row). After the commit it waits for them and then reads what they left: a
    match resolved meanwhile stays resolved. Robust: a failure there is logged, and the
    change, committed by then, still answers; beat's sweep (fraud_matches_withdraw_missed)
    withdraws what a failure, or a process killed before this ran, left open."""
    if to_status not in ENDED_UNDECIDED:
        return
    carriers = (
        M.objects.filter(
            target_submission_id=submission.pk,
            resolution__isnull=True,
            submission__status__in=WITHDRAWABLE,
        )
        .values_list("submission_id", flat=True)
        .distinct()
        .order_by("submission_id")
    )
    for carrier in carriers:
        transaction.on_commit(_withdrawal(carrier, submission.pk), robust=True)


def _summary_after_decision(
    sender: object, *, submission: Submission, to_status: str, **_: Any
) -> None:
    """`submission` was rejected or cancelled with matches still open: no reviewer can
    resolve them any more (SUBMISSION_IS_REJECTED), but its summary went on saying "2
    blocked fraud matches; a reviewer must resolve them." Told as left unresolved, in the
    change's transaction and version: the summary of a decided submission, not a change
    of its own."""
    if to_status not in (SubmissionStatus.REJECTED, SubmissionStatus.CANCELLED):
        return
    summary = _summary_with(submission.ai_summary, outcome_for(submission.pk), decided=True)
    if summary is not None and summary != submission.ai_summary:
        submission.ai_summary = summary
        Submission.objects.filter(pk=submission.pk).update(ai_summary=summary)


def _withdrawal(carrier: str, target_id: str) -> Callable[[], object]:
    """The on-commit withdrawal of `carrier`'s matches against `target_id`: a function,
    not a functools.partial, because Django logs a robust callback that raised by its
    __qualname__, which a partial has not; the log line raised AttributeError out of the
    committed cancel (a 500 for a cancel that stood) and dropped the callbacks queued
    after it, the other carriers' withdrawals among them."""

    def withdraw_matches_after_commit() -> object:
        return fraud_matches_withdraw(submission_id=carrier, target_id=target_id)

    return withdraw_matches_after_commit


def connect_matches_to_submissions() -> None:
    """Whatever fails or cancels a submission (a cancel by API, page or admin, the
    expiry of its session, a processing failure) withdraws the matches against it; a
    rejection or cancel tells its own open matches as left unresolved."""
    submission_changed.connect(_withdraw_matches_against, dispatch_uid="fraud.withdraw_matches")
    submission_changed.connect(_summary_after_decision, dispatch_uid="fraud.summary_decided")
