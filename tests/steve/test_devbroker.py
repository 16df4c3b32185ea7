"""The development broker (`./scripts/dev` without Redis): file-system messages."""

from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection

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
        writer.default_channel._put("processing", {"sessionId": "ses_1"})
        assert seen == ["empty"]
        assert worker.default_channel._get("processing") == {"sessionId": "ses_1"}
