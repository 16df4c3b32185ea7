"""Fingerprints stored by older versions: ignored by the checks, recomputed by a command."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from fraud import hashing, textsim
from fraud.models import (
    DataFingerprint,
    FraudMatch,
    PageFeatures,
    PageFingerprint,
    TextFingerprint,
)
from fraud.services import fraud_run_checks
from tests.fraud.helpers import (
    make_submission,
    pages_for,
    receipt,
    receipt_bytes,
    sroie_available,
)
from tests.fraud.test_checks import FIELDS, TEXT

pytestmark = pytest.mark.django_db
needs_sroie = pytest.mark.skipif(not sroie_available(), reason="sroie-dev not present")


def run(submission, pages=(), fields=None, text=""):
    return fraud_run_checks(
        submission_id=submission.pk, pages=list(pages), fields=fields or {}, text=text
    )


def _as_version_1(submission):
    """Rows as the previous version stored them: no shingles, no time, v1 page views,
    no local features."""
    PageFeatures.objects.filter(submission=submission).delete()
    TextFingerprint.objects.filter(submission=submission).update(version=1, shingles=b"")
    DataFingerprint.objects.filter(submission=submission).update(time="", receipt_number="")
    for row in PageFingerprint.objects.filter(submission=submission):
        if row.variant == "v2-paper":
            row.variant = "paper"
            row.save(update_fields=["variant"])
        elif row.variant == "v2-print":
            row.variant = "content"
            row.save(update_fields=["variant"])
        else:
            row.delete()


@needs_sroie
def test_old_rows_match_nothing_until_recomputed(company):
    old, old_file = make_submission(company)
    fields = {**FIELDS, "time": "14:02", "receiptNumber": "88123"}
    run(old, pages_for(old_file, receipt(3)), fields=fields, text=TEXT)
    _as_version_1(old)
    old.pages_text = [TEXT]
    old.extracted_data = fields
    old.save(update_fields=["pages_text", "extracted_data"])
    default_storage.save(old_file.storage_key, ContentFile(receipt_bytes(3)))

    before, before_file = make_submission(company)
    run(before, pages_for(before_file, receipt(3)), fields=fields, text=TEXT)
    assert not FraudMatch.objects.filter(target_submission=old).exists()

    call_command("fraud_refingerprint", "--pages", "--company", company.pk)
    text = TextFingerprint.objects.get(submission=old)
    assert text.version == TextFingerprint.VERSION
    assert set(textsim.from_bytes(bytes(text.shingles)).tolist()) == textsim.shingles(TEXT)
    data = DataFingerprint.objects.get(submission=old)
    assert (data.time, data.receipt_number) == ("14:02", "88123")
    variants = set(PageFingerprint.objects.filter(submission=old).values_list("variant", flat=True))
    assert variants == {f"v2-{view}" for view in hashing.IMAGE_VIEWS}  # files, no OCR

    after, after_file = make_submission(company)
    run(after, pages_for(after_file, receipt(3)), fields=fields, text=TEXT)
    found = set(
        FraudMatch.objects.filter(submission=after, target_submission=old).values_list(
            "check_type", flat=True
        )
    )
    assert found == {"visual", "text", "data"}
    # Running it again finds nothing left to do.
    call_command("fraud_refingerprint", "--pages")
    assert PageFingerprint.objects.filter(submission=old).count() == len(hashing.IMAGE_VIEWS)


def _legacy_with_stored_file(company):
    """A submission hashed by the previous version whose file's bytes are still stored."""
    import io

    from tests.fraud.helpers import till_receipt

    submission, file = make_submission(company)
    image = till_receipt(40512, "42.50")
    run(submission, pages_for(file, image))
    _as_version_1(submission)
    out = io.BytesIO()
    image.save(out, "PNG")
    default_storage.save(file.storage_key, ContentFile(out.getvalue()))
    return submission


def _rehashed(submission) -> bool:
    return (
        PageFeatures.objects.filter(submission=submission).exists()
        or PageFingerprint.objects.filter(submission=submission, variant__startswith="v2").exists()
    )


def test_a_withdrawn_file_is_not_read_back_into_fingerprints(company):
    """A purge cut short after withdrawing the files (marked purged, bytes not deleted
    yet) left them readable: the command stored a fresh print of the page (PageFeatures,
    a readable copy) of a submission being purged."""
    from submissions.services import submission_files_withdraw

    withdrawn, kept = _legacy_with_stored_file(company), _legacy_with_stored_file(company)
    submission_files_withdraw(submission_id=withdrawn.pk)

    call_command("fraud_refingerprint", "--pages", "--company", company.pk)

    assert not _rehashed(withdrawn)
    assert _rehashed(kept)


def test_a_file_withdrawn_while_its_pages_are_hashed_is_not_stored(company, monkeypatch):
    from fraud.management.commands import fraud_refingerprint
    from submissions.services import submission_files_withdraw

    submission = _legacy_with_stored_file(company)
    real_hash_pages = fraud_refingerprint.hash_pages

    def withdrawn_meanwhile(pages):
        submission_files_withdraw(submission_id=submission.pk)  # the purge's first step
        return real_hash_pages(pages)

    monkeypatch.setattr(fraud_refingerprint, "hash_pages", withdrawn_meanwhile)
    call_command("fraud_refingerprint", "--pages", "--company", company.pk)

    assert not _rehashed(submission)
