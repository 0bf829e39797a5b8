"""A webhook as it goes out: the public event as a CloudEvent in HTTP structured mode (the
`cloudevents` package's binding: `application/cloudevents+json`), signed by the Standard Webhooks
scheme with the `standardwebhooks` package: `webhook-id` (the event's id, the same on every retry
and replay, so the partner can drop duplicates), `webhook-timestamp` (this attempt's, in seconds)
and `webhook-signature` ("v1,<base64>", one per secret still valid, space-separated).

The receiving side verifies with the same package:

    from standardwebhooks import Webhook
    event = Webhook(secret).verify(body, headers)   # raises WebhookVerificationError otherwise"""
from __future__ import annotations

from datetime import datetime, timezone

from cloudevents.core.bindings import http as ce_http
from cloudevents.core.v1.event import CloudEvent
from standardwebhooks import Webhook

from vitawin_webhooks import public

USER_AGENT = "Vitawin-Webhooks/1.0 (+https://vitawin.fr/partenaires)"


def body_of(event: dict) -> tuple[bytes, str]:
    """The HTTP body and Content-Type of a stored public event (see store.event_document)."""
    attributes = {"id": event["event_id"], "type": event["type"], "source": event["source"],
                  "subject": event["subject"], "time": event["time"], "datacontenttype": "application/json",
                  "dataschema": public.schema_url(event["type"])}
    message = ce_http.to_structured_event(CloudEvent(attributes, event["data"]))
    return message.body, message.headers["content-type"]


def signature(secrets: list[str], message_id: str, timestamp: datetime, body: bytes) -> str:
    """The webhook-signature header: one "v1,<base64>" per secret, space-separated."""
    text = body.decode("utf-8")
    return " ".join(Webhook(secret).sign(message_id, timestamp, text) for secret in secrets)


def signed_request(event: dict, secrets: list[str], now: datetime) -> tuple[dict[str, str], bytes]:
    """Headers and body of one attempt to deliver `event`, signed at `now` with `secrets`."""
    body, content_type = body_of(event)
    timestamp = now.astimezone(timezone.utc)
    headers = {"content-type": content_type, "user-agent": USER_AGENT, "webhook-id": event["event_id"],
               "webhook-timestamp": str(int(timestamp.timestamp())),
               "webhook-signature": signature(secrets, event["event_id"], timestamp, body)}
    return headers, body
