"""Retention: a purged submission's corrected values leave its events and sync post."""

import json

import pytest

from jobs.services import _purge_one
from submissions.services import Actor, submission_approve, submission_correct_fields
from tests.factories import SubmissionFactory
from tests.submissions.test_sync import with_sync_target
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db
SECRET = "Zebulon Secret Traders"


def corrected_and_approved(submission, reviewer):
    submission_correct_fields(
        submission_id=submission.pk,
        values={"merchantName": SECRET, "totalAmount": 987.65},
        actor=Actor.for_user(reviewer),
    )
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    return submission


def test_a_purged_submissions_correction_events_keep_the_field_but_not_its_values(
    api, ui, company, reviewer
):
    submission = corrected_and_approved(SubmissionFactory(company=company), reviewer)
    _purge_one(submission.pk, company.pk)

    body = api.get(f"/api/v1/submissions/{submission.pk}").json()
    corrected = [e["details"] for e in body["events"] if e["type"] == "field_corrected"]
    assert sorted(d["field"] for d in corrected) == ["merchantName", "totalAmount"]
    assert SECRET not in json.dumps(body) and "987.65" not in json.dumps(body)
    page = ui.get(f"/review/{submission.pk}/").content.decode()
    assert SECRET not in page and "987.65" not in page


def test_a_delivered_sync_post_keeps_no_corrected_value_after_the_purge(company, reviewer):
    submission = with_sync_target(SubmissionFactory(company=company), "https://example.com/erp")
    corrected_and_approved(submission, reviewer)
    WebhookDelivery.objects.filter(purpose="sync").update(status="delivered")
    assert SECRET in json.dumps(WebhookDelivery.objects.get(purpose="sync").payload)

    _purge_one(submission.pk, company.pk)

    payload = WebhookDelivery.objects.get(purpose="sync").payload
    assert SECRET not in json.dumps(payload) and "987.65" not in json.dumps(payload)


def test_retention_counts_from_the_decision_not_the_upload(company, settings):
    """One approved after weeks in review keeps its results (and a sync still retrying)
    for RETENTION_DAYS from its approval, not until the next hourly purge."""
    from datetime import timedelta

    from django.utils import timezone

    from jobs.services import retention_purge
    from submissions.models import Submission

    settings.RETENTION_DAYS = 30
    long_ago = timezone.now() - timedelta(days=31)
    fresh, old = SubmissionFactory(company=company), SubmissionFactory(company=company)
    for submission in (fresh, old):
        submission_approve(submission_id=submission.pk, actor=Actor.system())
    Submission.objects.filter(pk__in=[fresh.pk, old.pk]).update(created_at=long_ago)
    Submission.objects.filter(pk=old.pk).update(decided_at=long_ago, updated_at=long_ago)
    assert retention_purge() == 1
    assert Submission.objects.get(pk=fresh.pk).results_purged_at is None
    assert Submission.objects.get(pk=old.pk).results_purged_at is not None


def test_a_purged_submissions_values_leave_the_idempotency_replays_that_answered_with_them(
    api, company
):
    """A correction's answer (the submission, its values with it) is kept for its
    Idempotency-Key's replays (7 days), longer than a RETENTION_DAYS of 1 to 6 keeps the
    submission's results: the replay still answers, without them."""
    from steve.models import IdempotencyKey

    submission = SubmissionFactory(company=company)
    url = f"/api/v1/submissions/{submission.pk}/corrections"
    body = {"fields": {"merchantName": SECRET, "totalAmount": 987.65}}
    first = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="fix-1")
    assert first.status_code == 200 and SECRET in first.content.decode()
    submission_approve(submission_id=submission.pk, actor=Actor.system())

    _purge_one(submission.pk, company.pk)

    stored = IdempotencyKey.objects.get(key="fix-1").response_body
    assert SECRET not in stored and "987.65" not in stored
    replay = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="fix-1")
    assert replay.headers["X-Idempotent-Replay"] == "true"
    assert replay.json()["id"] == submission.pk and replay.json()["extractedData"] is None
    assert SECRET not in replay.content.decode() and "987.65" not in replay.content.decode()


def test_the_purge_leaves_another_submissions_idempotency_replay_whole(api, company):
    from steve.models import IdempotencyKey

    purged, kept = SubmissionFactory(company=company), SubmissionFactory(company=company)
    for submission, key in ((purged, "fix-purged"), (kept, "fix-kept")):
        api.post(
            f"/api/v1/submissions/{submission.pk}/corrections",
            {"fields": {"merchantName": SECRET}},
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        )
    submission_approve(submission_id=purged.pk, actor=Actor.system())

    _purge_one(purged.pk, company.pk)

    assert SECRET in IdempotencyKey.objects.get(key="fix-kept").response_body


def two_stored_files(submission) -> list[str]:
    from django.utils import timezone

    from steve.storage import store
    from tests.factories import SubmissionFileFactory

    keys = []
    for index in range(2):
        key = f"submissions/{submission.company_id}/{submission.pk}/{index}"
        store(key=key, data=b"receipt bytes")
        SubmissionFileFactory(
            submission=submission, file_index=index, storage_key=key, uploaded_at=timezone.now()
        )
        keys.append(key)
    return keys


def test_a_purge_cut_short_by_the_storage_leaves_no_link_to_a_deleted_file_and_a_rerun_ends_it(
    api, company, settings, monkeypatch
):
    """S3 stopped answering after the purge deleted the first of two files: the
    submission stayed unpurged (its transaction rolled back), and the API gave a
    downloadUrl for the file already gone until a later run ended the purge."""
    from datetime import timedelta

    from django.core.files.storage import FileSystemStorage, default_storage
    from django.utils import timezone

    from jobs.services import retention_purge
    from submissions.models import Submission

    settings.RETENTION_DAYS = 1
    submission = SubmissionFactory(company=company, status="approved")
    keys = two_stored_files(submission)
    old = timezone.now() - timedelta(days=3)
    Submission.objects.filter(pk=submission.pk).update(created_at=old, updated_at=old)
    real_delete = FileSystemStorage.delete

    def delete_then_fail(storage, name: str) -> None:
        if name == keys[1]:
            raise OSError("S3 stopped answering")
        real_delete(storage, name)

    monkeypatch.setattr(FileSystemStorage, "delete", delete_then_fail)
    assert retention_purge() == 0
    assert not default_storage.exists(keys[0])

    files = api.get(f"/api/v1/submissions/{submission.pk}").json()["files"]
    assert [f["downloadUrl"] for f in files] == [None, None]

    monkeypatch.setattr(FileSystemStorage, "delete", real_delete)
    assert retention_purge() == 1
    assert not any(default_storage.exists(key) for key in keys)
    assert Submission.objects.get(pk=submission.pk).results_purged_at is not None


def test_a_sync_still_retrying_is_not_dropped_by_a_retention_shorter_than_its_retries(settings):
    """A RETENTION_DAYS of 1 (the least allowed) purged the submission of an approval
    whose sync post was still being retried (about three days of them): its data never
    reached the ERP, though the post was due again. One given up is purged as before."""
    from datetime import timedelta

    from django.utils import timezone

    from jobs.services import retention_purge
    from submissions.models import Submission
    from tests.submissions.test_sync import approved_with_target

    settings.RETENTION_DAYS = 1
    retrying, delivery = approved_with_target("https://example.com/erp")
    long_ago, soon = timezone.now() - timedelta(days=2), timezone.now() + timedelta(hours=3)
    Submission.objects.filter(pk=retrying.pk).update(
        created_at=long_ago, decided_at=long_ago, sync_next_attempt_at=soon
    )

    assert retention_purge() == 0
    assert WebhookDelivery.objects.filter(pk=delivery.pk).exists()
    assert Submission.objects.get(pk=retrying.pk).results_purged_at is None

    Submission.objects.filter(pk=retrying.pk).update(sync_next_attempt_at=None)  # given up
    assert retention_purge() == 1
    assert not WebhookDelivery.objects.filter(pk=delivery.pk).exists()


def test_a_purged_submissions_receiver_replies_lose_their_text_but_keep_status_and_timing(
    company, reviewer
):
    """An ERP that echoes what it was posted kept the extracted values in its reply,
    logged on the attempt, until the webhook log's own purge (WEBHOOKS_RETENTION_DAYS)."""
    from webhooks.models import WebhookAttempt

    submission = with_sync_target(SubmissionFactory(company=company), "https://example.com/erp")
    corrected_and_approved(submission, reviewer)
    sync = WebhookDelivery.objects.get(purpose="sync")
    WebhookDelivery.objects.filter(pk=sync.pk).update(status="delivered")
    echoed = WebhookAttempt.objects.create(
        delivery=sync, number=1, status_code=200, latency_ms=42, response_body=f"got {SECRET}"
    )
    other = WebhookDelivery.objects.create(
        company=company,
        url="https://example.com/",
        session_id="ses_other",
        event_id="evt_other",
        event_type="session.completed",
        payload={},
    )
    kept = WebhookAttempt.objects.create(delivery=other, status_code=500, response_body=SECRET)

    _purge_one(submission.pk, company.pk)

    echoed.refresh_from_db()
    assert echoed.response_body == ""
    assert (echoed.status_code, echoed.latency_ms) == (200, 42)
    kept.refresh_from_db()
    assert kept.response_body == SECRET
