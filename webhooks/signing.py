"""Signatures: Steve's own `X-Webhook-Signature` and the Standard Webhooks headers.

Both are HMAC-SHA256 keyed with the bytes of the `whsec_` secret (the standard base64
after the prefix, as Standard Webhooks defines it), and both cover the timestamp:
  X-Webhook-Signature: sha256=<hex HMAC of "{timestamp}.{body}">
  webhook-signature:   v1,<base64 HMAC of "{id}.{timestamp}.{body}">
A captured request therefore cannot be replayed later with a fresh timestamp.
"""

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"
USER_AGENT = "steve-webhook/1.0"


def secret_bytes(secret: str) -> bytes:
    body = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error:
        raise ValueError("A webhook secret is whsec_ followed by standard base64.") from None


def steve_signature(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret_bytes(secret), message, hashlib.sha256).hexdigest()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    message = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    *, secrets: list[str], event_id: str, event_type: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Headers for one attempt. During a rotation every active secret signs: Steve's
    signatures are comma-separated, Standard Webhooks' space-separated (its spec)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Webhook-Id": event_id,
        "X-Webhook-Event": event_type,
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": ",".join(steve_signature(s, timestamp, body) for s in secrets),
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            standard_signature(s, event_id, timestamp, body) for s in secrets
        ),
    }
