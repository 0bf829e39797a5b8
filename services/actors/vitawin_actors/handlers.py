"""Service layer: use cases of the actors service, given a unit of work."""
from __future__ import annotations

import logging

from vitawin_common.events import new_event

from vitawin_actors.domain import Actor, RegisterActor, RegisterVolunteer, Volunteer

log = logging.getLogger(__name__)

SOURCE = "/vitawin/actors"
VOLUNTEER_REGISTERED = "fr.vitawin.volunteer.registered.v1"
CHANNEL = "volunteers"
ACTOR_REGISTERED = "fr.vitawin.actor.registered.v1"
ACTORS_CHANNEL = "actors"


def register_volunteer(command: RegisterVolunteer, uow) -> Volunteer:
    """Store the volunteer and its event together; the outbox relay publishes the event."""
    volunteer = Volunteer.register(command)
    event = new_event(VOLUNTEER_REGISTERED, SOURCE, volunteer.volunteer_id, volunteer.event_data())
    with uow:
        uow.volunteers.add(volunteer.to_document())
        uow.publish(event, CHANNEL)
        uow.commit()
    log.info("volunteer registered", extra={"volunteer_id": volunteer.volunteer_id, "event_id": event.id})
    return volunteer


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
