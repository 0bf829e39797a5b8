"""MongoDB adapters: the volunteers repository, attached to the common unit of work that writes
documents and outbox entries in one transaction."""
from __future__ import annotations

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from vitawin_common.outbox import Outbox
from vitawin_common.uow import MongoRepository, UnitOfWork


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


class MongoUnitOfWork(UnitOfWork):
    def __init__(self, client, db: Database, outbox: Outbox):
        super().__init__(client, db, outbox)
        self.volunteers = self.attach(VolunteerRepository(db["volunteers"]))
