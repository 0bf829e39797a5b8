"""MongoDB adapters: the volunteers and actors repositories, attached to the common unit of work that writes
documents and outbox entries in one transaction."""
from __future__ import annotations

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from vitawin_common.outbox import Outbox
from vitawin_common.uow import MongoRepository, UnitOfWork

from vitawin_actors.domain import MAPPED_KINDS, BoundingBox


class VolunteerRepository(MongoRepository):
    id_field = "volunteer_id"
    indexes = ([("town", ASCENDING)], [("action_types", ASCENDING)], [("created_at", DESCENDING)])

    def list(self, *, town: str | None = None, action_type: str | None = None, limit: int = 50) -> list[dict]:
        query = {}
        if town:
            query["town"] = town
        if action_type:
            query["action_types"] = action_type  # matches an element of the array
        return self.newest(query, limit)


class ActorRepository(MongoRepository):
    """The directory of actors (collection `actors`), keyed by actor_id."""
    id_field = "actor_id"
    indexes = ([("kind", ASCENDING), ("town", ASCENDING)], [("town", ASCENDING)], [("created_at", DESCENDING)])
    # The map shows these fields only: never a contact e-mail.
    MAP_PROJECTION = {"_id": False, "actor_id": True, "kind": True, "name": True, "town": True, "location": True}

    @staticmethod
    def _query(kinds=None, town: str | None = None) -> dict:
        query: dict = {}
        if kinds:
            query["kind"] = {"$in": list(kinds)}
        if town:
            query["town"] = town
        return query

    def page(self, *, kinds=None, town: str | None = None, page: int = 1,
             page_size: int = 50) -> tuple[list[dict], int]:
        """One page of the actors matching the filters, newest first (ties by id), and how many match."""
        query = self._query(kinds, town)
        total = self.collection.count_documents(query, session=self.session)
        cursor = self.collection.find(query, {"_id": False}, session=self.session)
        items = list(cursor.sort(list(self.newest_first)).skip((page - 1) * page_size).limit(page_size))
        return items, total

    def on_map(self, bbox: BoundingBox | None = None) -> list[dict]:
        """Organisations and schools (never pupils), within `bbox` if given, with the map's fields."""
        query: dict = {"kind": {"$in": list(MAPPED_KINDS)}}
        if bbox is not None:
            query["location.lon"] = {"$gte": bbox.min_lon, "$lte": bbox.max_lon}
            query["location.lat"] = {"$gte": bbox.min_lat, "$lte": bbox.max_lat}
        cursor = self.collection.find(query, self.MAP_PROJECTION, session=self.session)
        return list(cursor.sort(list(self.newest_first)))


class MongoUnitOfWork(UnitOfWork):
    def __init__(self, client, db: Database, outbox: Outbox):
        super().__init__(client, db, outbox)
        self.volunteers = self.attach(VolunteerRepository(db["volunteers"]))
        self.actors = self.attach(ActorRepository(db["actors"]))
