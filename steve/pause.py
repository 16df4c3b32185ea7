"""A dependency that does not answer, waited for once per process: after a failure its
calls are skipped for a while (steve.broker for publishing, steve.redis_pause for the
cache and the rate-limit counters)."""

import time


class Pause:
    """Process-local: after `start()`, `active()` is true for `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._until = 0.0

    def active(self) -> bool:
        return time.monotonic() < self._until

    def start(self) -> None:
        self._until = time.monotonic() + self.seconds

    def end(self) -> None:
        self._until = 0.0
