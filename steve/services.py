"""State changes of the core models: companies, API keys, workflows."""

import copy
import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from steve import redis_pause
from steve.broker import BROKER_UNREACHABLE, OUTAGE_REMINDER_SECONDS, broker_outage, broker_pause
from steve.celery import app as celery_app
from steve.errors import ServiceError, invalid
from steve.jsonkeys import with_values, without_keys
from steve.models import (
    ApiKey,
    Company,
    IdempotencyKey,
    OutboxMessage,
    RedisEpoch,
    Workflow,
    WorkflowVersion,
)
from steve.text import hides_text
from steve.workflow_rules import output_schema_errors, upload_rules_errors

logger = logging.getLogger(__name__)

API_KEY_PREFIX = "aok_"
OUTBOX_BATCH = 200


def api_key_digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


# A deleted key's cache entry: outlives any request that read the key before.
API_KEY_GONE = "gone"
TOMBSTONE_SECONDS = 3600


def api_key_cache_key(digest: str) -> str:
    return f"apikey:{digest}"


def touch_cache_key(digest: str) -> str:
    return f"apikey-touched:{digest}"


def api_key_cache_overwrite(api_key: ApiKey, *, deleted: bool = False) -> None:
    """Replace the key's cache entry after a change, rather than delete it.

    Readers only `add` entries (steve.api.auth.api_key_from_database), so a reader holding a copy
    from before the change can never put it back over this one. When the cache is down
    nothing is cached, and readers go to the database anyway.
    """
    key = api_key_cache_key(api_key.digest)
    try:
        if deleted:
            cache.set(key, API_KEY_GONE, TOMBSTONE_SECONDS)
        elif api_key.is_revoked:
            # Revoked stays revoked: keep answering 403 without a query for a while.
            cache.set(key, api_key, TOMBSTONE_SECONDS)
        else:
            cache.delete(key)
    except Exception:  # the cache is down: nothing in it can be served either
        redis_pause.log_failure(logger, "Could not update the API key cache")


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    secret: str  # shown once, never stored


def company_get_or_create(*, slug: str, name: str | None = None) -> Company:
    company, _ = Company.objects.get_or_create(
        slug=slugify(slug), defaults={"name": name or slug.replace("-", " ").title()}
    )
    return company


API_KEY_NAME_MAX = ApiKey._meta.get_field("name").max_length


def checked_api_key_name(name: str) -> str:
    """A key's name as stored: it is shown as who acted (an event's actor, a fraud match's
    resolvedBy, a reject reason), so, as every text people read, it has no control, bidi
    formatting or invisible character that could reorder it or pass it off as another's."""
    name = (name or "").strip()
    if not name:
        raise invalid("name", "Name the key.", field_code="required")
    if len(name) > API_KEY_NAME_MAX:
        raise invalid("name", f"At most {API_KEY_NAME_MAX} characters.", field_code="long")
    if hides_text(name, allowed=""):
        raise invalid("name", "The name has a control, bidi formatting or invisible character.")
    return name


def api_key_create(
    *, company: Company, name: str, environment: str = ApiKey.Environment.PRODUCTION
) -> CreatedApiKey:
    name = checked_api_key_name(name)
    secret = API_KEY_PREFIX + secrets.token_hex(32)
    api_key = ApiKey.objects.create(
        company=company,
        name=name,
        environment=environment,
        prefix=secret[:12],
        digest=api_key_digest(secret),
    )
    return CreatedApiKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    return _revoke(api_key.pk)[0]


def api_keys_revoke(*, api_keys: list[ApiKey]) -> list[ApiKey]:
    """Revoke `api_keys`; returns those this call revoked, not those another operator
    revoked meanwhile (the admin counted and logged them as its own), nor those deleted
    meanwhile. In one transaction and a few queries: revoked one by one (an update, a
    read and a commit each), the admin's 1,200 keys took 18 s, near the web server's
    timeout that stops a request half-way."""
    ids = [api_key.pk for api_key in api_keys]
    with transaction.atomic():
        # Locked, in primary-key order: a concurrent revocation of the same keys waits,
        # then finds them revoked and keeps the first revocation time.
        mine = set(
            ApiKey.objects.select_for_update()
            .filter(pk__in=ids, revoked_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        ApiKey.objects.filter(pk__in=mine).update(revoked_at=timezone.now())
    revoked = ApiKey.objects.select_related("company").in_bulk(ids)
    for api_key in revoked.values():
        # .update() sends no signal: overwrite the cached keys here, once committed.
        api_key_cache_overwrite(api_key)
    return [revoked[pk] for pk in ids if pk in mine and pk in revoked]


def _revoke(api_key_id: Any) -> tuple[ApiKey, bool]:
    # A conditional update keeps the first revocation time when two admins race.
    active = ApiKey.objects.filter(pk=api_key_id, revoked_at__isnull=True)
    by_this_call = active.update(revoked_at=timezone.now()) == 1
    api_key = ApiKey.objects.select_related("company").get(pk=api_key_id)
    # .update() sends no signal: overwrite the cached key here, so revocation is immediate.
    api_key_cache_overwrite(api_key)
    return api_key, by_this_call


VERSIONED_FIELDS = (
    "kind",
    "upload",
    "output_schema",
    "review_threshold",
    "auto_approve",
    "fraud_policy",
    "sync_url",
)


class WorkflowChanged(ServiceError):
    """A version was published from a copy of one that is no longer the latest."""


@transaction.atomic
def workflow_publish(
    *, company: Company, slug: str, name: str, based_on: int | None = None, **contract: Any
) -> WorkflowVersion:
    """Create the workflow or, when its contract changed, a new immutable version of it.

    `based_on` is the version the caller's contract was copied from (0: the workflow had
    none): when another was published since, it is refused, since its unchanged fields
    would silently undo that publish's edits."""
    _refuse_unworkable(contract)
    workflow, _ = Workflow.objects.get_or_create(
        company=company, slug=slug, defaults={"name": name}
    )
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    if based_on is not None and (now := workflow_version_number(workflow)) != based_on:
        raise WorkflowChanged(
            "WORKFLOW_VERSION_CHANGED",
            f"{slug} changed since this version was copied from v{based_on}: it is now at "
            f"v{now}. Start again from v{now}.",
        )
    if workflow.name != name:
        workflow.name = name
        workflow.save(update_fields=["name"])
    latest = workflow.versions.order_by("-version").first()
    if latest and all(getattr(latest, f) == contract.get(f, getattr(latest, f)) for f in contract):
        return latest
    base = {f: getattr(latest, f) for f in VERSIONED_FIELDS} if latest else {}
    # A copy: the version must not share its schema and rules with the caller's dicts
    # (the default workflows' module constants), or a change to one changes the other.
    base.update(copy.deepcopy(contract))
    version = WorkflowVersion.objects.create(
        workflow=workflow, version=(latest.version + 1) if latest else 1, **base
    )
    # The downstream sync follows the workflow's sync_url: the posts not delivered yet
    # are moved to a new one or dropped with a removed one, in this transaction.
    from submissions.sync import sync_workflow_published  # submissions builds on steve

    sync_workflow_published(
        workflow=workflow, old_url=latest.sync_url if latest else "", new_url=version.sync_url
    )
    return version


def _refuse_unworkable(contract: dict[str, Any]) -> None:
    """The admin's form checks these before it publishes; checked here too, so no other
    caller stores a schema or upload rules the desk and every correction then break on."""
    errors = []
    if "output_schema" in contract:
        errors += output_schema_errors(contract["output_schema"])
    if "upload" in contract:
        errors += upload_rules_errors(contract["upload"])
    if errors:
        raise ServiceError("WORKFLOW_VERSION_INVALID", " ".join(errors), status=422)


def workflow_version_number(workflow: Workflow) -> int:
    """The workflow's latest version number; 0 while it has none."""
    latest = workflow.versions.order_by("-version").values_list("version", flat=True).first()
    return latest or 0


IDEMPOTENCY_PURGE_BATCH = 5000


def idempotency_keys_purge(*, limit: int = IDEMPOTENCY_PURGE_BATCH) -> int:
    """Beat: delete Idempotency-Key records past their retention (IDEMPOTENCY_KEY_TTL),
    oldest first and bounded per run (a backlog goes over the next runs). Safe to run
    twice at once: a row the other run deleted first is simply not counted again."""
    cutoff = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    expired = IdempotencyKey.objects.filter(created_at__lt=cutoff).order_by("created_at")
    ids = list(expired.values_list("pk", flat=True)[:limit])
    deleted, _ = IdempotencyKey.objects.filter(pk__in=ids).delete()
    return deleted


def idempotency_keys_forget_results(
    *, company_id: str, submission_id: str, removed: frozenset[str], emptied: dict[str, Any]
) -> int:
    """Retention: the answers kept for replays that name a purged submission lose its
    results, at any depth: the entries named in `removed` go (as from its events and
    fraud matches), those in `emptied` take the value given (as its detail now shows
    them), so a replay still answers in its schema's shape. Returns how many changed.

    A correction's answer is the whole submission, its values and their events with it,
    kept IDEMPOTENCY_KEY_TTL (7 days): longer than a RETENTION_DAYS under that keeps the
    submission's own. Only live answers are read: an older one is never replayed and
    goes with the next idempotency purge."""
    live = IdempotencyKey.objects.select_for_update().filter(
        company_id=company_id,
        state=IdempotencyKey.State.DONE,
        created_at__gte=timezone.now() - settings.IDEMPOTENCY_KEY_TTL,
        response_body__contains=submission_id,
    )
    rewritten = 0
    with transaction.atomic():
        for row in live.order_by("pk"):
            kept = with_values(without_keys(json.loads(row.response_body), removed), emptied)
            body = json.dumps(kept, ensure_ascii=False)
            if body != row.response_body:
                row.response_body = body
                row.save(update_fields=["response_body"])
                rewritten += 1
    return rewritten


def outbox_put(*, task: str, args: list[Any]) -> OutboxMessage:
    """Queue `task(*args)` with the caller's transaction; sent on commit, or by the relay."""
    (message,) = outbox_put_many(task=task, args=[args])
    return message


def outbox_put_many(*, task: str, args: Sequence[list[Any]]) -> list[OutboxMessage]:
    """outbox_put of `task` once for each of `args`, in one insert (an admin action on a
    thousand rows); all sent on commit, or by the relay."""
    messages = OutboxMessage.objects.bulk_create(OutboxMessage(task=task, args=a) for a in args)
    ids = [message.pk for message in messages]
    if ids:
        # Every one of them on commit: beat's relay (OUTBOX_BATCH a run) may be down too.
        transaction.on_commit(lambda: outbox_relay(ids=ids, limit=len(ids)))
    return messages


def outbox_relay(*, ids: list[int] | None = None, limit: int = OUTBOX_BATCH) -> int:
    """Send waiting messages, the least tried and then the oldest first; returns how many
    went out. Never raises.

    Rows are locked (SKIP LOCKED) while sent, so the on-commit relay and beat's never send
    one message twice; a crash between publish and delete sends it again, which the tasks
    allow (they are idempotent). A broker that cannot be reached ends the run at its first
    failed publish; a message refused for its own sake waits (attempts, last_error) and
    the others go on.
    """
    sent: list[int] = []
    if ids is not None and broker_pause.active():
        return 0  # on commit, a publish failed a moment ago: beat's relay sends them
    try:
        with transaction.atomic():
            # The least tried first, then the oldest: a message the broker keeps refusing
            # goes behind the others, so a batch of them never fills every run.
            waiting = OutboxMessage.objects.select_for_update(skip_locked=True).order_by(
                "attempts", "id"
            )
            if ids is not None:
                waiting = waiting.filter(pk__in=ids)
            for message in waiting[:limit]:
                if _publish(message):
                    sent.append(message.pk)
                elif broker_pause.active():
                    break  # the broker is down: the rest wait for beat's next run
            OutboxMessage.objects.filter(pk__in=sent).delete()
    except DatabaseError:
        logger.exception("The task outbox could not be relayed; beat tries again")
        return 0
    return len(sent)


def _publish(message: OutboxMessage) -> bool:
    try:
        # A signature runs a registered task eagerly under CELERY_TASK_ALWAYS_EAGER
        # (seed_demo) and sends anything else by name; a dead broker fails fast
        # (CELERY_TASK_PUBLISH_RETRY) and the row waits for the relay.
        celery_app.signature(message.task, args=message.args).apply_async()
    except Exception as exc:  # the row waits for the relay
        OutboxMessage.objects.filter(pk=message.pk).update(
            attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:500]
        )
        # Only an unreachable broker pauses publishing: a message refused for its own
        # sake (one written by a release whose task took other arguments) stopped every
        # run at the same oldest row, and its pause every publish, webhooks' too, for good.
        if isinstance(exc, BROKER_UNREACHABLE):
            broker_pause.start()
            _log_outage(message, exc)
        else:
            logger.warning("Could not send %s to the broker: %s", message, exc)
        return False
    broker_pause.end()
    if (lasted := broker_outage.ended()) is not None:
        logger.info(
            "The broker answers again after %d s; the outbox's waiting tasks are sent", lasted
        )
    return True


def _log_outage(message: OutboxMessage, exc: Exception) -> None:
    """The broker unreachable: logged when this process first finds it so, with how many
    tasks wait, then every OUTAGE_REMINDER_SECONDS while it lasts (beat's relay finds it
    every 5 s); the rest at DEBUG."""
    when = broker_outage.failed()
    if when is None:
        logger.debug("Could not send %s to the broker: %s", message, exc)
        return
    waiting = OutboxMessage.objects.count()
    if when == "started":
        logger.warning(
            "Could not send %s to the broker: %s; %d task(s) wait in the outbox until it "
            "answers (logged again every %d min while it does not)",
            message,
            exc,
            waiting,
            OUTAGE_REMINDER_SECONDS // 60,
        )
    else:
        logger.warning(
            "The broker is still unreachable after %d min: %d task(s) wait in the outbox; "
            "the last try: %s",
            broker_outage.lasted() // 60,
            waiting,
            exc,
        )


# Steve's mark in Redis (steve.models.RedisEpoch), through the cache: the cache and the
# broker are one Redis database (REDIS_URL), so a Redis without the mark lost the queues
# too. Written without an expiry: a Redis that evicts keys without one (`allkeys-*`)
# would evict queued messages as well, and is no setup Steve runs on.
REDIS_EPOCH_KEY = "redis-epoch"


@dataclass(frozen=True)
class RequeuedAfterLoss:
    """What a recovery queued again of the work a Redis loss took (redis_epoch_check)."""

    counts: dict[str, int]  # what it queued again, by kind ("sessions", "deliveries")
    left: bool  # more is left for the next check (a batch at a time)
    # Where the next check's call goes on, in what it goes through in key order (kept in
    # RedisEpoch.resume_after); empty when that is through.
    resume_after: str = ""


class _Unreachable(ServiceError):
    """Redis did not answer the epoch check: caught in redis_epoch_check, never out of it
    (a ServiceError as every service's raise is, should a caller ever see one)."""

    default_status = 503

    def __init__(self) -> None:
        super().__init__("REDIS_UNREACHABLE", "Redis cannot be reached.")


def _redis_mark() -> str | None:
    try:
        return cache.get(REDIS_EPOCH_KEY)
    except Exception as error:  # redis-py and the backend raise a variety of errors
        redis_pause.log_failure(logger, "Redis epoch check: Redis cannot be reached")
        raise _Unreachable from error


# requeue(lost_at, noticed, resume_after): see redis_epoch_check.
Requeue = Callable[[datetime, bool, str], RequeuedAfterLoss]


def redis_epoch_check(*, requeue: Requeue) -> RequeuedAfterLoss | str:
    """Beat: did Redis come back empty (a restart or a failover: it keeps nothing on
    disk) since the last check? If so, queue again now what only it held: `requeue(lost_at,
    noticed, resume_after)` does, in this transaction (through the task outbox, so the
    messages go on commit), for the work queued before `lost_at`, a batch a check;
    `noticed` is False for the next batch of a loss noticed earlier, which goes on after
    the `resume_after` the batch before returned (empty: from the start). Without the
    check, a lost processing message waited for the stuck sweep's STUCK_SESSION_MINUTES
    (15) and a delivery for its queue lease.

    Steve keeps a mark in Redis and the same in the database (RedisEpoch); a Redis that
    answers without it, or with another (restored from an older copy), lost it. The first
    check ever finds no mark in either and writes one: Redis was not seen losing anything,
    and nothing is queued again. Two beats' checks take turns on the row's lock, and the
    second finds the first's mark; the mark is written last, before the commit, so a check
    that fails (Redis gone again, the database) leaves it missing or different from the
    database's, and the next check queues the work again. Redis unreachable: nothing is
    decided until it answers.

    Returns what was queued again, or "off" (no Redis: the dev broker keeps its messages
    on disk), "unreachable", "same", "started" (the first mark written)."""
    if not settings.REDIS_URL:
        return "off"
    try:
        # Every check: one row read and one GET; the lock only when something is to do.
        epoch = RedisEpoch.objects.filter(pk=1).first()
        if epoch is None:  # the first check ever; two at once insert it once
            RedisEpoch.objects.bulk_create([RedisEpoch()], ignore_conflicts=True)
        elif epoch.value and _redis_mark() == epoch.value and epoch.lost_at is None:
            return "same"
        with transaction.atomic():
            epoch = RedisEpoch.objects.select_for_update().get()
            # Read under the lock: another beat's check may have just written its mark.
            seen = _redis_mark()
            return _redis_epoch_settle(epoch, seen, requeue)
    except _Unreachable:
        return "unreachable"


def _redis_epoch_settle(
    epoch: RedisEpoch, seen: str | None, requeue: Requeue
) -> RequeuedAfterLoss | str:
    now = timezone.now()
    if not epoch.value:
        _redis_mark_write(epoch, now)
        value = epoch.value
        transaction.on_commit(
            lambda: logger.info(
                "Redis epoch %s written: a Redis that comes back empty is noticed", value
            )
        )
        return "started"
    noticed = seen != epoch.value
    if not noticed and epoch.lost_at is None:
        return "same"  # another check wrote the mark we found missing
    marked_since = epoch.since
    if noticed:
        epoch.lost_at = now
        epoch.resume_after = ""  # a loss during another's requeue: all over again
    done = requeue(epoch.lost_at, noticed, epoch.resume_after)
    epoch.resume_after = done.resume_after
    if not done.left:
        epoch.lost_at = None
    if noticed:
        _redis_mark_write(epoch, now)  # last, before the commit (see redis_epoch_check)
    else:
        epoch.save(update_fields=["lost_at", "resume_after"])
    queued = ", ".join(f"{count} {kind}" for kind, count in done.counts.items())
    left = "; more follow at the next checks" if done.left else ""
    # On commit: a check whose commit fails did none of it, and the next check, which
    # does, says it then (written before, it was said twice, once for nothing).
    if noticed:
        transaction.on_commit(
            lambda: logger.warning(
                "Redis came back empty (a restart or a failover: %s Steve's mark of %s): every"
                " message queued in it is lost, and the work only it held is queued again"
                " now: %s%s. Runs in progress go on.",
                "without" if seen is None else "with another mark than",
                marked_since.isoformat() if marked_since else "?",
                queued,
                left,
            )
        )
    else:
        transaction.on_commit(lambda: logger.info("Redis loss: queued again %s%s", queued, left))
    return done


def _redis_mark_write(epoch: RedisEpoch, now: datetime) -> None:
    epoch.value = secrets.token_hex(16)
    epoch.since = now
    epoch.save(update_fields=["value", "since", "lost_at", "resume_after"])
    try:
        cache.set(REDIS_EPOCH_KEY, epoch.value, timeout=None)
    except Exception as error:  # the transaction rolls back: the next check tries again
        redis_pause.log_failure(logger, "Redis epoch check: the mark could not be written")
        raise _Unreachable from error
