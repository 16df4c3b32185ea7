import os
from typing import Any

from celery import Celery
from celery.signals import celeryd_after_setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steve.settings")

app = Celery("steve")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_after_setup.connect
def consume_maintenance(sender: str, instance: Any, **kwargs: Any) -> None:
    """Every worker also takes beat's sweeps (CELERY_MAINTENANCE_QUEUE), whatever its -Q:
    they then wait for a free slot, not behind a queue's whole backlog, and no deployment
    can leave them without a consumer."""
    from django.conf import settings

    instance.app.amqp.queues.select_add(settings.CELERY_MAINTENANCE_QUEUE)
