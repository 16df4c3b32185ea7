"""The retention purge on a bad day: the database gone for a moment during its withdraw
pass, the storage (a real S3 endpoint, stopped) gone between its withdraw and delete
passes or as a purge commits. Each ends in a clear state: a file the API still offers
has its bytes, a purged submission is counted purged, and a later run ends the rest."""

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from django.utils import timezone
from moto.server import ThreadedMotoServer
from storages.backends.s3 import S3Storage

from jobs import services as job_services
from jobs.services import retention_purge
from submissions.models import Submission, SubmissionFile
from tests.factories import SubmissionFactory
from tests.jobs.test_database_blip import drop_our_connection
from tests.submissions.test_retention import two_stored_files

BUCKET = "steve-retention"


def due_for_purge(company, days_ago: int = 3) -> Submission:
    submission = SubmissionFactory(company=company, status="approved")
    old = timezone.now() - timedelta(days=days_ago)
    Submission.objects.filter(pk=submission.pk).update(created_at=old, updated_at=old)
    return submission


def offered_files_have_bytes(api, submission: Submission) -> bool:
    """Every file the API gives a downloadUrl for is still stored."""
    files = api.get(f"/api/v1/submissions/{submission.pk}").json()["files"]
    keys = dict(
        SubmissionFile.objects.filter(submission=submission).values_list("pk", "storage_key")
    )
    return all(default_storage.exists(keys[f["id"]]) for f in files if f["downloadUrl"])


class DropBeforeWithdrawing:
    """PostgreSQL ends this process's session as the withdrawal of one submission's files
    is sent: the database gone for a moment, as a restart does."""

    def __init__(self, submission_id: str) -> None:
        self.submission_id = submission_id
        self.dropped = False

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        withdrawing = sql.startswith('UPDATE "submissions_submissionfile"')
        if not self.dropped and withdrawing and self.submission_id in (params or ()):
            self.dropped = True
            drop_our_connection()
        return execute(sql, params, many, context)


@pytest.mark.django_db(transaction=True)
def test_the_database_gone_while_withdrawing_leaves_that_submission_whole_and_purges_the_rest(
    api, company, settings, monkeypatch
):
    """The withdrawal of the first submission's files never reached the database; the
    run went on to delete their bytes anyway and, the storage failing at the second
    file, left the API offering the first with its bytes gone until a later run."""
    settings.RETENTION_DAYS = 1
    first, second = due_for_purge(company, days_ago=4), due_for_purge(company)
    first_keys, second_keys = two_stored_files(first), two_stored_files(second)
    real_delete = FileSystemStorage.delete

    def failing_at(name: str) -> Callable[[FileSystemStorage, str], None]:
        def delete(storage: FileSystemStorage, key: str) -> None:
            if key == name:
                raise OSError("the storage stopped answering")
            real_delete(storage, key)

        return delete

    monkeypatch.setattr(FileSystemStorage, "delete", failing_at(first_keys[1]))
    drop = DropBeforeWithdrawing(first.pk)
    try:
        with connection.execute_wrapper(drop):
            purged = retention_purge()
    finally:
        connection.close()
    assert drop.dropped

    assert purged == 1
    assert Submission.objects.get(pk=second.pk).results_purged_at is not None
    assert not any(default_storage.exists(key) for key in second_keys)
    assert Submission.objects.get(pk=first.pk).results_purged_at is None
    assert all(default_storage.exists(key) for key in first_keys)
    assert offered_files_have_bytes(api, first)

    monkeypatch.setattr(FileSystemStorage, "delete", real_delete)
    assert retention_purge() == 1
    assert Submission.objects.get(pk=first.pk).results_purged_at is not None
    assert not any(default_storage.exists(key) for key in first_keys)


@pytest.fixture
def stoppable_s3(settings) -> Iterator[ThreadedMotoServer]:
    """A real S3 endpoint (moto's server) as the file storage, which a test may stop."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **credentials).create_bucket(
        Bucket=BUCKET
    )
    settings.STORAGE_BACKEND = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                "addressing_style": "path",
                # Production's client: gives up on a stopped endpoint in seconds.
                "client_config": settings.S3_CLIENT_CONFIG,
            },
        },
    }
    try:
        yield server
    finally:
        server.stop()


def restarted(server: ThreadedMotoServer) -> ThreadedMotoServer:
    """The endpoint back at its address, with what it held (moto keeps it in-process)."""
    host, port = server.get_host_and_port()
    again = ThreadedMotoServer(ip_address=host, port=port)
    again.start()
    return again


@pytest.mark.django_db
def test_s3_stopped_between_the_withdrawal_and_the_deletes_leaves_the_files_withdrawn(
    api, company, settings, stoppable_s3, monkeypatch
):
    settings.RETENTION_DAYS = 1
    submission = due_for_purge(company)
    keys = two_stored_files(submission)
    withdraw = job_services.submission_files_withdraw

    def withdraw_then_stop(**kwargs: str) -> int:
        withdrawn = withdraw(**kwargs)
        stoppable_s3.stop()
        return withdrawn

    monkeypatch.setattr(job_services, "submission_files_withdraw", withdraw_then_stop)
    assert retention_purge() == 0

    unpurged = Submission.objects.get(pk=submission.pk)
    assert unpurged.results_purged_at is None and unpurged.purge_failed_at is not None
    files = api.get(f"/api/v1/submissions/{submission.pk}").json()["files"]
    assert [f["downloadUrl"] for f in files] == [None, None]

    monkeypatch.setattr(job_services, "submission_files_withdraw", withdraw)
    back = restarted(stoppable_s3)
    try:
        assert all(default_storage.exists(key) for key in keys)  # nothing was deleted
        assert retention_purge() == 1
        assert not any(default_storage.exists(key) for key in keys)
    finally:
        back.stop()


@pytest.mark.django_db(transaction=True)
def test_s3_stopped_as_a_purge_commits_counts_it_purged_not_failed(
    company, settings, stoppable_s3, monkeypatch, caplog
):
    """The results file is deleted once more after the purge commits (a poll may have
    written it again meanwhile). S3 stopping then made the purged submission count as a
    failed row, logged as such and listed last by the next runs, though nothing failed
    that a run could redo."""
    settings.RETENTION_DAYS = 1
    submission = due_for_purge(company)
    two_stored_files(submission)
    real_delete = S3Storage.delete

    def stop_after_the_results(storage: S3Storage, name: str) -> None:
        real_delete(storage, name)
        if name.startswith("results/"):
            stoppable_s3.stop()  # the delete after the commit finds S3 gone

    monkeypatch.setattr(S3Storage, "delete", stop_after_the_results)
    assert retention_purge() == 1

    purged = Submission.objects.get(pk=submission.pk)
    assert purged.results_purged_at is not None and purged.purge_failed_at is None
    assert not [r for r in caplog.records if "retention-purge" in r.getMessage()]
