"""The broker of `./scripts/dev`: kombu's file-system transport, with atomic writes.

Kombu creates a message file under its final `.msg` name and then writes it. A worker
listing the folder in between moves the still-empty file away, fails to parse it and
stops with "Unrecoverable error: JSONDecodeError"; `./scripts/dev` then shuts down.
Here the message is written under a name the worker ignores and renamed into place.
"""

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        stem = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}"
        partial = os.path.join(self.data_folder_out, f"{stem}.part")
        try:
            with open(partial, "wb") as handle:
                handle.write(dumps(payload).encode())
            # A rename within one folder is atomic: readers see the whole file or none.
            os.replace(partial, os.path.join(self.data_folder_out, f"{stem}.msg"))
        except OSError as error:
            raise ChannelError(f"Cannot add file {stem}.msg to directory") from error


class Transport(filesystem.Transport):
    Channel = Channel
