"""`manage.py worker_liveness`: a worker that no longer takes messages fails its health
check (steve.liveness), against the real Redis broker and cache."""

import socket
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from celery.utils.nodenames import worker_direct
from django.conf import settings
from django.core.cache import cache
from django.core.management import CommandError, call_command
from kombu import Connection

from steve.celery import app
from steve.liveness import liveness_consumed_at, liveness_record

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (REDIS_URL)")

STALE_SECONDS = settings.WORKER_STALE_MINUTES * 60


def forget(node: str) -> None:
    """The node's record and its own queue, as if it never ran."""
    cache.delete(f"worker-liveness:{node}:consumed")
    queue = worker_direct(node).name
    with app.connection_for_write() as connection:
        connection.default_channel.client.delete(queue, f"_kombu.binding.{queue}")


@pytest.fixture
def node() -> Iterator[str]:
    """A node no worker runs: nothing takes its probe."""
    name = f"celery@liveness-{uuid.uuid4().hex[:8]}"
    yield name
    forget(name)


def check(node: str, capsys, *, wait: str = "0.5") -> tuple[int, str]:
    try:
        call_command("worker_liveness", node, "--wait-seconds", wait)
    except SystemExit as exit_:
        return int(exit_.code), capsys.readouterr().err
    return 0, capsys.readouterr().out


def test_a_worker_that_took_a_task_recently_is_busy_not_stuck(node, capsys):
    liveness_record(node=node, at=time.time() - STALE_SECONDS + 60)
    code, output = check(node, capsys)
    assert code == 0, output
    assert "probe not taken" in output and "1 message(s) waiting" in output


def test_a_worker_that_takes_no_probe_and_took_nothing_for_long_is_stuck(node, capsys):
    liveness_record(node=node, at=time.time() - STALE_SECONDS - 5)
    code, output = check(node, capsys)
    assert code == 1
    assert output.startswith("STUCK") and node in output


def test_a_stuck_worker_s_queue_holds_one_probe_however_often_it_is_checked(node, capsys):
    liveness_record(node=node, at=time.time() - STALE_SECONDS - 5)
    for _ in range(3):
        assert check(node, capsys, wait="0")[0] == 1
    assert "1 message(s) waiting" in check(node, capsys, wait="0")[1]


def test_a_worker_that_never_recorded_and_takes_no_probe_is_stuck(node, capsys):
    code, output = check(node, capsys)
    assert code == 1
    assert "never recorded" in output


def test_a_broker_that_does_not_answer_fails_the_check(node, capsys, monkeypatch):
    nowhere = Connection("redis://127.0.0.1:1/0", connect_timeout=0.5)
    monkeypatch.setattr(app, "connection_for_read", lambda: nowhere)
    code, output = check(node, capsys)
    assert code == 1
    assert "could not reach Redis" in output


@pytest.mark.parametrize(
    "option, value, message",
    [("--stale-minutes", "0", "stale-minutes"), ("--wait-seconds", "-1", "wait-seconds")],
)
def test_bad_options_are_refused_naming_them(node, option, value, message):
    with pytest.raises(CommandError, match=message):
        call_command("worker_liveness", node, option, value)


def test_without_redis_the_check_refuses_rather_than_guess(node, settings):
    """Without Redis each process has its own cache: the workers' records are not seen."""
    settings.REDIS_URL = ""
    with pytest.raises(CommandError, match="needs REDIS_URL"):
        call_command("worker_liveness", node)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_idle_worker_with_a_stale_record_takes_the_probe_and_is_alive(_isolated_storage, capsys):
    """Nothing in `processing` for hours is no fault: the worker takes its own probe,
    and a worker of the same queue could not take it for it."""
    from tests.worker import celery_worker

    node = f"liveness@{socket.gethostname()}"
    forget(node)  # an earlier run's record and probes
    with celery_worker(_isolated_storage, queues="processing", name="liveness"):
        deadline = time.monotonic() + 30
        while liveness_consumed_at(node=node) is None:
            assert time.monotonic() < deadline, "the worker never recorded being ready"
            time.sleep(0.2)
        liveness_record(node=node, at=time.time() - 24 * 3600)
        code, output = check(node, capsys, wait="10")
        other = f"other-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        other_code, other_output = check(other, capsys, wait="1")
    forget(node)
    forget(other)
    assert code == 0, output
    assert "probe taken" in output and "0 message(s) waiting" in output
    # Another node's probe waits for that node, whoever else consumes its queues.
    assert other_code == 1 and "1 message(s) waiting" in other_output


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_busy_worker_is_not_stuck_after_redis_comes_back_empty(
    api, workflows, sroie_dir, _isolated_storage, capsys
):
    """Redis restarted empty (it keeps nothing on disk) or failed over loses every
    worker's record. A worker whose every slot runs a long job takes no probe, so with
    its record gone it was STUCK at once ("never recorded"), and a liveness probe
    restarted it mid-job, spending one of the job's re-queues. While it runs a task, it
    puts its record back."""
    from tests.jobs.test_redis_lost import receipts_pdf
    from tests.jobs.test_worker_killed import session_of, submit_pdf, wait_for
    from tests.worker import celery_worker

    node = f"busy@{socket.gethostname()}"
    forget(node)
    data = receipts_pdf(sroie_dir, pages=4)
    with celery_worker(
        _isolated_storage,
        name="busy",
        pool="prefork",  # production's: the task runs in a child, the worker goes on
        env={"WORKER_LIVENESS_RESTORE_SECONDS": "1"},
    ):
        session_id = submit_pdf(api, data, "busy-1")
        wait_for(lambda: session_of(session_id).heartbeat_at is not None, 60, "the job to start")
        # This test process's own Redis database (tests/parallel.py), never another's.
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
        # The record comes back while the check waits, and is not taken for its probe.
        code, output = check(node, capsys, wait="2.5")
        running = not session_of(session_id).is_terminal
        wait_for(lambda: session_of(session_id).is_terminal, 180, "the job to end")
    forget(node)
    assert running, "the job ended before the check: it needs more pages"
    assert code == 0, output
    assert "probe not taken" in output
    assert session_of(session_id).requeue_count == 0
