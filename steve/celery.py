import os
from typing import Any

from celery import Celery, bootsteps
from celery.signals import celeryd_after_setup, task_postrun, task_received, worker_ready

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


# Liveness (steve.liveness): what the worker's health check reads to tell a worker that
# still consumes from one that only answers pings.
@worker_ready.connect
def record_ready(sender: Any, **kwargs: Any) -> None:
    from steve.liveness import liveness_record

    liveness_record(node=sender.hostname)


class RestoreLiveness(bootsteps.StartStopStep):
    """While the worker runs a task, every WORKER_LIVENESS_RESTORE_SECONDS it puts back
    its liveness record should Redis have lost it (steve.liveness.liveness_restore). In
    the worker's main process, on its event loop's timer (the prefork pool's; a solo
    pool's loop waits for its one task)."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        from django.conf import settings

        self.tref = worker.timer.call_repeatedly(
            settings.WORKER_LIVENESS_RESTORE_SECONDS, self.restore, (worker,), priority=10
        )

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    def restore(self, worker: Any) -> None:
        from celery.worker import state

        from steve.liveness import liveness_restore

        # Only while busy: an idle worker takes the check's probe, and one that stopped
        # consuming must not be kept alive by its timer. The latest start of a running
        # task is a time it took one (time_start: epoch seconds, set when a pool child
        # accepted it).
        started = [request.time_start for request in list(state.active_requests)]
        if started := [at for at in started if at]:
            liveness_restore(node=worker.hostname, at=max(started))


app.steps["worker"].add(RestoreLiveness)


@task_received.connect
def record_received(sender: Any, request: Any, **kwargs: Any) -> None:
    """The consumer took a message off a queue: the one thing a stuck worker stops doing."""
    from steve.liveness import liveness_record

    liveness_record(node=request.hostname)


@task_postrun.connect
def record_finished(sender: Any, task: Any, **kwargs: Any) -> None:
    """A slot freed: a worker busy with long tasks is not stuck until a freed slot idles."""
    from steve.liveness import liveness_record

    if task.request.hostname:
        liveness_record(node=task.request.hostname)
