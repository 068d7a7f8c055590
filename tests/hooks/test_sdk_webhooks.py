"""The SDK's webhook verifier accepts what Basalt signs and what the reference library signs, and nothing else."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from basalt.hooks import signing

try:
    from basalt_sdk import webhooks
except ImportError:  # a bare checkout without the editable SDK install
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sdk/python/src"))
    from basalt_sdk import webhooks

BODY = b'{"type":"documents.create","timestamp":"2026-12-05T10:00:00.000Z","data":{"id":"abc"}}'


def test_verifies_basalts_signature_and_the_reference_librarys():
    secret = signing.new_secret()
    now = int(time.time())
    ours = signing.headers(secret, "msg_1", now, BODY)
    assert webhooks.verify(secret, BODY, ours)["data"]["id"] == "abc"
    assert webhooks.event_id(ours) == "msg_1"
    theirs = Webhook(secret).sign("msg_2", datetime.fromtimestamp(now, UTC), BODY.decode())
    headers = {"Webhook-Id": "msg_2", "Webhook-Timestamp": str(now), "Webhook-Signature": theirs}
    assert webhooks.verify(secret, BODY.decode(), headers)["type"] == "documents.create"
    # Several signatures (a rotating secret): one valid is enough.
    rotated = {**ours, "webhook-signature": "v1,AAAA " + ours["webhook-signature"]}
    assert webhooks.verify(secret, BODY, rotated)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b + b" "),
        lambda h, b: ({**h, "webhook-id": "msg_other"}, b),
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
        lambda h, b: ({**h, "webhook-timestamp": "soon"}, b),
        lambda h, b: ({**h, "webhook-signature": "v1,"}, b),
    ],
)
def test_tampering_is_refused(tamper):
    secret = signing.new_secret()
    headers, body = tamper(signing.headers(secret, "msg_1", int(time.time()), BODY), BODY)
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(secret, body, headers)


def test_old_or_future_timestamps_and_other_secrets_are_refused():
    secret = signing.new_secret()
    for offset in (-3600, 3600):
        headers = signing.headers(secret, "msg_1", int(time.time()) + offset, BODY)
        with pytest.raises(webhooks.WebhookVerificationError, match="tolerance"):
            webhooks.verify(secret, BODY, headers)
    headers = signing.headers(signing.new_secret(), "msg_1", int(time.time()), BODY)
    with pytest.raises(webhooks.WebhookVerificationError, match="no signature"):
        webhooks.verify(secret, BODY, headers)
