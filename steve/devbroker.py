"""The broker of `./scripts/dev`: kombu's file-system transport, with atomic writes.

Kombu creates a message file under its final `.msg` name and then writes it. A worker
listing the folder in between moves the still-empty file away, fails to parse it and
stops with "Unrecoverable error: JSONDecodeError"; `./scripts/dev` then shuts down.
Here the message is written under a name the worker ignores and renamed into place.

A file under a message's name that is no message (a stray copy, a file cut short when
the disk filled, anything dropped in the folder) stopped the worker the same way, and
each start stopped on the next one: it is moved to the folder's `rejected/` with a
warning naming it, and the next message is delivered.
"""

import logging
import os
import uuid
from contextlib import suppress
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

# Beside the messages, in the same folder, so a rename into them is atomic (kombu's own
# moved a message to /tmp, another file system where it can be a copy). Neither name
# holds ".<queue>.msg", so no queue lists, counts or purges them.
TAKING = ".taking"
REJECTED = "rejected"


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        stem = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}"
        partial = os.path.join(self.data_folder_out, f"{stem}.part")
        try:
            with open(partial, "wb") as handle:
                handle.write(dumps(payload).encode())
            # A rename within one folder is atomic: readers see the whole file or none.
            os.replace(partial, os.path.join(self.data_folder_out, f"{stem}.msg"))
        except BaseException as error:
            # No queue reads a `.part`, so nothing else ever removed one: on a full disk
            # each of beat's failed publishes left its file there for good.
            with suppress(OSError):
                os.remove(partial)
            if isinstance(error, OSError):
                raise ChannelError(f"Cannot add file {stem}.msg to directory") from error
            raise

    def _get(self, queue: str) -> dict[str, Any]:
        """The oldest message of `queue`, taken out of the folder; files that are none
        are set aside on the way."""
        wanted = f".{queue}.msg"
        taking = os.path.join(self.data_folder_in, TAKING)
        os.makedirs(taking, exist_ok=True)
        for name in sorted(os.listdir(self.data_folder_in)):
            # kombu's rule (`find`), so that _size and _purge count the same files.
            if wanted not in name:
                continue
            taken = os.path.join(taking, name)
            try:
                # Whoever renames it first has it; another worker's rename then fails.
                os.rename(os.path.join(self.data_folder_in, name), taken)
            except OSError:
                continue
            try:
                with open(taken, "rb") as handle:
                    payload = loads(handle.read().decode())
                # What the consumer's callback builds from it: a payload it cannot build
                # a message of raised there, in the worker's event loop, just the same.
                self.Message(payload, channel=self)
            except Exception as error:  # noqa: BLE001 - any unreadable file is set aside
                self._reject(taken, name, error)
                continue
            os.remove(taken)
            return payload
        raise filesystem.Empty()

    def _reject(self, taken: str, name: str, error: Exception) -> None:
        rejected = os.path.join(self.data_folder_in, REJECTED)
        os.makedirs(rejected, exist_ok=True)
        target = os.path.join(rejected, name)
        if os.path.lexists(target):
            # An earlier file of that name (a folder cannot be replaced): both are kept.
            target = f"{target}.{uuid.uuid4().hex[:8]}"
        os.rename(taken, target)
        logger.warning(
            "Broker file %s is no message (%s: %s); moved to %s and skipped.",
            name,
            type(error).__name__,
            error,
            rejected,
        )


class Transport(filesystem.Transport):
    Channel = Channel
