"""Downstream sync: an approved submission is posted to its workflow's sync_url.

Built on the webhook delivery machinery (webhooks.delivery): the post is a delivery row
written in the approval's transaction, sent by the `deliveries` workers under a lease
(FOR UPDATE SKIP LOCKED, so two workers never post one submission at once), retried on
the webhook schedule (5 s, 5 min, 30 min, … ~3 days), refused for private targets, sent
without proxy variables over a pinned connection, and logged attempt by attempt (admin:
Webhook deliveries, purpose "sync"). It is signed like a webhook with the company's own
generated sync secret (SyncSigningSecret), never with anything derived from SECRET_KEY.
"""

import logging
import re
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlsplit

from django.db.models import (
    CharField,
    DateTimeField,
    Exists,
    Expression,
    OuterRef,
    Subquery,
    Value,
)
from django.db.models.functions import Concat, Greatest, Substr
from django.dispatch import receiver

from steve.models import Environment, Workflow, WorkflowVersion
from steve.timefmt import iso
from submissions.api.serializers import detail
from submissions.models import EventType, Submission, SubmissionStatus
from submissions.services import (
    Actor,
    locked_submission,
    record_event,
    submission_drop_sync,
    submission_mark_synced,
    submission_retarget_sync,
)
from webhooks.catalogue import SYNC_EVENT
from webhooks.delivery import Outcome, budget_used, error_kind
from webhooks.models import WebhookDelivery
from webhooks.selectors import sync_target_held_until
from webhooks.services import (
    sync_deliveries_drop,
    sync_deliveries_retarget,
    sync_delivery_queue,
)
from webhooks.signals import delivery_attempted, sync_schedule_changed

logger = logging.getLogger(__name__)

EVENT_PREFIX = "sync_"


def sync_event_id(submission_id: str) -> str:
    """The webhook-id of a submission's sync post: the same for every attempt."""
    return f"{EVENT_PREFIX}{submission_id}"


def sync_queue(*, submission: Submission) -> None:
    """Queue the sync post of a just-approved submission, in the approval's transaction.

    Production's only: workflows are shared by both environments, so a sandbox approval
    would reach the downstream system as a real one (signed with production's secret).

    The submission shows its post's next attempt from now on (`sync_next_attempt_at`, as
    after every attempt, next_attempt_at): left null until the first attempt answered, a
    post waiting on its target's Retry-After hold (up to 24 h) read as "nothing pending",
    as one given up or dropped does. Approved during a hold, it shows the hold's end."""
    url = current_sync_url(submission.workflow_id)
    if not url or submission.environment != Environment.PRODUCTION:
        return
    delivery = sync_delivery_queue(
        company_id=submission.company_id,
        environment=submission.environment,
        event_id=sync_event_id(submission.pk),
        url=url,
        payload=sync_payload(submission),
    )
    submission.sync_next_attempt_at = next_attempt_at(delivery)
    submission.save(update_fields=["sync_next_attempt_at"])


def current_sync_url(workflow_id: int) -> str:
    """Where the workflow's approvals are posted now: its latest version's sync_url, not
    that of the version a submission was created under. The target is where the
    downstream system is today; a version published without one (the target retired,
    or compromised) must stop the posts of submissions still in review too."""
    latest = (
        WorkflowVersion.objects.filter(workflow_id=workflow_id)
        .order_by("-version")
        .values_list("sync_url", flat=True)
        .first()
    )
    return latest or ""


def sync_workflow_published(*, workflow: Workflow, old_url: str, new_url: str) -> None:
    """A version of `workflow` was published (steve.services.workflow_publish, in its
    transaction): one without the sync_url its predecessor had (`old_url`) drops the
    posts not delivered yet (sync_drop_removed_target); one with another sync_url moves
    them there (sync_retarget)."""
    if not old_url or old_url == new_url:
        return
    if new_url:
        sync_retarget(workflow=workflow, url=new_url)
    else:
        sync_drop_removed_target(workflow=workflow)


# Posts moved or dropped per batch (one lock, one UPDATE or DELETE of their ids each):
# a statement's parameters stay far under SQLite's 32,766 (scripts/dev) and
# PostgreSQL's 65,535, and a batch's events are written before the next is read.
UNSENT_BATCH = 500


def _unsent_post_batches(workflow: Workflow) -> Iterator[list[str]]:
    """The ids of the workflow's sync posts not delivered yet (waiting, or given up: its
    approved submissions' posts), in primary-key order, UNSENT_BATCH at a time.

    Read from the company's unsent posts, each matched to its submission by primary
    key, not from the workflow's approved submissions: those are every one it ever
    approved (before it had a target, in the sandbox, dropped), and their ids were one
    IN (...) list of thousands, with the workflow's lock held by the publish."""
    approved = Submission.objects.filter(
        pk=Substr(OuterRef("event_id"), len(EVENT_PREFIX) + 1),
        company_id=OuterRef("company_id"),
        workflow_id=workflow.pk,
        status=SubmissionStatus.APPROVED,
    )
    unsent = WebhookDelivery.objects.filter(
        Exists(approved),
        company_id=workflow.company_id,
        purpose=WebhookDelivery.Purpose.SYNC,
        status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED],
        event_id__startswith=EVENT_PREFIX,
    ).order_by("pk")
    after = ""
    # Keyset pages: a moved post is still unsent, a dropped one is gone; either way the
    # next page starts after the last id handled.
    while batch := list(unsent.filter(pk__gt=after).values_list("pk", flat=True)[:UNSENT_BATCH]):
        yield batch
        after = batch[-1]


def sync_retarget(*, workflow: Workflow, url: str) -> int:
    """The workflow's sync_url changed to `url` (a mistyped one corrected, the target
    moved): its approved submissions' posts not delivered yet are moved there, each with
    a `sync_retargeted` event (sync_deliveries_retarget: a waiting one is resent at once,
    with a fresh budget; one given up is redelivered there by "Redeliver now"). Kept at
    the old URL, they went on failing there, and "Redeliver now" posted to the typo.
    Returns how many."""
    moved = 0
    for batch in _unsent_post_batches(workflow):
        retargeted = sync_deliveries_retarget(
            company_id=workflow.company_id, delivery_ids=batch, url=url
        )
        for post in retargeted:
            submission_retarget_sync(
                submission_id=post.delivery.event_id.removeprefix(EVENT_PREFIX),
                delivery_id=post.delivery.pk,
                delivery_status=post.delivery.status,
                from_host=url_host(post.old_url),
                to_host=url_host(url),
                next_attempt_at=next_attempt_at(post.delivery),
            )
            moved += 1
    return moved


def url_host(url: str) -> str:
    """A target's host (and port, when the URL names one), as a timeline may show it:
    never its user info, path or query, where a credential is often put."""
    target = urlsplit(url)
    host = target.hostname or ""
    if ":" in host:  # an IPv6 address, bracketed as in the URL
        host = f"[{host}]"
    return host if target.port is None else f"{host}:{target.port}"


def sync_drop_removed_target(*, workflow: Workflow) -> int:
    """The workflow's sync_url was removed: its approved submissions' posts not delivered
    yet are dropped (never sent, nor redeliverable: the old target may be hostile), each
    with a `sync_dropped` event, as retention drops them. Returns how many."""
    dropped = 0
    for batch in _unsent_post_batches(workflow):
        for unsent in sync_deliveries_drop(company_id=workflow.company_id, delivery_ids=batch):
            submission_drop_sync(
                submission_id=unsent.event_id.removeprefix(EVENT_PREFIX),
                delivery_id=unsent.pk,
                delivery_status=unsent.status,
                reason="sync_url_removed",
            )
            dropped += 1
    return dropped


def next_attempt_at(delivery: WebhookDelivery) -> datetime | None:
    """When a sync post is next attempted, as its submission shows it: none once it is
    delivered or given up; not before its target's Retry-After hold ends, however long
    ago it fell due (claims leave a held post due, keeping its place in the queue)."""
    if delivery.status != WebhookDelivery.Status.PENDING or delivery.next_attempt_at is None:
        return None
    held = sync_target_held_until(company_id=delivery.company_id, url=delivery.url)
    return max(delivery.next_attempt_at, held) if held else delivery.next_attempt_at


def sync_payload(submission: Submission) -> dict:
    """What a sync post sends: the submission as GET /api/v1/submissions/{id} returns it,
    under the post's own id and type, as a webhook's envelope carries them.

    The id is the receiver's idempotency key: in the body, both signatures cover it (the
    X-Webhook-Id header is not covered by X-Webhook-Signature), and it is the same for
    every attempt and redelivery (the stored payload is what each sends). A submission
    is approved once (approved only becomes synced), so one id is one approval.
    """
    return {
        "eventId": sync_event_id(submission.pk),
        "eventType": SYNC_EVENT,
        "submission": detail(submission),
    }


@receiver(delivery_attempted, sender=WebhookDelivery, dispatch_uid="submissions.sync")
def sync_attempted(
    *,
    delivery: WebhookDelivery,
    outcome: Outcome | None,
    attempt: int | None = None,
    **_: object,
) -> None:
    """A sync delivery's attempt was recorded: mark the submission synced, or log why not.

    Sent once per attempt answered, in the order they answer (webhooks.signals); one
    in flight when the sync was redelivered is reported on its own, before the
    redelivery's. So the submission counts every attempt made (`sync_attempts`, the
    delivery's count, never added to), logs each failure once under its own number, and
    `sync_next_attempt_at` is the delivery's next attempt (next_attempt_at).
    """
    if delivery.purpose != WebhookDelivery.Purpose.SYNC:
        return
    submission_id = delivery.event_id.removeprefix(EVENT_PREFIX)
    try:  # locked as every path locks it, so marking it synced cannot deadlock
        submission = locked_submission(submission_id=submission_id)
    except Submission.DoesNotExist:
        return  # purged
    if submission.status != SubmissionStatus.APPROVED:
        return  # purged, or already synced by an earlier attempt's late answer
    status_code = outcome.status_code if outcome else None
    number = attempt or delivery.attempts
    if delivery.status == WebhookDelivery.Status.DELIVERED:
        submission_mark_synced(
            submission_id=submission_id,
            attempts=delivery.attempts,
            details={"statusCode": status_code, "attempt": number},
        )
        return
    _record_failure(submission, delivery, status_code, number)


def _record_failure(
    submission: Submission, delivery: WebhookDelivery, status_code: int | None, number: int
) -> None:
    gave_up = delivery.status == WebhookDelivery.Status.FAILED
    submission.sync_attempts = delivery.attempts
    submission.sync_next_attempt_at = next_attempt_at(delivery)
    submission.save(update_fields=["sync_attempts", "sync_next_attempt_at", "updated_at"])
    record_event(
        submission=submission,
        type=EventType.SYNC_ABANDONED if gave_up else EventType.SYNC_FAILED,
        actor=Actor.system(),
        details={
            "attempt": number,
            "statusCode": status_code,
            "error": timeline_error(delivery.last_error, delivery.url)[:500],
            "nextAttemptAt": iso(submission.sync_next_attempt_at),
            "deliveryId": delivery.pk,
        },
    )
    if gave_up:
        # The error's kind, not its text: requests names the target URL's path and query.
        logger.warning(
            "Company %s: downstream sync of submission %s abandoned after %d attempt(s), the"
            " last one %s (delivery %s); redeliver it once the target is fixed",
            submission.company_id,
            submission.pk,
            budget_used(delivery),
            error_kind(status_code, delivery.last_error),
            delivery.pk,
        )


# requests names the URL's path and query in its errors: "… Max retries exceeded with
# url: /erp?token=… (Caused by …)".
URL_IN_ERROR = re.compile(r"(with url: )\S+")


def timeline_error(error: str, url: str) -> str:
    """A failed attempt's error as the submission's timeline keeps it: without the
    target's path and query, often its credential (a ?token=, a key in the path). The
    timeline is read by every reviewer of the company on the desk, who is never shown
    the sync_url; the attempt log (admin, its deliveryId) keeps the whole text."""
    target = urlsplit(url)
    hidden = URL_IN_ERROR.sub(r"\1…", error).replace(url, f"{target.scheme}://{target.netloc}/…")
    where = target.path + (f"?{target.query}" if target.query else "")
    return hidden.replace(where, "/…") if where not in ("", "/") else hidden


# Submissions rescheduled per UPDATE: its ids stay well under PostgreSQL's 65,535
# parameters however many posts a target holds.
RESCHEDULE_BATCH = 5000


@receiver(sync_schedule_changed, sender=WebhookDelivery, dispatch_uid="submissions.sync.schedule")
def sync_rescheduled(
    *, company_id: str, url: str, delivery_ids: list[str] | None, **_: object
) -> None:
    """A sync target's posts were rescheduled with no attempt answered (a Retry-After
    hold set or ended early, a redelivery): their submissions show the new time, as
    next_attempt_at reads it. A redelivered sync showed none (given up) or the old
    retry till the target answered; a post held by another's Retry-After showed its own
    due time, in the past for the rest of the hold."""
    posts = WebhookDelivery.objects.filter(
        purpose=WebhookDelivery.Purpose.SYNC,
        status=WebhookDelivery.Status.PENDING,
        company_id=company_id,
        url=url,
    )
    if delivery_ids is not None:
        posts = posts.filter(pk__in=delivery_ids)
    held = sync_target_held_until(company_id=company_id, url=url)
    event_ids = list(posts.order_by("event_id").values_list("event_id", flat=True))
    for start in range(0, len(event_ids), RESCHEDULE_BATCH):
        batch = event_ids[start : start + RESCHEDULE_BATCH]
        submission_ids = [event_id.removeprefix(EVENT_PREFIX) for event_id in batch]
        _show_next_attempts(submission_ids, held)


def _show_next_attempts(submission_ids: list[str], held: datetime | None) -> None:
    """One UPDATE: each submission's post's next attempt, not before the hold's end.
    Locked first in primary-key order: two targets' answers rescheduling at once lock
    the same rows in the same order (the UPDATE alone locks them in its scan's)."""
    locked = list(
        Submission.objects.select_for_update()
        .filter(pk__in=submission_ids, status=SubmissionStatus.APPROVED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    post = WebhookDelivery.objects.filter(
        purpose=WebhookDelivery.Purpose.SYNC,
        status=WebhookDelivery.Status.PENDING,
        event_id=Concat(Value(EVENT_PREFIX), OuterRef("pk"), output_field=CharField()),
    )
    due: Expression = Subquery(post.values("next_attempt_at")[:1])
    if held is not None:
        due = Greatest(due, Value(held, output_field=DateTimeField()))
    Submission.objects.filter(pk__in=locked).update(sync_next_attempt_at=due)
