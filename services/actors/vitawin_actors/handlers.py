"""Service layer: use cases of the actors service, given a unit of work."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable, Mapping

from vitawin_common.events import new_event

from vitawin_actors.domain import Actor, Pledge, RegisterActor, RegisterVolunteer

log = logging.getLogger(__name__)

SOURCE = "/vitawin/actors"
VOLUNTEER_REGISTERED = "fr.vitawin.volunteer.registered.v1"
VOLUNTEER_UPDATED = "fr.vitawin.volunteer.updated.v1"
VOLUNTEER_WITHDRAWN = "fr.vitawin.volunteer.withdrawn.v1"
CHANNEL = "volunteers"
ACTOR_REGISTERED = "fr.vitawin.actor.registered.v1"
ACTORS_CHANNEL = "actors"


class VolunteerNotFound(LookupError):
    """No pledge has this id (a 404)."""


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


def update_volunteer(volunteer_id: str, changes: Mapping[str, Any], uow, now: datetime | None = None) -> Pledge:
    """Edit a pledge (`changes` already validated): fr.vitawin.volunteer.updated.v1 with the new
    state. A change that changes nothing writes and publishes nothing."""
    return _change(volunteer_id, uow, lambda pledge: pledge.edit(changes, now), "volunteer updated")


def pause_volunteer(volunteer_id: str, uow, now: datetime | None = None) -> Pledge:
    return _change(volunteer_id, uow, lambda pledge: pledge.pause(now), "volunteer paused")


def resume_volunteer(volunteer_id: str, uow, now: datetime | None = None) -> Pledge:
    return _change(volunteer_id, uow, lambda pledge: pledge.resume(now), "volunteer resumed")


def withdraw_volunteer(volunteer_id: str, uow, now: datetime | None = None) -> Pledge:
    """Withdraw a pledge for good: kept for history, fr.vitawin.volunteer.withdrawn.v1."""
    return _change(volunteer_id, uow, lambda pledge: pledge.withdraw(now), "volunteer withdrawn")


def _change(volunteer_id: str, uow, transition: Callable[[Pledge], Pledge], what: str) -> Pledge:
    """Read, change and write a pledge with its event in ONE transaction, over the version read
    (ConcurrentChange otherwise). domain.PledgeConflict when its status forbids the change."""
    with uow:
        doc = uow.volunteers.get(volunteer_id)
        if doc is None:
            raise VolunteerNotFound(volunteer_id)
        before = Pledge.from_document(doc)
        after = transition(before)
        if after is before:
            return before  # nothing changed: leaving the block without commit() writes nothing
        if after.status == "withdrawn":
            event = new_event(VOLUNTEER_WITHDRAWN, SOURCE, volunteer_id, after.withdrawn_event_data())
        else:
            event = new_event(VOLUNTEER_UPDATED, SOURCE, volunteer_id, after.updated_event_data())
        uow.volunteers.replace(after.to_document(), expected_version=before.version)
        uow.publish(event, CHANNEL)
        uow.commit()
    log.info(what, extra={"volunteer_id": volunteer_id, "version": after.version, "status": after.status,
                          "event_id": event.id})
    return after


def register_actor(command: RegisterActor, uow) -> Actor:
    """Store the actor and its event (public fields only) together; the outbox relay publishes it."""
    actor = Actor.register(command)
    event = new_event(ACTOR_REGISTERED, SOURCE, actor.actor_id, actor.event_data())
    with uow:
        uow.actors.add(actor.to_document())
        uow.publish(event, ACTORS_CHANNEL)
        uow.commit()
    log.info("actor registered", extra={"actor_id": actor.actor_id, "kind": actor.kind, "event_id": event.id})
    return actor
