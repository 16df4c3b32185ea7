"""Migration 0006: idempotency keys move from their API key to its company and environment,
and the keys two API keys of one company and environment both used become one."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("steve", "0005_idempotencykey_response_body_text")
AFTER = ("steve", "0006_idempotency_keys_per_company_environment")


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


def test_existing_keys_take_their_api_keys_company_and_environment(old_apps):
    Company = old_apps.get_model("steve", "Company")
    ApiKey = old_apps.get_model("steve", "ApiKey")
    IdempotencyKey = old_apps.get_model("steve", "IdempotencyKey")
    company = Company.objects.create(name="A", slug="a")
    other = Company.objects.create(name="B", slug="b")
    keys = {
        name: ApiKey.objects.create(
            company=owner, name=name, environment=environment, prefix=name, digest=name
        )
        for name, owner, environment in (
            ("old", company, "production"),
            ("new", company, "production"),
            ("sandbox", company, "sandbox"),
            ("theirs", other, "production"),
        )
    }
    now = timezone.now()

    def row(api_key: str, key: str, state: str, age_minutes: int) -> None:
        made = IdempotencyKey.objects.create(
            api_key=keys[api_key], key=key, fingerprint=api_key, state=state
        )
        created_at = now - timedelta(minutes=age_minutes)
        IdempotencyKey.objects.filter(pk=made.pk).update(created_at=created_at)

    row("old", "shared", "done", 30)
    row("new", "shared", "done", 20)
    row("old", "half", "done", 30)
    row("new", "half", "in_flight", 1)
    row("old", "alone", "done", 5)
    row("sandbox", "shared", "done", 5)
    row("theirs", "shared", "done", 5)

    new_apps = migrate(AFTER)

    rows = {
        (r.company_id, r.environment, r.key): r.fingerprint
        for r in new_apps.get_model("steve", "IdempotencyKey").objects.all()
    }
    assert rows == {
        (company.pk, "production", "shared"): "new",  # the newest finished one
        (company.pk, "production", "half"): "old",  # finished beats newer in flight
        (company.pk, "production", "alone"): "old",
        (company.pk, "sandbox", "shared"): "sandbox",
        (other.pk, "production", "shared"): "theirs",
    }
