"""A sync failure on the submission's timeline (the desk, the API's `events`) names the
target's host, never its path and query: often its credential."""

import json
import socket

import pytest

from submissions.models import SubmissionEvent
from submissions.services import Actor, submission_approve
from submissions.sync import sync_event_id
from tests.factories import SubmissionFactory
from tests.receiver import http_receiver
from tests.submissions.test_sync import with_sync_target
from webhooks.delivery import deliver
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("scheme", ["http", "https"])  # refused; a TLS error
def test_a_failure_shown_on_the_timeline_names_no_path_or_query_of_the_target(
    company, ui, api, scheme
):
    """requests names the target's path and query in a connection or TLS error (`… with
    url: /erp?token=…`), often the target's credential: it went into the sync_failed
    event, shown to every reviewer on the desk's timeline. The attempt log in the admin
    keeps the whole text; the timeline keeps the kind of error and the host."""
    with socket.socket() as probe, http_receiver() as plain:
        probe.bind(("127.0.0.1", 0))
        refusing = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens
        no_tls = plain.url.replace("http://", "https://")  # plain HTTP, no handshake
        url = f"{refusing if scheme == 'http' else no_tls}/erp/k-s3cret?token=s3cret"
        submission = with_sync_target(SubmissionFactory(company=company), url)
        submission_approve(submission_id=submission.pk, actor=Actor.system())
        delivery = WebhookDelivery.objects.get(event_id=sync_event_id(submission.pk))
        deliver(delivery.pk)
    delivery.refresh_from_db()
    assert "s3cret" in delivery.last_error  # the admin's attempt log keeps it whole
    (failure,) = SubmissionEvent.objects.filter(submission=submission, type="sync_failed")
    failure = failure.details
    kind = "ConnectionError" if scheme == "http" else "SSLError"
    assert failure["error"].startswith(f"{kind}: ")
    assert "127.0.0.1" in failure["error"]
    assert "s3cret" not in json.dumps(failure)
    page = ui.get(f"/review/{submission.pk}/")
    assert page.status_code == 200 and "s3cret" not in page.content.decode()
    assert "s3cret" not in api.get(f"/api/v1/submissions/{submission.pk}").content.decode()
