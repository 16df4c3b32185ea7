"""Beat's selection of due deliveries (webhooks.delivery.claim_due) at volume: what it
reads grows with the due rows, not with their square."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from steve.ids import new_id
from steve.models import Company
from tests import factories
from webhooks.delivery import claim_due
from webhooks.models import SyncTarget, WebhookDelivery

pytestmark = pytest.mark.django_db
ERP = "https://erp.example.com/approved"


def posts(company: Company, count: int, since: datetime, **fields: Any) -> None:
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            company=company,
            url=ERP,
            purpose=WebhookDelivery.Purpose.SYNC,
            event_id=new_id("evt"),
            event_type="submission.synced",
            payload={},
            next_attempt_at=since + timedelta(seconds=n),
            **fields,
        )
        for n in range(count)
    )


def held_sync_backlog(company: Company, count: int, analyse: Callable[[str], None]) -> None:
    """`count` approvals waiting for a sync target whose Retry-After has passed with no
    2xx since: beat sends them one at a time, so it holds back all but the first. Behind
    as many of other companies' posts, due earlier and already queued to the workers,
    and after as many of its own delivered before."""
    SyncTarget.objects.create(
        company=company, url=ERP, held_until=timezone.now() - timedelta(minutes=1)
    )
    now = timezone.now()
    queued = now + timedelta(minutes=10)
    others = 30
    for n in range(others):
        since = now - timedelta(hours=3, minutes=n)
        posts(factories.CompanyFactory(), count // others, since, queued_until=queued)
    delivered = {"status": WebhookDelivery.Status.DELIVERED, "delivered_at": now}
    posts(company, count, now - timedelta(days=1), **delivered)
    posts(company, count, now - timedelta(hours=2))
    analyse(WebhookDelivery._meta.db_table)
    with connection.cursor() as cursor:
        # Planned as at a few hundred thousand deliveries, where reading the whole table
        # is never the cheaper plan (here, a few thousand rows, it would be).
        cursor.execute("SET LOCAL enable_seqscan = off")


READ = ("Actual Rows", "Rows Removed by Filter", "Rows Removed by Index Recheck")


def rows_read(plan: dict[str, Any]) -> int:
    """Rows every node of an EXPLAIN ANALYZE plan produced or read and dropped, over all
    of its loops (a node's counts are per loop)."""
    own = int(sum(plan.get(name, 0) for name in READ) * plan.get("Actual Loops", 1))
    return own + sum(rows_read(child) for child in plan.get("Plans", []))


def test_a_held_sync_targets_backlog_is_read_once_per_post_not_once_per_earlier_post(
    company, analyse
):
    # Each held post asked whether another post to its target was due before it with one
    # EXISTS over an OR: PostgreSQL ORed bitmaps of every earlier pending post for each
    # post, so 30,000 posts held by an ERP's maintenance cost each beat pass 40 s.
    count = 1500
    held_sync_backlog(company, count, analyse)
    with CaptureQueriesContext(connection) as queries:
        assert len(claim_due()) == 1  # the post due first: one at a time
    [selection] = [q["sql"] for q in queries if "SKIP LOCKED" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {selection}")
        [root] = cursor.fetchone()[0]
    assert rows_read(root["Plan"]) < 20 * count


def test_beats_selection_is_not_jit_compiled(company, analyse):
    # Estimated far above jit_above_cost at a few hundred thousand deliveries, the
    # selection was compiled on every pass: 0.8-1.6 s of CPU each 5 s.
    held_sync_backlog(company, 10, analyse)
    seen: list[str] = []

    def jit_at_the_selection(execute, sql, params, many, context):
        if "SKIP LOCKED" in sql and WebhookDelivery._meta.db_table in sql:
            with connection.cursor() as cursor:
                cursor.execute("SHOW jit")
                seen.append(cursor.fetchone()[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(jit_at_the_selection):
        claim_due()
    assert seen == ["off"]


def test_beats_queue_lease_grows_with_the_wait_from_two_minutes_to_an_hour(company):
    """A copy queued for a delivery due long ago is behind a backlog as old: beat leaves
    it that long before queueing another (at least 2 minutes, at most an hour)."""
    now = timezone.now()
    waits = {"fresh": timedelta(seconds=5), "backlog": timedelta(minutes=20)}
    waits["stale"] = timedelta(days=2)
    for name, waited in waits.items():
        posts(company, 1, now - waited, session_id=name)
    claim_due()
    leased = dict(WebhookDelivery.objects.values_list("session_id", "queued_until"))
    lease = {name: leased[name] - now for name in waits}
    assert timedelta(minutes=2) <= lease["fresh"] < timedelta(minutes=2, seconds=5)
    assert timedelta(minutes=20) <= lease["backlog"] < timedelta(minutes=20, seconds=5)
    assert timedelta(hours=1) <= lease["stale"] < timedelta(hours=1, seconds=5)
