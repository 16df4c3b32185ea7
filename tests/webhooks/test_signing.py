"""Signatures: the documented algorithm, the standardwebhooks package, tampering, replay."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as StandardError

from webhooks.services import new_secret
from webhooks.signing import signed_headers
from webhooks.verify import WebhookVerificationError, verify_webhook

BODY = json.dumps({"eventId": "evt_1", "eventType": "session.completed"}).encode()


def headers_for(secrets: list[str], timestamp: int | None = None, body: bytes = BODY) -> dict:
    return signed_headers(
        secrets=secrets,
        event_id="evt_1",
        event_type="session.completed",
        timestamp=int(time.time()) if timestamp is None else timestamp,
        body=body,
    )


def test_steve_signature_is_the_documented_hmac_of_timestamp_and_body():
    secret = new_secret()
    headers = headers_for([secret], timestamp=1_700_000_000)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert headers["X-Webhook-Signature"] == f"sha256={expected}"
    standard = hmac.new(key, b"evt_1.1700000000." + BODY, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(standard).decode()


def test_the_standardwebhooks_package_verifies_our_headers():
    secret = new_secret()
    payload = Webhook(secret).verify(BODY, headers_for([secret]))
    assert payload["eventId"] == "evt_1"


def test_the_standardwebhooks_package_refuses_tampering_and_old_timestamps():
    secret = new_secret()
    with pytest.raises(StandardError):
        Webhook(secret).verify(BODY + b" ", headers_for([secret]))
    with pytest.raises(StandardError):
        Webhook(secret).verify(BODY, headers_for([secret], timestamp=int(time.time()) - 600))
    with pytest.raises(StandardError):
        Webhook(new_secret()).verify(BODY, headers_for([secret]))


@pytest.mark.parametrize("scheme", ["steve", "standard"])
def test_verify_helper_accepts_genuine_and_refuses_forged(scheme):
    secret = new_secret()
    headers = headers_for([secret])
    if scheme == "standard":
        headers = {k: v for k, v in headers.items() if not k.startswith("X-Webhook-Signature")}
    assert verify_webhook(secret, headers, BODY)["eventType"] == "session.completed"
    with pytest.raises(WebhookVerificationError, match="No signature matches"):
        verify_webhook(secret, headers, BODY.replace(b"completed", b"failed"))
    with pytest.raises(WebhookVerificationError, match="No signature matches"):
        verify_webhook(new_secret(), headers, BODY)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(secret, headers, BODY, now=time.time() + 301)


def test_verify_helper_refuses_a_replayed_body_with_a_fresh_timestamp():
    secret = new_secret()
    old = headers_for([secret], timestamp=int(time.time()) - 3600)
    replay = {**old, "X-Webhook-Timestamp": str(int(time.time()))}
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, replay, BODY)


def test_verify_helper_needs_a_signature():
    with pytest.raises(WebhookVerificationError, match="No signature header"):
        verify_webhook(new_secret(), {"Content-Type": "application/json"}, BODY)


def test_during_rotation_both_secrets_verify():
    old, new = new_secret(), new_secret()
    headers = headers_for([new, old])
    for secret in (old, new):
        assert verify_webhook(secret, headers, BODY)
        assert Webhook(secret).verify(BODY, headers)
