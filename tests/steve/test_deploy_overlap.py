"""A rolling deploy: the previous release's web processes and workers keep running against
the schema `migrate` just moved on (docs/operations.md, *Deploying*).

That release writes its rows naming only the columns it knows. A column added since,
NOT NULL with only a Python default (Django drops the migration's default once the
column is filled), failed each such insert: a session created, an event recorded or a
webhook attempt logged by the old code was an IntegrityError (the old session create
answered 409 CONFLICT to every call). A column a migration adds must therefore be
nullable or carry a database default (`db_default`).
"""

from django.apps import apps
from django.db import migrations
from django.db.migrations.loader import MigrationLoader
from django.db.models.fields import NOT_PROVIDED

# Each app's last migration in the release this rule starts from (7269cfb, 2026-12-05):
# the columns they added are known to every release that can still be running.
RELEASED = {"fraud": 5, "jobs": 3, "steve": 3, "submissions": 6, "webhooks": 5}

# Columns no default can fill, each with what the previous release does meanwhile
# (docs/operations.md, *Deploying*).
NO_DEFAULT = {
    # The company an Idempotency-Key belongs to (steve 0006): the old code's claim fails
    # and answers 409 IDEMPOTENCY_KEY_IN_FLIGHT with Retry-After: 1; the retry reaches a
    # new process once the old ones are gone.
    ("steve", "idempotencykey", "company"),
}


def _added_columns() -> list[tuple[str, str, str, str]]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    added = []
    for (app, name), migration in loader.disk_migrations.items():
        if app not in RELEASED or int(name[:4]) <= RELEASED[app]:
            continue
        for operation in migration.operations:
            if isinstance(operation, migrations.AddField):
                added.append((app, operation.model_name_lower, operation.name_lower, name))
    return added


def test_the_release_before_can_insert_rows_into_the_migrated_schema():
    assert _added_columns(), "no migration since the release: RELEASED is out of date"
    missing = []
    for app, model, name, migration in _added_columns():
        field = apps.get_model(app, model)._meta.get_field(name)
        if not field.concrete or field.null or (app, model, name) in NO_DEFAULT:
            continue
        if field.db_default is NOT_PROVIDED:
            missing.append(f"{app}.{model}.{name} ({migration})")
    assert not missing, f"NOT NULL without a database default: {', '.join(sorted(missing))}"


def test_the_exempt_columns_are_still_there_and_still_not_null():
    # An entry outliving its column would exempt the next column of that name unseen.
    added = {(app, model, name) for app, model, name, _ in _added_columns()}
    for app, model, name in NO_DEFAULT:
        assert (app, model, name) in added
        assert not apps.get_model(app, model)._meta.get_field(name).null
