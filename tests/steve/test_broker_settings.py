"""How Steve's processes talk to the Redis broker (steve.settings)."""

import pytest
from django.conf import settings

from steve.celery import app

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (REDIS_URL)")


def test_the_broker_connection_finds_a_dropped_peer_and_never_repeats_a_timed_out_push():
    """TCP keepalive for a connection cut without a word; no retry_on_timeout, which
    would double a publish's wait and push twice a message that reached Redis."""
    with app.connection_for_write() as connection:
        params = connection.default_channel._connparams()
    assert params["socket_keepalive"] is True
    assert not params["retry_on_timeout"]
    assert params["socket_timeout"] == settings.CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"]
