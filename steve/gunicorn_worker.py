"""The development server's worker (`scripts/dev`): gunicorn's threaded worker, whose
connections give up on a client that stops sending.

gthread reads each request on a blocking socket with no time limit, so four connections
that never finished their headers (a client that died mid-request, or one sending more
bytes than its Content-Length said) held all four threads of `scripts/dev`, and every
later request waited for good. Production runs sync workers behind a proxy, which buffers
requests and whose workers the arbiter restarts on its timeout.
"""

import errno
import selectors
import socket
from functools import partial
from typing import Any

from gunicorn.workers import gthread

# Seconds a connection may be silent while a request is read or a response written.
READ_TIMEOUT = 20


class TimedConnection(gthread.TConn):
    def init(self) -> None:
        super().init()
        self.sock.settimeout(READ_TIMEOUT)


class ThreadWorker(gthread.ThreadWorker):
    def accept(self, server: Any, listener: socket.socket) -> None:
        """gthread's accept, with the timed connection."""
        try:
            sock, client = listener.accept()
            conn = TimedConnection(self.cfg, sock, client, server)
            self.nr_conns += 1
            with self._lock:
                self.poller.register(
                    conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn)
                )
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
