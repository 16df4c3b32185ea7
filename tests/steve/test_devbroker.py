"""The development broker (`./scripts/dev` without Redis): file-system messages."""

from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection, Queue
from kombu.exceptions import ChannelError

from steve import devbroker


def connection(folder: Path, transport: str) -> Connection:
    return Connection(
        "filesystem://",
        transport=transport,
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(folder / "control"),
        },
    )


def kombu_message(body: str) -> dict[str, object]:
    """A message as kombu's virtual transports keep it (what the worker can consume)."""
    return {"body": body, "headers": {}, "properties": {"delivery_tag": "t1", "delivery_info": {}}}


def test_a_worker_polling_while_a_message_is_written_never_reads_it_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "control").mkdir()
    seen: list[object] = []
    transport = "steve.devbroker:Transport"
    with connection(tmp_path, transport) as writer, connection(tmp_path, transport) as worker:
        real_dumps = devbroker.dumps

        def dumps_while_a_worker_polls(payload: object) -> str:
            # The message is being written: the worker polls the folder right now.
            try:
                seen.append(worker.default_channel._get("processing"))
            except Empty:
                seen.append("empty")
            return real_dumps(payload)

        monkeypatch.setattr(devbroker, "dumps", dumps_while_a_worker_polls)
        writer.default_channel._put("processing", kombu_message("ses_1"))
        assert seen == ["empty"]
        assert worker.default_channel._get("processing") == kombu_message("ses_1")


GARBAGE = {
    "not_json": b"not json at all",
    "empty": b"",
    "invalid_utf8": b"\xff\xfe\x00garbage",
    "json_list": b"[1, 2, 3]",
    "json_without_properties": b'{"body": "x"}',
    "properties_without_delivery_tag": b'{"body": "", "properties": {}}',
}


@pytest.mark.parametrize("content", GARBAGE.values(), ids=GARBAGE.keys())
def test_a_file_in_the_broker_folder_that_is_no_message_is_set_aside_and_the_next_delivered(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    # One such file (a stray copy, a disk that filled mid-write, anything a user drops in
    # data/broker) stopped the worker with "Unrecoverable error: JSONDecodeError", and
    # scripts/dev with it; the next start read the next one and stopped again.
    (tmp_path / "control").mkdir()
    (tmp_path / "0_garbage.processing.msg").write_bytes(content)
    (tmp_path / "1_folder.processing.msg").mkdir()
    received: list[object] = []
    transport = "steve.devbroker:Transport"
    with connection(tmp_path, transport) as broker:
        # Straight to the queue (the default exchange): kombu keeps the file-system
        # transport's exchange bindings in one state per process, not per folder.
        queue = Queue("processing", no_declare=True)
        with broker.Producer() as producer:
            producer.publish({"sessionId": "ses_1"}, exchange="", routing_key="processing")
        # The worker's own path: the event loop polls the folder and hands each message
        # to its consumer.
        with broker.Consumer(queue, callbacks=[lambda body, message: received.append(body)]):
            broker.drain_events(timeout=2)
    assert received == [{"sessionId": "ses_1"}]
    rejected = tmp_path / "rejected"
    assert (rejected / "0_garbage.processing.msg").read_bytes() == content
    assert "0_garbage.processing.msg" in caplog.text
    assert not (tmp_path / "0_garbage.processing.msg").exists()


def test_a_file_no_message_named_as_one_set_aside_before_is_set_aside_beside_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "control").mkdir()
    (tmp_path / "rejected" / "0_x.processing.msg").mkdir(parents=True)
    (tmp_path / "rejected" / "0_x.processing.msg" / "inside").write_text("a folder")
    (tmp_path / "0_x.processing.msg").write_text("not json")
    with connection(tmp_path, "steve.devbroker:Transport") as worker, pytest.raises(Empty):
        worker.default_channel._get("processing")
    [beside] = (tmp_path / "rejected").glob("0_x.processing.msg.*")
    assert beside.read_text() == "not json"


def test_a_message_the_disk_had_no_room_for_leaves_no_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On a full disk beat's every publish (two every 5 s) failed half-way and left its
    # empty `.part` file in data/broker for good: thousands an hour, after the disk was
    # freed too.
    (tmp_path / "control").mkdir()

    class FullDisk:
        def __init__(self, path: str, mode: str) -> None:
            self.handle = open(path, mode)  # noqa: SIM115 - closed by __exit__

        def __enter__(self) -> "FullDisk":
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(devbroker, "open", FullDisk, raising=False)
    with connection(tmp_path, "steve.devbroker:Transport") as beat, pytest.raises(ChannelError):
        beat.default_channel._put("maintenance", kombu_message("relay"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["control"]
