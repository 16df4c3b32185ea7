"""Migration webhooks 0016 on a database with data: a session webhook target's sandbox
deliveries move to a sandbox twin of it, and the migration completes on PostgreSQL."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("webhooks", "0015_delivery_sync_due_index")
AFTER = ("webhooks", "0016_session_targets_per_environment")


def migrate(target: tuple[str, str]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.fixture
def old_apps():
    apps = migrate(BEFORE)
    yield apps
    # Every app's newest, not only this one's: going back also unapplied other apps'
    # migrations that depend on it, which later tests in this process need.
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_sandbox_deliveries_move_to_a_sandbox_twin_of_their_target(old_apps):
    # The twin's insert and the deliveries' update left deferred foreign-key checks
    # pending, and the constraint added after them in the same transaction was refused
    # ("cannot ALTER TABLE ... because it has pending trigger events"): an upgrade of any
    # database holding a sandbox session delivery stopped at this migration.
    Company = old_apps.get_model("steve", "Company")
    Target = old_apps.get_model("webhooks", "SessionWebhookTarget")
    Delivery = old_apps.get_model("webhooks", "WebhookDelivery")
    company = Company.objects.create(name="A", slug="a")
    failing_since = timezone.now()
    target = Target.objects.create(
        company=company, origin="https://hooks.example.com", failing_since=failing_since
    )
    for environment, event in (("production", "p"), ("sandbox", "s1"), ("sandbox", "s2")):
        Delivery.objects.create(
            company=company,
            url=f"https://hooks.example.com/{event}",
            session_target=target,
            purpose="session",
            event_id=f"evt_{event}",
            event_type="session.completed",
            payload={},
            environment=environment,
        )

    new_apps = migrate(AFTER)

    targets = {
        t.environment: t
        for t in new_apps.get_model("webhooks", "SessionWebhookTarget").objects.all()
    }
    assert set(targets) == {"production", "sandbox"}
    assert targets["production"].pk == target.pk
    assert targets["sandbox"].origin == target.origin
    assert targets["sandbox"].failing_since == failing_since
    placed = {
        d.event_id: d.session_target_id
        for d in new_apps.get_model("webhooks", "WebhookDelivery").objects.all()
    }
    sandbox = targets["sandbox"].pk
    assert placed == {"evt_p": target.pk, "evt_s1": sandbox, "evt_s2": sandbox}
