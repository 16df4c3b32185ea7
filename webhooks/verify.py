"""Verify a Steve webhook on the receiving side. Standard library only: copy it as is.

    payload = verify_webhook(secret, request.headers, request.body)

Checks Steve's `X-Webhook-Signature` (sha256=<hex HMAC-SHA256 of "timestamp.body">)
when present, else the Standard Webhooks `webhook-signature` (v1,<base64 HMAC-SHA256 of
"id.timestamp.body">), and refuses a timestamp more than `tolerance` seconds away from
now. The key is the base64 part of the `whsec_` secret. Returns the parsed JSON body.
"""

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any


class WebhookVerificationError(Exception):
    pass


def _key(secret: str) -> bytes:
    body = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error:
        raise WebhookVerificationError("The secret is not a whsec_ secret.") from None


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = {key.lower(): value for key, value in headers.items()}
    return lowered.get(name.lower(), "")


def _check_timestamp(raw: str, tolerance: int, now: float | None) -> None:
    try:
        timestamp = int(raw)
    except ValueError:
        raise WebhookVerificationError("The timestamp header is missing or invalid.") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("The timestamp is outside the tolerance.")


def _steve_ok(key: bytes, headers: Mapping[str, str], body: bytes) -> bool:
    timestamp = _header(headers, "X-Webhook-Timestamp")
    expected = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    offered = _header(headers, "X-Webhook-Signature").split(",")
    # Several signatures arrive while a secret is being rotated; any one may match.
    return any(
        hmac.compare_digest(f"sha256={expected}", candidate.strip()) for candidate in offered
    )


def _standard_ok(key: bytes, headers: Mapping[str, str], body: bytes) -> bool:
    message_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    message = f"{message_id}.{timestamp}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
    offered = _header(headers, "webhook-signature").split(" ")
    return any(hmac.compare_digest(expected, candidate.strip()) for candidate in offered)


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance: int = 300,
    *,
    now: float | None = None,
) -> Any:
    """The parsed payload of a genuine, fresh webhook; raises WebhookVerificationError."""
    key = _key(secret)
    if _header(headers, "X-Webhook-Signature"):
        _check_timestamp(_header(headers, "X-Webhook-Timestamp"), tolerance, now)
        valid = _steve_ok(key, headers, body)
    elif _header(headers, "webhook-signature"):
        _check_timestamp(_header(headers, "webhook-timestamp"), tolerance, now)
        valid = _standard_ok(key, headers, body)
    else:
        raise WebhookVerificationError("No signature header.")
    if not valid:
        raise WebhookVerificationError("No signature matches.")
    return json.loads(body)
