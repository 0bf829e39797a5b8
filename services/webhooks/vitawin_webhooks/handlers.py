"""The service layer. Each takes a unit-of-work factory (one unit of work per message or request).

- `Translator`: internal events -> the read model of facts, and public events through the outbox
  (one transaction each). Events are applied in version order: one whose version is not newer
  than the facts' is dropped, so a redelivered event publishes nothing twice.
- `Recorder`: each public event, read back from its public topic -> stored (for replays) and one
  pending delivery per active subscription that wants its type in its town, in one transaction;
  the consumer loop commits the offset after it. Nothing is sent here: the dispatcher sends.
- `Subscriptions`: what the API does (create, change, delete, replay, rotate the secret)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Callable

from vitawin_common.events import Event

from vitawin_webhooks import domain, public
from vitawin_webhooks.store import event_document

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Translator:
    def __init__(self, uow_factory: Callable, pseudonym_key: bytes):
        self.uow_factory = uow_factory
        self.key = pseudonym_key

    def handlers(self) -> dict[str, Callable[[Event], None]]:
        return {
            "fr.vitawin.request.created.v2": self.on_request_created,
            "fr.vitawin.request.updated.v1": self.on_request_updated,
            "fr.vitawin.request.cancelled.v1": lambda e: self.on_request_closed(e, "cancelled", e.data["cancelled_at"]),
            "fr.vitawin.request.fulfilled.v1": lambda e: self.on_request_closed(
                e, "fulfilled", e.data["at"], len(e.data["accepted_proposal_ids"])),
            "fr.vitawin.request.expired.v1": lambda e: self.on_request_closed(e, "expired", e.data["at"]),
            "fr.vitawin.volunteer.registered.v1": self.on_pledge_changed,
            "fr.vitawin.volunteer.updated.v1": self.on_pledge_changed,
            "fr.vitawin.volunteer.withdrawn.v1": self.on_pledge_withdrawn,
            "fr.vitawin.proposal.accepted.v1": self.on_proposal_accepted,
            "fr.vitawin.initiative.published.v1": self.on_initiative_published,
            "fr.vitawin.initiative.updated.v1": self.on_initiative_updated,
            "fr.vitawin.initiative.closed.v1": self.on_initiative_closed,
            "fr.vitawin.actor.registered.v1": self.on_actor_registered,
            "fr.vitawin.actor.erased.v1": self.on_actor_erased,
        }

    @staticmethod
    def _publish(uow, type_: str, subject: str, data: dict, cause: Event) -> None:
        uow.publish(public.public_event(type_, subject, data, cause), public.channel_of(type_))

    # --- requests ---
    def on_request_created(self, event: Event) -> None:
        uow = self.uow_factory()
        with uow:
            if uow.requests.get(event.data["request_id"]) is not None:
                return  # seen already
            uow.requests.put(public.request_facts(event.data))
            data = public.request_published(event.data)
            if data is not None:
                self._publish(uow, public.REQUEST_PUBLISHED, data["request_id"], data, event)
            uow.commit()

    def on_request_updated(self, event: Event) -> None:
        uow = self.uow_factory()
        with uow:
            known = uow.requests.get(event.data["request_id"])
            if known is not None and known["version"] >= event.data["version"]:
                return
            uow.requests.put(public.request_facts(event.data))
            uow.commit()

    def on_request_closed(self, event: Event, outcome: str, at: str, accepted_count: int | None = None) -> None:
        uow = self.uow_factory()
        with uow:
            facts = uow.requests.get(event.data["request_id"])
            if facts is None:
                log.info("closing of a request never seen: nothing public", extra={"event_id": event.id})
                return
            if facts["version"] >= event.data["version"]:
                return
            uow.requests.put({**facts, "version": event.data["version"], "status": outcome})
            if public.is_public_request(facts):
                data = public.request_closed(facts, outcome, at, accepted_count if outcome == "fulfilled" else None)
                self._publish(uow, public.REQUEST_CLOSED, facts["request_id"], data, event)
            uow.commit()

    # --- pledges ---
    def on_pledge_changed(self, event: Event) -> None:
        """registered (version 1) and updated (the whole new state): published when it becomes
        offered or its public state changes while offered; withdrawn (paused) when it is paused."""
        uow = self.uow_factory()
        with uow:
            known = uow.pledges.get(event.data["volunteer_id"])
            version = int(event.data.get("version", 1))
            if known is not None and known["version"] >= version:
                return
            facts = public.pledge_facts(event.data, known)
            uow.pledges.put(facts)
            was_offered = known is not None and known["status"] == "active"
            changed = known is None or (known["town"], known["action_types"]) != (facts["town"], facts["action_types"])
            at = public.iso(event.time)
            if facts["status"] == "active" and (changed or not was_offered):
                organisation = uow.organisations.get(facts["actor_id"]) if facts.get("actor_id") else None
                data = public.pledge_published(facts, organisation, at, self.key)
                self._publish(uow, public.PLEDGE_PUBLISHED, data["pledge_id"], data, event)
            elif facts["status"] == "paused" and was_offered:
                data = public.pledge_withdrawn(facts, "paused", facts["version"], at, self.key)
                self._publish(uow, public.PLEDGE_WITHDRAWN, data["pledge_id"], data, event)
            uow.commit()

    def on_pledge_withdrawn(self, event: Event) -> None:
        uow = self.uow_factory()
        with uow:
            known = uow.pledges.get(event.data["volunteer_id"])
            if known is None or known["version"] >= event.data["version"] or known["status"] == "withdrawn":
                return
            uow.pledges.put({**known, "status": "withdrawn", "version": event.data["version"]})
            data = public.pledge_withdrawn(known, "withdrawn", event.data["version"], event.data["withdrawn_at"], self.key)
            self._publish(uow, public.PLEDGE_WITHDRAWN, data["pledge_id"], data, event)
            uow.commit()

    # --- proposals ---
    def on_proposal_accepted(self, event: Event) -> None:
        uow = self.uow_factory()
        with uow:
            if uow.accepted.get(event.data["proposal_id"]) is not None:
                return
            request = uow.requests.get(event.data["request_id"])
            if request is None:
                log.info("accepted proposal of a request never seen: nothing public", extra={"event_id": event.id})
                return
            uow.accepted.put({"proposal_id": event.data["proposal_id"]})
            data = public.proposal_accepted(request, event.data["accepted_at"])
            self._publish(uow, public.PROPOSAL_ACCEPTED, data["town"], data, event)
            uow.commit()

    # --- initiatives ---
    def on_initiative_published(self, event: Event) -> None:
        uow = self.uow_factory()
        with uow:
            if uow.initiatives.get(event.data["initiative_id"]) is not None:
                return
            uow.initiatives.put(public.initiative_facts(event.data))
            data = public.initiative_published(event.data)
            self._publish(uow, public.INITIATIVE_PUBLISHED, data["initiative_id"], data, event)
            uow.commit()

    def on_initiative_updated(self, event: Event) -> None:
        uow = self.uow_factory()
        with uow:
            known = uow.initiatives.get(event.data["initiative_id"])
            if known is not None and known["version"] >= event.data["version"]:
                return
            uow.initiatives.put(public.initiative_facts(event.data))
            uow.commit()

    def on_initiative_closed(self, event: Event) -> None:
        uow = self.uow_factory()
        with uow:
            known = uow.initiatives.get(event.data["initiative_id"])
            if known is None or known["version"] >= event.data["version"]:
                return
            uow.initiatives.put({**known, "version": event.data["version"], "closed": True})
            data = public.initiative_closed(known, event.data)
            self._publish(uow, public.INITIATIVE_CLOSED, data["initiative_id"], data, event)
            uow.commit()

    # --- organisations (kind and sector of a pledge's organisation) ---
    def on_actor_registered(self, event: Event) -> None:
        facts = public.organisation_facts(event.data)
        if facts is None:
            return
        uow = self.uow_factory()
        with uow:
            uow.organisations.put(facts)
            uow.commit()

    def on_actor_erased(self, event: Event) -> None:
        uow = self.uow_factory()
        with uow:
            uow.organisations.delete(event.data["actor_id"])
            uow.commit()


class Recorder:
    def __init__(self, uow_factory: Callable, policy: domain.RetryPolicy, clock: Callable[[], datetime] = utcnow):
        self.uow_factory, self.policy, self.clock = uow_factory, policy, clock

    def handlers(self) -> dict[str, Callable[[Event], None]]:
        return {type_: self.record for type_ in public.TYPES}

    def record(self, event: Event) -> int:
        """Store `event` and make its deliveries; how many (0 when it was recorded already)."""
        uow = self.uow_factory()
        with uow:
            if uow.events.get(event.id) is not None:
                return 0
            doc = event_document(event)
            uow.events.add(doc)
            now = self.clock()
            deliveries = [domain.new_delivery(sub, doc, now, self.policy)
                          for sub in uow.subscriptions.matching(event.type, doc["town"])]
            uow.deliveries.add_many(deliveries)
            uow.commit()
            return len(deliveries)


class TooManySubscriptions(Exception):
    """The partner has as many subscriptions as it may."""


class TooManyEvents(Exception):
    """A replay that would send more events than one replay may."""


class Subscriptions:
    """What the API does with subscriptions; `clock()` is the time."""

    def __init__(self, uow_factory: Callable, policy: domain.RetryPolicy, clock: Callable[[], datetime] = utcnow):
        self.uow_factory, self.policy, self.clock = uow_factory, policy, clock

    def create(self, owner: str, url: str, event_types: list[str], towns: list[str], label: str | None) -> dict:
        uow = self.uow_factory()
        with uow:
            if uow.subscriptions.count(owner) >= domain.MAX_SUBSCRIPTIONS_PER_OWNER:
                raise TooManySubscriptions()
            doc = domain.new_subscription(owner=owner, url=url, event_types=event_types, towns=towns, label=label,
                                          now=self.clock())
            uow.subscriptions.add(doc)
            uow.commit()
        return doc

    def change(self, subscription: dict, changes: dict) -> dict:
        """url, event_types, towns, label, status (active or paused; active again clears failing)."""
        doc = {**subscription, "updated_at": self.clock()}
        for field in ("url", "label"):
            if field in changes:
                doc[field] = changes[field]
        for field in ("event_types", "towns"):
            if field in changes:
                doc[field] = sorted(set(changes[field]))
        if "status" in changes:
            doc["status"] = changes["status"]
            if changes["status"] == domain.ACTIVE:
                doc.pop("failing_since", None)
        uow = self.uow_factory()
        with uow:
            uow.subscriptions.put(doc)
            uow.commit()
        return doc

    def delete(self, subscription: dict) -> None:
        uow = self.uow_factory()
        with uow:
            uow.subscriptions.delete(subscription["subscription_id"])
            uow.deliveries.delete_for(subscription["subscription_id"])
            uow.commit()

    def rotate(self, subscription: dict, grace: timedelta) -> dict:
        doc = domain.rotate_secret(subscription, self.clock(), grace)
        uow = self.uow_factory()
        with uow:
            uow.subscriptions.put(doc)
            uow.commit()
        return doc

    def replay(self, subscription: dict, since: datetime, limit: int) -> int:
        """A new delivery of each stored public event since `since` that the subscription wants
        (its types and towns today), oldest first; TooManyEvents past `limit`."""
        uow = self.uow_factory()
        events = uow.events.since(since, subscription["event_types"], subscription["towns"], limit + 1)
        if len(events) > limit:
            raise TooManyEvents()
        now = self.clock()
        with uow:
            uow.deliveries.add_many([domain.new_delivery(subscription, event, now, self.policy, replay=True)
                                     for event in events])
            uow.commit()
        return len(events)
