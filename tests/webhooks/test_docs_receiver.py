"""docs/webhooks.md's complete receiver, copied verbatim beside its verify.py and run as
its own process, against Steve's real posts: a company's webhooks and a downstream-sync
post. What an ERP team writes from the docs must take both, each once."""

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from steve.celery import app
from submissions.models import Submission
from submissions.services import Actor, submission_approve
from submissions.sync import sync_event_id
from tests.factories import SubmissionFactory
from tests.submissions.test_sync import with_sync_target
from tests.webhooks.test_worker import deliveries_worker, wait_for
from webhooks.delivery import claim, deliver, encode_body, post_signed, signing_secrets
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create, sync_secret_rotate
from webhooks.signing import signed_headers

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "webhooks.md").read_text()

pytestmark = pytest.mark.django_db


def docs_code(heading: str) -> str:
    """The first python block under `heading` in docs/webhooks.md, as a reader copies it."""
    section = DOC.split(heading, 1)[1]
    return re.search(r"```python\n(.*?)\n```", section, re.S).group(1) + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def docs_receiver(tmp_path: Path, *, port: int, secret: str) -> Iterator[Path]:
    """The docs' receiver.py and verify.py, started as the docs say; yields its output."""
    folder = tmp_path / "erp"
    folder.mkdir()
    (folder / "verify.py").write_text(docs_code("### Verification helper"))
    (folder / "receiver.py").write_text(docs_code("### A complete receiver (copy-paste)"))
    env = {
        **os.environ,
        "STEVE_WEBHOOK_SECRET": secret,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PYTHONUNBUFFERED": "1",  # its prints reach the file as they happen
    }
    output = folder / "output.txt"  # what handle() prints
    errors = folder / "errors.txt"  # http.server's request log, and any traceback
    with output.open("wb") as out, errors.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "receiver.py"], cwd=folder, env=env, stdout=out, stderr=err
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    message = f"the receiver did not start:\n{errors.read_text()}"
                    raise AssertionError(message) from None
                time.sleep(0.05)
        yield output
    finally:
        process.terminate()
        process.wait(timeout=10)


def printed(output: Path) -> list[str]:
    """What the receiver's handle() printed, once its work thread has had a moment; it
    raised nothing."""
    time.sleep(0.5)
    errors = (output.parent / "errors.txt").read_text()
    assert "Traceback" not in errors, errors
    return output.read_text().splitlines()


def test_the_docs_receiver_books_a_sync_post_once_though_it_comes_twice(tmp_path):
    """The receiver de-duplicated by the body's eventId, which a sync post lacked: each
    sync post raised KeyError, got no answer, and was retried for three days."""
    port = free_port()
    submission = with_sync_target(SubmissionFactory(), f"http://127.0.0.1:{port}/erp")
    _, secret, _ = sync_secret_rotate(company_id=submission.company_id, grace=timedelta(0))
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    delivery = WebhookDelivery.objects.get(event_id=sync_event_id(submission.pk))
    with docs_receiver(tmp_path, port=port, secret=secret) as output:
        # The first attempt's worker dies after posting: the receiver has the post, Steve
        # does not know, and posts it again once the attempt's lease has passed.
        claimed, _ = claim(delivery.pk)
        lost = post_signed(
            url=claimed.url,
            secrets=signing_secrets(claimed),
            event_id=claimed.event_id,
            event_type=claimed.event_type,
            payload=claimed.payload,
        )
        assert lost.ok, (lost, (output.parent / "errors.txt").read_text())
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            locked_until=timezone.now() - timedelta(seconds=1),
            next_attempt_at=timezone.now() - timedelta(seconds=1),
        )
        again = deliver(delivery.pk)
        assert again is not None and again.ok, again
        lines = printed(output)

    assert Submission.objects.get(pk=submission.pk).status == "synced"
    assert lines == [f"book it: {submission.pk} approved"]


def test_the_docs_receiver_books_a_captured_sync_post_once_whatever_id_header_it_bears(
    tmp_path,
):
    """X-Webhook-Signature covers the timestamp and body, not the X-Webhook-Id header:
    within the 5-minute tolerance a captured post resent with another id header still
    verifies. De-duplicated by that header, it was booked twice; by the body's eventId,
    which the signature covers, it is booked once."""
    port = free_port()
    submission = with_sync_target(SubmissionFactory(), f"http://127.0.0.1:{port}/erp")
    _, secret, _ = sync_secret_rotate(company_id=submission.company_id, grace=timedelta(0))
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    delivery = WebhookDelivery.objects.get(event_id=sync_event_id(submission.pk))
    body = encode_body(delivery.payload)
    headers = signed_headers(
        secrets=[secret],
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        timestamp=int(time.time()),
        body=body,
    )
    replayed = {**headers, "X-Webhook-Id": "sync_replayed", "webhook-id": "sync_replayed"}
    with docs_receiver(tmp_path, port=port, secret=secret) as output:
        url = f"http://127.0.0.1:{port}/erp"
        assert requests.post(url, data=body, headers=headers, timeout=5).status_code == 204
        assert requests.post(url, data=body, headers=replayed, timeout=5).status_code == 204
        lines = printed(output)
    assert lines == [f"book it: {submission.pk} approved"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_one_docs_receiver_takes_the_webhooks_and_the_sync_post_a_worker_sends_it(tmp_path):
    """An ERP's one receiver for both, started with its endpoint's secret and the sync
    secret: a real deliveries worker posts the approval's webhook, the sync post, and the
    submission.synced webhook that follows its 2xx."""
    app.control.purge()  # stale messages of earlier tests
    port = free_port()
    url = f"http://127.0.0.1:{port}/steve"
    submission = with_sync_target(SubmissionFactory(), url)
    _, endpoint_secret = endpoint_create(company=submission.company, url=url)
    _, sync_secret, _ = sync_secret_rotate(company_id=submission.company_id, grace=timedelta(0))
    log = tmp_path / "worker.log"
    both = f"{endpoint_secret},{sync_secret}"  # as the docs say, comma-separated
    with docs_receiver(tmp_path, port=port, secret=both) as output:
        with deliveries_worker("erp", log):
            submission_approve(submission_id=submission.pk, actor=Actor.system())
            wait_for(
                lambda: (
                    WebhookDelivery.objects.filter(event_type="submission.synced").exists()
                    and not WebhookDelivery.objects.exclude(status="delivered").exists()
                ),
                30,
                "the webhooks and the sync post, delivered",
                log,
            )
        lines = printed(output)

    assert Submission.objects.get(pk=submission.pk).status == "synced"
    assert sorted(line.split(" {")[0] for line in lines) == [
        f"book it: {submission.pk} approved",
        f"submission.approved {submission.pk}",
        f"submission.synced {submission.pk}",
    ], lines
