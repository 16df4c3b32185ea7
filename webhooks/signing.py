"""Signatures: Steve's own `X-Webhook-Signature` and the Standard Webhooks headers."""

import base64
import hashlib
import hmac

from webhooks.services import SECRET_PREFIX


def secret_bytes(secret: str) -> bytes:
    """Standard Webhooks keys are the base64 part of `whsec_…`; ours is url-safe base64."""
    body = secret.removeprefix(SECRET_PREFIX)
    padded = body + "=" * (-len(body) % 4)
    return base64.urlsafe_b64decode(padded)


def steve_signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>` over `timestamp.body`, so a replayed body with a new timestamp fails."""
    message = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret_bytes(secret), message, hashlib.sha256).hexdigest()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    message = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    *, secrets: list[str], event_id: str, event_type: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Headers for one attempt; during a rotation both secrets sign (space-separated)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "steve-webhook/1.0",
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
