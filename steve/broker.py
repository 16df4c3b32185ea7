"""Publishing to a broker that does not answer: one wait per process, not one per message.

With the broker hung (it takes connections but never answers), each publish waits out
the transport's socket timeout (CELERY_BROKER_SOCKET_TIMEOUT, 3 s). A review action that
announced 14 webhook deliveries waited 14 times, 44 s, and the production web worker was
killed mid-answer although the action had committed. After one failed publish this
process skips the broker for BROKER_PAUSE_SECONDS; what it did not send waits for beat
(the task outbox, the deliveries' sweep), as after any failed publish.
"""

import time
from collections.abc import Callable

import kombu.exceptions
import redis

from steve.pause import Pause

BROKER_PAUSE_SECONDS = 15.0

# start() after a failed publish, end() after one that got through.
broker_pause = Pause(BROKER_PAUSE_SECONDS)

# What a publish raises when the broker cannot be reached (refused, timed out, reset):
# kombu wraps the transport's connection errors in OperationalError; the others are
# those that get through unwrapped. Anything else is the message's own failure.
BROKER_UNREACHABLE = (
    kombu.exceptions.OperationalError,
    redis.ConnectionError,
    redis.TimeoutError,
    OSError,
)


# How often a broker outage is logged again while it lasts, after its first line: beat's
# relay tries every 5 s, and a line each time buried everything else in the log.
OUTAGE_REMINDER_SECONDS = 300.0


class Outage:
    """Process-local: whether publishing has been failing (the broker unreachable), since
    when, and when that was last logged. `failed()` after each unreachable publish says
    whether to log it ("started", "ongoing" when a reminder is due, or None); `ended()`
    after one that got through says for how long it had failed (None when it had not)."""

    def __init__(self, remind_every: float) -> None:
        self.remind_every = remind_every
        self.clock: Callable[[], float] = time.monotonic
        self.since: float | None = None
        self._logged = 0.0

    def failed(self) -> str | None:
        now = self.clock()
        if self.since is None:
            self.since = self._logged = now
            return "started"
        if now - self._logged >= self.remind_every:
            self._logged = now
            return "ongoing"
        return None

    def lasted(self) -> float:
        return self.clock() - self.since if self.since is not None else 0.0

    def ended(self) -> float | None:
        if self.since is None:
            return None
        lasted = self.lasted()
        self.since = None
        return lasted


broker_outage = Outage(OUTAGE_REMINDER_SECONDS)
