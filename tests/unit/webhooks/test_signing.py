"""Webhooks are signed by the Standard Webhooks scheme: the receiving side verifies them with the
`standardwebhooks` package and the subscription's secret, gets the CloudEvent back, and refuses
another secret or a changed body; after a rotation both secrets verify during the grace period,
then only the new one."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from vitawin_webhooks import domain, public, signing

EVENT = {"event_id": "9b1d7d3e-4a8b-5c2e-9f10-3a4b5c6d7e8f", "type": public.REQUEST_CLOSED, "source": public.SOURCE,
         "subject": "req-3f2b8c1d9e0a4b5c6d7e8f9a0b1c2d3e", "town": "94080",
         "time": datetime(2026, 12, 3, 16, 0, tzinfo=timezone.utc),
         "data": {"request_id": "req-3f2b8c1d9e0a4b5c6d7e8f9a0b1c2d3e", "kind": "class_testimony",
                  "action_type": "testimony", "town": "94080", "school_uai": "0940120V", "outcome": "fulfilled",
                  "accepted_count": 1, "closed_at": "2026-12-03T16:00:00.000Z"}}


def now() -> datetime:
    return datetime.now(timezone.utc)  # the receiver checks the timestamp against its own clock


def test_a_webhook_verifies_with_standardwebhooks_and_carries_the_cloudevent():
    secret = domain.new_secret()
    headers, body = signing.signed_request(EVENT, [secret], now())
    received = Webhook(secret).verify(body, headers)
    assert received["specversion"] == "1.0"
    assert (received["id"], received["type"], received["source"]) == (EVENT["event_id"], EVENT["type"], "/vitawin/public")
    assert received["data"] == EVENT["data"]
    assert received["dataschema"] == f"https://vitawin.fr/contracts/schemas/{EVENT['type']}.json"
    assert headers["content-type"] == "application/cloudevents+json"
    assert headers["webhook-id"] == EVENT["event_id"]
    assert secret.startswith("whsec_")


def test_another_secret_or_a_changed_body_is_refused():
    secret = domain.new_secret()
    headers, body = signing.signed_request(EVENT, [secret], now())
    with pytest.raises(WebhookVerificationError):
        Webhook(domain.new_secret()).verify(body, headers)
    tampered = json.loads(body)
    tampered["data"]["accepted_count"] = 2
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(json.dumps(tampered), headers)


def test_an_old_signature_is_refused_by_the_receiver():
    secret = domain.new_secret()
    headers, body = signing.signed_request(EVENT, [secret], now() - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, headers)


def test_after_a_rotation_both_secrets_verify_during_the_grace_period_then_only_the_new_one():
    moment = now()
    subscription = domain.new_subscription(owner="key-1", url="https://p.example/h", event_types=[EVENT["type"]],
                                           towns=["94080"], label=None, now=moment)
    old = subscription["secret"]
    rotated = domain.rotate_secret(subscription, moment, timedelta(hours=24))
    new = rotated["secret"]
    assert new != old
    headers, body = signing.signed_request(EVENT, domain.signing_secrets(rotated, moment), moment)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers)["id"] == EVENT["event_id"]
    later = moment + timedelta(hours=25)
    assert domain.signing_secrets(rotated, later) == [new]
    headers, body = signing.signed_request(EVENT, domain.signing_secrets(rotated, later), now())
    Webhook(new).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, headers)


def test_a_rotation_without_grace_drops_the_old_secret_at_once():
    moment = now()
    subscription = domain.new_subscription(owner="key-1", url="https://p.example/h", event_types=[EVENT["type"]],
                                           towns=["94080"], label=None, now=moment)
    rotated = domain.rotate_secret(subscription, moment, timedelta(0))
    assert domain.signing_secrets(rotated, moment) == [rotated["secret"]]
