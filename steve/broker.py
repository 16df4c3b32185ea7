"""Publishing to a broker that does not answer: one wait per process, not one per message.

With the broker hung (it takes connections but never answers), each publish waits out
the transport's socket timeout (CELERY_BROKER_SOCKET_TIMEOUT, 3 s). A review action that
announced 14 webhook deliveries waited 14 times, 44 s, and the production web worker was
killed mid-answer although the action had committed. After one failed publish this
process skips the broker for BROKER_PAUSE_SECONDS; what it did not send waits for beat
(the task outbox, the deliveries' sweep), as after any failed publish.
"""

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
