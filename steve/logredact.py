"""Keep bearer tokens out of logs.

Upload URLs (/api/v1/uploads/<token>) and download URLs (/files/<token>) are
capabilities: whoever reads one in a log can use it until it expires. gunicorn's access
and error logs (RedactingGunicornLogger, via steve/gunicorn_conf.py) and Django's own log
records (RedactTokensFilter, on every handler in settings.LOGGING) show them as
[redacted].
"""

import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

# A segment of digits alone is the review desk's file index (/review/<id>/files/0/…),
# never a token (a signed one always holds a ":").
TOKEN_PATH = re.compile(r"(/(?:api/v1/uploads|files)/)(?!\d+(?![^\s/?#\"']))[^\s/?#\"']+")
REDACTED = r"\1[redacted]"


def redact(text: str) -> str:
    return TOKEN_PATH.sub(REDACTED, text)


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactTokensFilter(logging.Filter):
    """Rewrites a record's message and arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_value(v) for k, v in record.args.items()}
        return True


class RedactingGunicornLogger(GunicornLogger):
    """gunicorn's access log with tokens redacted from every field, and its error log's
    lines too: a worker killed at its timeout mid-upload (a Content-Length larger than
    the body sent) is logged "Error handling request <path>", the upload URL's token in
    clear."""

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.error_log.addFilter(RedactTokensFilter())

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: Any) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        # Every atom: the request line, the path, the referer, and the {...}e/{...}i forms.
        return {name: _redact_value(value) for name, value in atoms.items()}
