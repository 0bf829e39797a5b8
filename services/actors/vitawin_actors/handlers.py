"""Service layer: use cases of the actors service, given a unit of work."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from vitawin_common.events import Event, new_event

from vitawin_actors.domain import (Actor, Pledge, RegisterActor, RegisterVolunteer, erased_event_data, is_erased,
                                   purge_pledge_document, tombstone)

log = logging.getLogger(__name__)

SOURCE = "/vitawin/actors"
VOLUNTEER_REGISTERED = "fr.vitawin.volunteer.registered.v1"
VOLUNTEER_UPDATED = "fr.vitawin.volunteer.updated.v1"
VOLUNTEER_WITHDRAWN = "fr.vitawin.volunteer.withdrawn.v1"
CHANNEL = "volunteers"
ACTOR_REGISTERED = "fr.vitawin.actor.registered.v1"
ACTOR_ERASED = "fr.vitawin.actor.erased.v1"
ACTORS_CHANNEL = "actors"
CONTACT_REGISTERED = "fr.vitawin.contact.registered.v1"
CONTACTS_CHANNEL = "contacts"  # internal, personal data: never to partners, never logged


class VolunteerNotFound(LookupError):
    """No pledge has this id (a 404)."""


class ActorNotFound(LookupError):
    """No actor has this id (a 404)."""


class ActorErased(Exception):
    """The actor was erased: only its tombstone is left (a 410)."""


class ConcurrentChange(Exception):
    """The pledge changed between its read and its write (another request came first): nothing
    was written; the caller may read it again and retry (a 409)."""


def register_volunteer(command: RegisterVolunteer, uow) -> Pledge:
    """Store the pledge and its event together; the outbox relay publishes the event."""
    pledge = Pledge.register(command)
    event = new_event(VOLUNTEER_REGISTERED, SOURCE, pledge.volunteer_id, pledge.registered_event_data())
    with uow:
        uow.volunteers.add(pledge.to_document())
        uow.publish(event, CHANNEL)
        uow.commit()
    log.info("volunteer registered", extra={"volunteer_id": pledge.volunteer_id, "event_id": event.id})
    return pledge


def update_volunteer(volunteer_id: str, changes: Mapping[str, Any], uow, now: datetime | None = None, *,
                     expected_version: int | None = None) -> Pledge:
    """Edit a pledge (`changes` already validated): fr.vitawin.volunteer.updated.v1 with the new
    state. A change that changes nothing writes and publishes nothing."""
    return _change(volunteer_id, uow, lambda pledge: pledge.edit(changes, now), "volunteer updated",
                   expected_version)


def pause_volunteer(volunteer_id: str, uow, now: datetime | None = None, *,
                    expected_version: int | None = None) -> Pledge:
    return _change(volunteer_id, uow, lambda pledge: pledge.pause(now), "volunteer paused", expected_version)


def resume_volunteer(volunteer_id: str, uow, now: datetime | None = None, *,
                     expected_version: int | None = None) -> Pledge:
    return _change(volunteer_id, uow, lambda pledge: pledge.resume(now), "volunteer resumed", expected_version)


def withdraw_volunteer(volunteer_id: str, uow, now: datetime | None = None, *,
                       expected_version: int | None = None) -> Pledge:
    """Withdraw a pledge for good: kept for history, fr.vitawin.volunteer.withdrawn.v1."""
    return _change(volunteer_id, uow, lambda pledge: pledge.withdraw(now), "volunteer withdrawn",
                   expected_version)


def _change(volunteer_id: str, uow, transition: Callable[[Pledge], Pledge], what: str,
            expected_version: int | None = None) -> Pledge:
    """Read, change and write a pledge with its event in ONE transaction, over the version read
    (ConcurrentChange otherwise). domain.PledgeConflict when its status forbids the change.
    `expected_version`: the version the caller checked (the API authorises the caller on the
    pledge it read first); ConcurrentChange, and nothing written, if the pledge is no longer at
    that version, so a change is never applied to a pledge its caller was not authorised on."""
    def checked(pledge: Pledge) -> Pledge:
        if expected_version is not None and pledge.version != expected_version:
            raise ConcurrentChange(volunteer_id)
        return transition(pledge)

    with uow:
        after, event = _apply(volunteer_id, uow, checked)
        if event is None:
            return after  # nothing changed: leaving the block without commit() writes nothing
        uow.commit()
    log.info(what, extra={"volunteer_id": volunteer_id, "version": after.version, "status": after.status,
                          "event_id": event.id})
    return after


def _apply(volunteer_id: str, uow, transition: Callable[[Pledge], Pledge], *,
           purge: bool = False) -> tuple[Pledge, Event | None]:
    """Inside an open `with uow:` block: read the pledge, change it, write it (without its personal
    data if `purge`) with its event. (pledge, None) when the transition changes nothing."""
    doc = uow.volunteers.get(volunteer_id)
    if doc is None:
        raise VolunteerNotFound(volunteer_id)
    before = Pledge.from_document(doc)
    after = transition(before)
    if after is before:
        return before, None
    if after.status == "withdrawn":
        event = new_event(VOLUNTEER_WITHDRAWN, SOURCE, volunteer_id, after.withdrawn_event_data())
    else:
        event = new_event(VOLUNTEER_UPDATED, SOURCE, volunteer_id, after.updated_event_data())
    document = after.to_document()
    uow.volunteers.replace(purge_pledge_document(document) if purge else document, expected_version=before.version)
    uow.publish(event, CHANNEL)
    return after, event


def contact_event(actor: Actor, *, id: str | None = None) -> Event | None:
    """fr.vitawin.contact.registered.v1 of a new actor (for the `contacts` channel), or None when
    there is nowhere to write to (see `Actor.contact_data`)."""
    data = actor.contact_data()
    return None if data is None else new_event(CONTACT_REGISTERED, SOURCE, actor.actor_id, data, id=id)


def register_actor(command: RegisterActor, uow) -> Actor:
    """Store the actor with its events, in ONE transaction: fr.vitawin.actor.registered.v1 (public
    fields only, `actors` channel) and, when there is somewhere to write to,
    fr.vitawin.contact.registered.v1 (internal `contacts` channel); the outbox relay publishes them."""
    actor = Actor.register(command)
    event = new_event(ACTOR_REGISTERED, SOURCE, actor.actor_id, actor.event_data())
    contact = contact_event(actor)
    with uow:
        uow.actors.add(actor.to_document())
        uow.publish(event, ACTORS_CHANNEL)
        if contact is not None:
            uow.publish(contact, CONTACTS_CHANNEL)
        uow.commit()
    log.info("actor registered", extra={"actor_id": actor.actor_id, "kind": actor.kind, "event_id": event.id,
                                        "contact_event_id": contact.id if contact is not None else None})
    return actor


def erase_actor(actor_id: str, uow, now: datetime | None = None) -> dict:
    """GDPR erasure, in ONE transaction: the actor keeps only its tombstone; each pledge linked to
    it is withdrawn (fr.vitawin.volunteer.withdrawn.v1, version + 1) and loses its personal data
    (one already withdrawn only loses its data: no new version, no event); then
    fr.vitawin.actor.erased.v1 (ids only). ActorNotFound, or ActorErased for a tombstone (nothing
    written). Returns the tombstone."""
    now = now or datetime.now(timezone.utc)
    with uow:
        doc = uow.actors.get(actor_id)
        if doc is None:
            raise ActorNotFound(actor_id)
        if is_erased(doc):
            raise ActorErased(actor_id)
        tomb = tombstone(doc, now)
        uow.actors.replace(tomb)
        withdrawn = []
        for pledge in uow.volunteers.linked_to(actor_id):
            if pledge.get("status") == "withdrawn":
                uow.volunteers.replace(purge_pledge_document(pledge), expected_version=pledge.get("version", 1))
            else:
                _apply(pledge["volunteer_id"], uow, lambda p: p.withdraw(now), purge=True)
                withdrawn.append(pledge["volunteer_id"])
        event = new_event(ACTOR_ERASED, SOURCE, actor_id, erased_event_data(tomb))
        uow.publish(event, ACTORS_CHANNEL)
        uow.commit()
    log.info("actor erased", extra={"actor_id": actor_id, "kind": tomb["kind"], "event_id": event.id,
                                    "withdrawn_volunteer_ids": withdrawn})
    return tomb
