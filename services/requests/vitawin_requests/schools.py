"""The territory's schools as the requests service knows them: a read model kept from the actors
service's public events (fr.vitawin.actor.registered.v1 for kind "school", fr.vitawin.actor.erased.v1).

A request names its school by UAI (the caller's token says which); the school's place, the levels
it teaches and its internship weeks per level come from here, so the requests service never asks
the actors service at request time and keeps working when it is down. Only public fields are
kept: the same ones the actors service publishes to every consumer.

Replays change nothing: a registration sets the school's fields (the same values again), an
erasure deletes it. Events of one actor arrive in order (Kafka key = actor_id)."""
from __future__ import annotations

import logging

from pymongo import ASCENDING

from vitawin_common.events import Event
from vitawin_common.uow import MongoRepository

log = logging.getLogger(__name__)

ACTOR_REGISTERED = "fr.vitawin.actor.registered.v1"
ACTOR_ERASED = "fr.vitawin.actor.erased.v1"
SCHOOL_FIELDS = ("uai", "actor_id", "name", "town", "location", "school_type", "levels", "internship_periods")


def school_from_event(data: dict) -> dict | None:
    """The read-model document of a registered school, or None for another kind of actor."""
    if data.get("kind") != "school":
        return None
    school = {name: data[name] for name in SCHOOL_FIELDS if name in data}
    school.setdefault("levels", [])
    school.setdefault("internship_periods", {})
    return school


class SchoolRepository(MongoRepository):
    """Collection `schools`, keyed by UAI."""
    id_field = "uai"
    indexes = ([("actor_id", ASCENDING)],)

    def put(self, school: dict) -> None:
        """Insert or overwrite the school of this UAI (idempotent)."""
        self.collection.replace_one({"_id": school["uai"]}, {"_id": school["uai"], **school}, upsert=True,
                                    session=self.session)

    def remove_actor(self, actor_id: str) -> int:
        return self.collection.delete_many({"actor_id": actor_id}, session=self.session).deleted_count


def on_actor_registered(event: Event, uow) -> None:
    school = school_from_event(event.data)
    if school is None:
        return
    with uow:
        uow.schools.put(school)
        uow.commit()
    log.info("school known", extra={"actor_id": school["actor_id"], "uai": school["uai"]})


def on_actor_erased(event: Event, uow) -> None:
    if event.data.get("kind") != "school":
        return
    with uow:
        removed = uow.schools.remove_actor(event.data["actor_id"])
        uow.commit()
    log.info("school erased", extra={"actor_id": event.data["actor_id"], "removed": removed})
