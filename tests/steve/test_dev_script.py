"""scripts/dev must not hoard PostgreSQL connections on a shared server (issue 11, item 10)."""

import contextlib
import fcntl
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "dev"


def _commands() -> list[list[str]]:
    text = SCRIPT.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [shlex.split(line, comments=True) for line in lines if line and line[0] != "#"]


def test_dev_serves_with_gunicorn_and_a_bounded_number_of_workers():
    servers = [c for c in _commands() if any(word.endswith("gunicorn") for word in c[:1])]
    assert servers, "scripts/dev starts no gunicorn"
    assert not [c for c in _commands() if "runserver" in c]
    assert "--workers" in servers[0]


def test_dev_serves_from_one_process_so_its_memory_cache_is_shared_by_every_request():
    # Without Redis the key cache and the rate-limit counters live in the process's
    # memory: with two processes a key revoked in one kept working in the other.
    [server] = [c for c in _commands() if any(word.endswith("gunicorn") for word in c[:1])]
    assert server[server.index("--workers") + 1] == "1"
    assert int(server[server.index("--threads") + 1]) > 1


def test_dev_closes_database_connections_after_each_request():
    exports = [c for c in _commands() if c[:1] == ["export"]]
    assert ["export", "DATABASE_CONN_MAX_AGE=${DATABASE_CONN_MAX_AGE:-0}"] in exports


README = SCRIPT.parents[1] / "README.md"


def _readme_default(name: str) -> str:
    """The default cell of `name`'s row in the README's configuration table."""
    for line in README.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and f"`{name}`" in cells[0].split(", "):
            return cells[1]
    raise AssertionError(f"README's configuration table has no row for {name}")


def test_the_readme_says_where_dev_changes_a_default_of_its_configuration_table():
    # The README's table is what an integrator running scripts/dev reads: a default the
    # script changes silently (WEBHOOKS_ALLOW_PRIVATE_TARGETS "off", when dev turns it
    # on and a loopback webhookUrl is taken) is a contract the running server breaks.
    exported = re.findall(r'^export (\w+)="\$\{\1:-([^}]*)\}"', SCRIPT.read_text(), re.M)
    assert len(exported) >= 4
    unsaid = []
    for name, value in exported:
        shown = {"1": "on", "0": "0"}.get(value, value)
        default = _readme_default(name)
        plain = default.split(" (")[0].replace("`", "").removeprefix("./")
        if plain != shown and f"(`scripts/dev`: {shown})" not in default:
            unsaid.append(f"{name}: the README says {default!r}, scripts/dev sets {value!r}")
    assert not unsaid, "\n".join(unsaid)


def test_dev_uses_the_worker_that_drops_silent_clients():
    [server] = [c for c in _commands() if any(word.endswith("gunicorn") for word in c[:1])]
    assert server[server.index("--worker-class") + 1] == "steve.gunicorn_worker.ThreadWorker"


def _run_dev(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )


def test_a_second_dev_in_the_same_checkout_stops_before_touching_anything():
    lock = SCRIPT.parents[1] / "data" / ".dev.lock"
    lock.parent.mkdir(exist_ok=True)
    with lock.open("w") as held:
        # As a running scripts/dev holds it; when a real one beside ./scripts/test
        # already does, that is the same situation.
        with contextlib.suppress(BlockingIOError):
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = _run_dev({**os.environ, "PORT": "1"})
    assert result.returncode == 1
    assert "already running in this checkout" in result.stderr
    assert "Installing" not in result.stdout + result.stderr  # setup never ran


def test_a_second_dev_names_the_processes_of_the_first_so_they_can_be_stopped():
    # After a `kill -9` of scripts/dev its web server, worker and beat ran on without it,
    # holding the lock: the next start said "stop it first (Ctrl-C)", with no terminal
    # left to press it in and nothing saying which processes those were.
    _skip_if_a_dev_runs_here()
    lock = SCRIPT.parents[1] / "data" / ".dev.lock"
    # As the orphans do: a process that holds the lock and a child that inherited it.
    holder = subprocess.Popen(["flock", str(lock), "sleep", "30"], start_new_session=True)
    try:
        for _ in range(50):
            with lock.open("a") as probe:
                try:
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    break
                fcntl.flock(probe, fcntl.LOCK_UN)
            time.sleep(0.1)
        result = _run_dev({**os.environ, "PORT": "1"})
    finally:
        os.killpg(holder.pid, signal.SIGKILL)  # the sleep too, which holds the lock
        holder.wait()
    assert result.returncode == 1
    assert "already running in this checkout" in result.stderr
    # The top process only: its child goes with it.
    assert f"kill -TERM {holder.pid})" in result.stderr


def test_a_second_dev_on_the_same_data_dir_from_another_checkout_stops_at_once(tmp_path):
    # The checkout's lock let a second checkout with the same DATA_DIR (a worktree, a
    # second clone kept on the demo data) migrate the live database and run a second
    # worker, beat and web server on it, beside the first.
    _skip_if_a_dev_runs_here()
    lock = tmp_path / ".dev.lock"
    holder = subprocess.Popen(["flock", str(lock), "sleep", "30"], start_new_session=True)
    try:
        for _ in range(50):
            with lock.open("a") as probe:
                try:
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    break
                fcntl.flock(probe, fcntl.LOCK_UN)
            time.sleep(0.1)
        result = _run_dev({**os.environ, "PORT": "abc", "DATA_DIR": str(tmp_path)})
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    assert result.returncode == 1
    assert f"scripts/dev is already running on DATA_DIR={tmp_path}" in result.stderr
    assert f"kill -TERM {holder.pid})" in result.stderr
    assert "Installing" not in result.stdout + result.stderr  # setup never ran
    assert sorted(path.name for path in tmp_path.iterdir()) == [".dev.lock"]  # nor migrate


def test_a_dev_on_its_own_data_dir_takes_the_checkouts_lock_once():
    # DATA_DIR naming the checkout's own data/ (spelt otherwise) is the same lock: taking
    # it a second time, through another file descriptor, would refuse the script itself.
    _skip_if_a_dev_runs_here()
    data = SCRIPT.parents[1] / "data"
    result = _run_dev({**os.environ, "PORT": "abc", "DATA_DIR": f"{data}/../data"})
    assert "already running" not in result.stderr
    assert "PORT must be a port number" in result.stderr


def _skip_if_a_dev_runs_here() -> None:
    lock = SCRIPT.parents[1] / "data" / ".dev.lock"
    lock.parent.mkdir(exist_ok=True)
    with lock.open("w") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pytest.skip("a scripts/dev is running in this checkout")
        fcntl.flock(probe, fcntl.LOCK_UN)


def test_dev_says_when_its_port_is_taken():
    _skip_if_a_dev_runs_here()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = _run_dev({**os.environ, "PORT": str(port)})
    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is in use" in result.stderr


def test_dev_prints_the_review_link_at_the_address_it_answers_to():
    # With BIND=0.0.0.0 and ALLOWED_HOSTS naming the machine's address (as the README
    # says), the printed http://localhost:PORT/review/ answered 400 Bad Request.
    links = [c for c in _commands() if c[:1] == ["echo"] and "/review/" in " ".join(c)]
    assert links
    for words in links:
        assert "$PUBLIC_BASE_URL/review/" in " ".join(words)
        assert "localhost" not in " ".join(words)


def _printed_paths() -> list[str]:
    echoed = [word for c in _commands() if c[:1] == ["echo"] for word in " ".join(c[1:]).split()]
    paths = []
    for word in echoed:
        path = word.removeprefix("$PUBLIC_BASE_URL").rstrip(".,;:)")
        if path.startswith("/"):
            paths.append(path)
    return paths


@pytest.mark.django_db
def test_every_address_dev_prints_is_one_steve_serves(client):
    # It printed "API: http://localhost:8000/api/v1/", which answers 404 NOT_FOUND: a
    # new user's first click on the API was an error.
    paths = _printed_paths()
    assert "/review/" in paths and "/admin/" in paths
    for path in paths:
        assert client.get(path).status_code in (200, 302), path


def test_dev_keeps_the_demo_credentials_and_beat_schedule_under_data_dir():
    # With DATA_DIR elsewhere (a new, empty database) scripts/dev found
    # data/demo-credentials.txt, skipped seeding and printed credentials the new
    # database did not hold.
    words = [word for command in _commands() for word in command]
    assert ["export", "DATA_DIR=${DATA_DIR:-data}"] in _commands()
    assert "credentials=$DATA_DIR/demo-credentials.txt" in words
    beat = next(c for c in _commands() if "beat" in c)
    assert beat[beat.index("-s") + 1] == "$DATA_DIR/celerybeat-schedule"
    assert not [word for word in words if word.startswith("data/") and ".dev.lock" not in word]


@pytest.mark.parametrize("port", ["abc", "99999", "-1"])
def test_dev_names_a_port_that_is_no_port_number(port: str):
    # "PORT=abc" was reported as "Port abc on 127.0.0.1 is in use".
    _skip_if_a_dev_runs_here()
    result = _run_dev({**os.environ, "PORT": port})
    assert result.returncode == 1
    assert f"PORT must be a port number from 1 to 65535, got '{port}'." in result.stderr
    assert "in use" not in result.stderr


def test_dev_names_an_address_it_cannot_listen_on():
    _skip_if_a_dev_runs_here()
    with socket.create_server(("127.0.0.1", 0)) as free:
        port = free.getsockname()[1]
    result = _run_dev({**os.environ, "PORT": str(port), "BIND": "nonsense.invalid"})
    assert result.returncode == 1
    assert f"Cannot listen on BIND=nonsense.invalid, PORT={port}: " in result.stderr
    assert "in use" not in result.stderr


def _shell_function(name: str) -> str:
    found = re.search(rf"^{name}\(\) \{{\n.*?^\}}\n", SCRIPT.read_text(), re.M | re.S)
    assert found, f"scripts/dev defines no {name}"
    return found.group(0)


def _first_to_end_with(children: dict[str, str], *, then: str = "") -> subprocess.CompletedProcess:
    """scripts/dev's own stop, traps and first_to_end, run on stand-ins for its
    processes (`children`: name → shell command; `then`, run in the background beside
    them): the whole start (migrate, seed, a worker) takes minutes."""
    traps = "".join(line + "\n" for line in SCRIPT.read_text().splitlines() if line[:5] == "trap ")
    started = "".join(
        f"{command} & pids+=($!); names+=({shlex.quote(name)})\n"
        for name, command in children.items()
    )
    harness = (
        "set -euo pipefail\npids=(); names=()\n"
        f"{_shell_function('stop')}{traps}{_shell_function('first_to_end')}{started}"
        f'echo "pids ${{pids[*]}}"\n{then}\nfirst_to_end\n'
    )
    return subprocess.run(["bash", "-c", harness], capture_output=True, text=True, timeout=30)


def test_dev_says_which_process_ended_and_how_when_it_stops_the_others():
    # When one of them ended, scripts/dev stopped the others with no line saying which
    # one it was, nor whether it exited or was killed (the OOM killer's SIGKILL).
    killed = _first_to_end_with({"worker": "sleep 20", "beat": "sh -c 'kill -KILL $$'"})
    beat_pid = killed.stdout.split()[2]
    assert killed.returncode == 128 + signal.SIGKILL
    assert (
        f"scripts/dev: the beat (pid {beat_pid}) was killed by SIGKILL; stopping the others."
        in killed.stderr
    )
    # Ended before scripts/dev began to wait (gunicorn failing at once): `wait -n` missed
    # it and waited for another to end.
    started = time.monotonic()
    exited = _first_to_end_with({"web server": "sh -c 'exit 3'", "beat": "sleep 20"})
    web_pid = exited.stdout.split()[1]
    assert exited.returncode == 3
    assert (
        f"scripts/dev: the web server (pid {web_pid}) exited with status 3; stopping the"
        " others." in exited.stderr
    )
    assert time.monotonic() - started < 10


def test_dev_told_to_stop_stops_them_all_and_reports_none_as_ended():
    # Ctrl-C or a TERM runs stop, which ends them all: that one ended then is no news.
    told = _first_to_end_with(
        {"worker": "sleep 20", "beat": "sleep 20"}, then="(sleep 1; kill -TERM $$) &"
    )
    assert told.returncode == 128 + signal.SIGTERM
    assert "scripts/dev: the" not in told.stderr, told.stderr
