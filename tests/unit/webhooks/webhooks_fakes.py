"""In-memory fakes of the webhooks service's store (store.py: the same methods, over dicts), one
unit of work over them (vitawin_common.testing's rules: nothing kept without commit), a clock the
tests move, and helpers that read the contracts' examples as internal events. Imported as
tests.unit.webhooks.webhooks_fakes; conftest.py makes fixtures of them."""
from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from vitawin_common.events import Event
from vitawin_common.testing import InMemoryUnitOfWork

from vitawin_webhooks import domain, topics

ROOT = Path(__file__).resolve().parents[3]
CONTRACTS = ROOT / "contracts"
START = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
KEY = b"unit-test-pseudonym-key"


class Clock:
    def __init__(self, now: datetime = START):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


class Repo:
    """store._Repository over a dict (documents replaced, never changed in place, so that a
    rolled-back block restores them)."""
    id_field = ""

    def __init__(self):
        self.docs: dict[str, dict] = {}

    def get(self, id_):
        return copy.deepcopy(self.docs.get(id_))

    def add(self, doc):
        if doc[self.id_field] in self.docs:
            raise KeyError(f"duplicate {doc[self.id_field]}")
        self.docs[doc[self.id_field]] = copy.deepcopy(doc)

    def put(self, doc):
        self.docs[doc[self.id_field]] = copy.deepcopy(doc)

    def delete(self, id_):
        self.docs.pop(id_, None)

    def _set(self, id_, fields):
        self.docs[id_] = {**self.docs[id_], **copy.deepcopy(fields)}


class Facts(Repo):
    def __init__(self, id_field):
        super().__init__()
        self.id_field = id_field


class Events(Repo):
    id_field = "event_id"

    def since(self, moment, types, towns, limit):
        found = sorted((d for d in self.docs.values() if d["time"] >= moment and d["type"] in types
                        and d["town"] in towns), key=lambda d: (d["time"], d["event_id"]))
        return copy.deepcopy(found[:limit])

    def purge_before(self, moment):
        old = [k for k, d in self.docs.items() if d["time"] < moment]
        for k in old:
            del self.docs[k]
        return len(old)


class Subscriptions(Repo):
    id_field = "subscription_id"

    def list(self, owner, limit):
        found = sorted((d for d in self.docs.values() if owner is None or d["owner"] == owner),
                       key=lambda d: (d["created_at"], d["subscription_id"]), reverse=True)
        return copy.deepcopy(found[:limit])

    def count(self, owner):
        return sum(1 for d in self.docs.values() if d["owner"] == owner)

    def matching(self, event_type, town):
        return [copy.deepcopy(d) for d in self.docs.values() if d["status"] == domain.ACTIVE
                and event_type in d["event_types"] and town in d["towns"]]

    def active(self):
        return [copy.deepcopy(d) for d in self.docs.values() if d["status"] == domain.ACTIVE]

    def flag_failing(self, subscription_id, at):
        doc = self.docs.get(subscription_id)
        if doc is None or doc["status"] != domain.ACTIVE:
            return False
        self._set(subscription_id, {"status": domain.FAILING, "failing_since": at, "updated_at": at})
        return True


class Deliveries(Repo):
    id_field = "delivery_id"

    def add_many(self, docs):
        for doc in docs:
            self.add(doc)

    def list(self, subscription_id, status, limit):
        found = sorted((d for d in self.docs.values() if d["subscription_id"] == subscription_id
                        and status in (None, d["status"])),
                       key=lambda d: (d["created_at"], d["delivery_id"]), reverse=True)
        return copy.deepcopy(found[:limit])

    def _due(self, d, now):
        return d["status"] == domain.PENDING and d["next_attempt_at"] <= now

    def due_subscriptions(self, now):
        """Not in the real store any more (the dispatcher's old read of every subscription's due
        deliveries): test_delivery checks that the tick never asks for it again."""
        return {d["subscription_id"] for d in self.docs.values() if self._due(d, now)}

    def due(self, subscription_id, now, limit):
        found = sorted((d for d in self.docs.values() if d["subscription_id"] == subscription_id and self._due(d, now)),
                       key=lambda d: (d["next_attempt_at"], d["delivery_id"]))
        return copy.deepcopy(found[:limit])

    def claim(self, delivery_id, now, lease_until):
        doc = self.docs.get(delivery_id)
        if doc is None or not self._due(doc, now):
            return None
        self._set(delivery_id, {"status": domain.SENDING, "lease_until": lease_until})
        return self.get(delivery_id)

    def update(self, delivery_id, fields):
        self._set(delivery_id, fields)

    def release_stale(self, now):
        stale = [k for k, d in self.docs.items() if d["status"] == domain.SENDING and d["lease_until"] < now]
        for k in stale:
            self._set(k, {"status": domain.PENDING, "next_attempt_at": now, "lease_until": None})
        return len(stale)

    def delete_for(self, subscription_id):
        gone = [k for k, d in self.docs.items() if d["subscription_id"] == subscription_id]
        for k in gone:
            del self.docs[k]
        return len(gone)


class FakeUnitOfWork(InMemoryUnitOfWork):
    """store.WebhooksUnitOfWork's repositories; `publish` also checks the event against its
    contract, as the real outbox does."""

    def __init__(self):
        super().__init__()
        self.contracts = topics.load(CONTRACTS)
        self.requests = self.attach(Facts("request_id"))
        self.pledges = self.attach(Facts("volunteer_id"))
        self.initiatives = self.attach(Facts("initiative_id"))
        self.organisations = self.attach(Facts("actor_id"))
        self.accepted = self.attach(Facts("proposal_id"))
        self.events = self.attach(Events())
        self.subscriptions = self.attach(Subscriptions())
        self.deliveries = self.attach(Deliveries())

    def publish(self, event, channel):
        self.contracts.validate(event.type, event.data)
        self.contracts.topic(channel)  # a channel of one of the two documents
        super().publish(event, channel)

    def published_of(self, type_prefix: str = "") -> list:
        return [event for event, _ in self.published if event.type.startswith(type_prefix)]


def example(event_type: str, file: str = "basic.json", **changes) -> Event:
    """The contract's example of `event_type` as an Event, its data updated with `changes`."""
    envelope = json.loads((CONTRACTS / "examples" / event_type / file).read_text(encoding="utf-8"))
    data = {**copy.deepcopy(envelope["data"]), **changes}
    time = datetime.fromisoformat(envelope.get("time", "2026-12-01T09:00:00Z").replace("Z", "+00:00"))
    return Event(type=event_type, source=envelope["source"], subject=envelope.get("subject", ""), data=data,
                 id=str(uuid.uuid5(uuid.NAMESPACE_URL, envelope["id"] + json.dumps(changes, sort_keys=True, default=str)))
                 if changes else envelope["id"], time=time)

