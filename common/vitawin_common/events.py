"""Integration events as CloudEvents 1.0, carried by the `cloudevents` package's Kafka binding
(binary mode: attributes in `ce_` headers, entity id as message key, JSON data as value)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent

from vitawin_common import correlation

CORRELATION_ATTR = "correlationid"


class UndecodableEvent(ValueError):
    """A record that is not a CloudEvent we can read (poison)."""


@dataclass(frozen=True)
class Event:
    type: str
    source: str
    subject: str  # the entity id; also the Kafka message key
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    correlation_id: str | None = None

    def to_document(self) -> dict:
        """Plain form for an outbox entry (BSON-friendly)."""
        return {"id": self.id, "type": self.type, "source": self.source, "subject": self.subject,
                "data": self.data, "time": self.time, "correlation_id": self.correlation_id}

    @classmethod
    def from_document(cls, doc: dict) -> "Event":
        time = doc["time"]
        if time.tzinfo is None:  # BSON dates come back naive, in UTC
            time = time.replace(tzinfo=timezone.utc)
        return cls(type=doc["type"], source=doc["source"], subject=doc["subject"], data=doc["data"],
                   id=doc["id"], time=time, correlation_id=doc.get("correlation_id"))


def new_event(type: str, source: str, subject: str, data: dict, *, id: str | None = None) -> Event:
    """An event caused by the current request or message: it inherits its correlation id."""
    return Event(type=type, source=source, subject=subject, data=data,
                 id=id or str(uuid.uuid4()), correlation_id=correlation.get() or correlation.new_id())


def to_record(event: Event, dataschema: str | None = None) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    attributes = {"id": event.id, "type": event.type, "source": event.source, "subject": event.subject,
                  "time": event.time, "datacontenttype": "application/json",
                  "partitionkey": event.subject}
    if dataschema:
        attributes["dataschema"] = dataschema
    if event.correlation_id:
        attributes[CORRELATION_ATTR] = event.correlation_id
    message = ce_kafka.to_binary_event(CloudEvent(attributes, event.data))
    key = message.key.encode() if isinstance(message.key, str) else message.key
    return key, message.value, list(message.headers.items())


def from_record(key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> Event:
    try:
        message = ce_kafka.KafkaMessage(headers=dict(headers or []), key=key, value=value)
        ce = ce_kafka.from_binary_event(message)
        data = ce.get_data()
    except Exception as exc:  # any parse failure makes the record poison
        raise UndecodableEvent(f"not a CloudEvent: {exc}") from exc
    if not isinstance(data, dict):
        raise UndecodableEvent("event data is not a JSON object")
    time = ce.get_time() or datetime.now(timezone.utc)
    return Event(type=ce.get_type(), source=ce.get_source(), subject=ce.get_subject() or "",
                 data=data, id=ce.get_id(), time=time,
                 correlation_id=ce.get_extension(CORRELATION_ATTR))
