"""``manage.py fraud_refingerprint [--company ID] [--pages] [--batch N]``.

Brings fingerprints stored before the current algorithms up to date, so earlier
submissions are found again:

- text (always): version-1 rows (MinHash of character shingles) and missing rows are
  recomputed from Submission.pages_text as digit shingles (fraud.textsim);
- data (always): rows without time or receipt number get them from extracted_data;
  submissions checked without keeping a row (an invoice before its date was read as
  invoiceDate: none had a data key) get theirs from extracted_data; results purged are
  not read;
- shown (always): submissions whose evidence says a PDF's page shows a checked field
  otherwise than its text layer (a box's ``shown``), checked before the data check
  compared what a page shows, get their row of it (DataFingerprint.shown) from
  extracted_data and that evidence, as the pipeline hands them to the checks
  (jobs.extraction.shown.shown_fields); results purged are not read;
- pages (--pages): submissions that still have v1 page views ("content"/"paper") are
  re-hashed as the v2 views (fraud.hashing) from their stored files, and the v1 rows
  dropped. The files are opened and deskewed as OCR does (jobs.extraction load_document
  and ocr.deskew), without OCR itself; a page OCR had turned upside down is hashed as
  uploaded. Submissions hashed before the local-feature check (no PageFeatures rows) get
  their keypoints the same way. Files a retention purge withdrew are not read, though
  their bytes may still be stored.

Rows are written under the company's advisory lock, like the checks write them, so the
per-process visual indexes stay exact. Safe to run again: finished submissions are skipped.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.db.models import Prefetch, Q, TextField
from django.db.models.functions import Cast

from fraud.models import DataFingerprint, PageFeatures, PageFingerprint, TextFingerprint
from fraud.services import (
    DataKey,
    HashedPage,
    PageImage,
    _lock_company,
    _store_data,
    _store_pages,
    _store_text,
    data_key,
    hash_pages,
    shown_key,
    text_print,
)
from submissions.models import Submission, SubmissionFile

LEGACY_VARIANTS = [PageFingerprint.Variant.CONTENT, PageFingerprint.Variant.PAPER]


class Command(BaseCommand):
    help = "Recompute text, data and (with --pages) page fingerprints stored by older versions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", default=None, help="only this company's submissions")
        parser.add_argument("--pages", action="store_true", help="also re-hash v1 page views")
        parser.add_argument("--batch", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        submissions = Submission.objects.all()
        if options["company"]:
            submissions = submissions.filter(company_id=options["company"])
        text = self._text(submissions, options["batch"])
        data = self._data(submissions, options["batch"])
        data += self._missing_data(submissions, options["batch"])
        shown = self._shown(submissions, options["batch"])
        pages = self._pages(submissions) if options["pages"] else 0
        self.stdout.write(
            f"text: {text}, data: {data}, shown: {shown}, pages: {pages} submissions updated"
        )

    def _text(self, submissions: Any, batch: int) -> int:
        current = TextFingerprint.objects.filter(version=TextFingerprint.VERSION)
        todo = submissions.exclude(pk__in=current.values("submission_id")).exclude(pages_text=[])
        done = 0
        for submission in todo.only("id", "company_id", "pages_text").iterator(chunk_size=batch):
            fingerprint = text_print("\n".join(submission.pages_text or []))
            with transaction.atomic():
                _lock_company(submission.company_id)
                if fingerprint is None:
                    TextFingerprint.objects.filter(submission=submission).delete()
                else:
                    _store_text(submission, fingerprint)
            done += 1
        return done

    def _data(self, submissions: Any, batch: int) -> int:
        stale = DataFingerprint.objects.filter(time="", receipt_number="")
        todo = submissions.filter(pk__in=stale.values("submission_id"))
        done = 0
        for submission in todo.only("id", "company_id", "extracted_data").iterator(
            chunk_size=batch
        ):
            key = data_key(submission.extracted_data or {})
            if key is None or not (key.time or key.number):
                continue
            with transaction.atomic():
                _lock_company(submission.company_id)
                _store_data(submission, key)
            done += 1
        return done

    def _missing_data(self, submissions: Any, batch: int) -> int:
        read = DataFingerprint.objects.filter(shown=False).values("submission_id")
        todo = (
            submissions.filter(fraud_status__isnull=False, results_purged_at__isnull=True)
            .exclude(extracted_data=None)
            .exclude(pk__in=read)
        )
        done = 0
        for submission in todo.only("id", "company_id", "environment", "extracted_data").iterator(
            chunk_size=batch
        ):
            key = data_key(submission.extracted_data or {})
            if key is not None and _store_unless_purged(submission, key, shown=False):
                done += 1
        return done

    def _shown(self, submissions: Any, batch: int) -> int:
        from jobs.extraction.shown import shown_fields

        kept = DataFingerprint.objects.filter(shown=True).values("submission_id")
        todo = (
            submissions.filter(results_purged_at__isnull=True)
            .exclude(pk__in=kept)
            .annotate(evidence_text=Cast("evidence", TextField()))
            .filter(evidence_text__contains='"shown":')
        )
        done = 0
        for submission in todo.only(
            "id", "company_id", "environment", "extracted_data", "evidence"
        ).iterator(chunk_size=batch):
            fields = submission.extracted_data or {}
            key = shown_key(fields, shown_fields(fields, submission.evidence or {}))
            if key is not None and _store_unless_purged(submission, key, shown=True):
                done += 1
        return done

    def _pages(self, submissions: Any) -> int:
        from jobs.extraction import load_document
        from jobs.extraction.ocr import deskew

        legacy = PageFingerprint.objects.filter(variant__in=LEGACY_VARIANTS)
        hashed_pages = PageFingerprint.objects.values("submission_id")
        with_features = PageFeatures.objects.values("submission_id")
        todo = submissions.filter(
            Q(pk__in=legacy.values("submission_id"))
            | (Q(pk__in=hashed_pages) & ~Q(pk__in=with_features))
        ).prefetch_related(Prefetch("files", queryset=_offered()))
        done = 0
        for submission in todo.iterator(chunk_size=50):
            pages: list[PageImage] = []
            for file in submission.files.all():
                try:
                    with default_storage.open(file.storage_key, "rb") as handle:
                        document = load_document(handle.read(), password=None)
                except Exception as exc:  # noqa: BLE001 - purged, missing or unreadable
                    self.stderr.write(f"{submission.pk}: file {file.pk} skipped ({exc})")
                    continue
                pages += [
                    PageImage(file_id=file.pk, page=p.index, image=deskew(p.image))
                    for p in document.pages
                ]
            hashed: list[HashedPage] = hash_pages(pages)
            if not hashed:
                continue
            with transaction.atomic():
                _lock_company(submission.company_id)
                # Withdrawn by a retention purge since they were read: the purge drops
                # the page prints under this lock, after it, and none may outlive it.
                withdrawn = SubmissionFile.objects.filter(purged_at__isnull=False)
                if withdrawn.filter(submission=submission).exists():
                    continue
                _store_pages(submission, hashed)
                legacy.filter(submission=submission).delete()
            done += 1
        return done


def _offered() -> Any:
    """Files not withdrawn by a retention purge. One withdrawn keeps its bytes until the
    purge deletes them (a purge cut short, until the next run): read again, its pages'
    prints (PageFeatures, a readable copy) were stored anew for a submission being purged."""
    return SubmissionFile.objects.filter(purged_at__isnull=True)


def _store_unless_purged(submission: Submission, key: DataKey, *, shown: bool) -> bool:
    """Store ``submission``'s data row (``shown``: of what its page shows) under the
    company's lock, unless its results were purged since it was read (the purge drops
    data rows under the same lock). Whether it was stored."""
    with transaction.atomic():
        _lock_company(submission.company_id)
        if Submission.objects.filter(pk=submission.pk, results_purged_at__isnull=False).exists():
            return False
        _store_data(submission, key, shown=shown)
    return True
