import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from steve.liveness import worker_liveness


class Command(BaseCommand):
    help = (
        "Exit 1 when a Celery worker does not take a probe sent to its own queue and has "
        "received or finished no task for WORKER_STALE_MINUTES (a health check)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("node", help="the worker's node name, e.g. celery@$HOSTNAME")
        parser.add_argument(
            "--stale-minutes",
            type=float,
            default=settings.WORKER_STALE_MINUTES,
            help="how long without a task counts as stuck (default WORKER_STALE_MINUTES)",
        )
        parser.add_argument(
            "--wait-seconds",
            type=float,
            default=5.0,
            help="how long to wait for the worker to take the probe (default 5)",
        )

    def handle(self, *args: object, **options: object) -> None:
        if not settings.REDIS_URL:
            # Without Redis the cache is each process's own: the workers' records are
            # out of this process's sight, and every answer would be wrong.
            raise CommandError("worker_liveness needs REDIS_URL (the workers' records)")
        stale_seconds = float(options["stale_minutes"]) * 60
        wait_seconds = float(options["wait_seconds"])
        if not stale_seconds > 0:
            raise CommandError("--stale-minutes must be a positive number of minutes")
        if not 0 <= wait_seconds <= 60:
            raise CommandError("--wait-seconds must be between 0 and 60")
        try:
            found = worker_liveness(node=str(options["node"]), wait_seconds=wait_seconds)
        except Exception as exc:  # noqa: BLE001 - any failure to look is a failed check
            self.stderr.write(f"worker_liveness: could not reach Redis: {exc!r}")
            sys.exit(1)
        if found.consumed_seconds_ago is None:
            consumed = "never recorded"
        else:
            consumed = f"{found.consumed_seconds_ago:.0f} s ago"
        probe = "taken" if found.probe_taken else f"not taken within {wait_seconds:g} s"
        line = (
            f"{found.node}: probe {probe}; last took or ended a task {consumed}; "
            f"{found.probes_waiting} message(s) waiting in its own queue"
        )
        if found.stuck(stale_seconds=stale_seconds):
            self.stderr.write(f"STUCK {line} (stale after {stale_seconds:.0f} s)")
            sys.exit(1)
        self.stdout.write(f"ok {line}")
