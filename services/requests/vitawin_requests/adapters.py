"""MongoDB adapters: the requests repository, attached to the common unit of work that writes
documents and outbox entries in one transaction."""
from __future__ import annotations

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from vitawin_common.outbox import Outbox
from vitawin_common.uow import MongoRepository, UnitOfWork


class RequestRepository(MongoRepository):
    id_field = "request_id"
    indexes = ([("town", ASCENDING)], [("action_type", ASCENDING), ("status", ASCENDING)],
               [("created_at", DESCENDING)])

    def list(self, *, town: str | None = None, action_type: str | None = None,
             requester_kind: str | None = None, status: str | None = None, limit: int = 50) -> list[dict]:
        filters = {"town": town, "action_type": action_type, "requester_kind": requester_kind, "status": status}
        return self.newest({field: value for field, value in filters.items() if value}, limit)


class MongoUnitOfWork(UnitOfWork):
    def __init__(self, client, db: Database, outbox: Outbox):
        super().__init__(client, db, outbox)
        self.requests = self.attach(RequestRepository(db["requests"]))
