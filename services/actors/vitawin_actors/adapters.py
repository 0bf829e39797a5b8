"""MongoDB adapters: the volunteers repository and a unit of work that writes documents and
outbox entries in one transaction."""
from __future__ import annotations

from contextlib import ExitStack

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database

from vitawin_common.events import Event
from vitawin_common.mongo import transaction
from vitawin_common.outbox import Outbox


class VolunteerRepository:
    def __init__(self, collection: Collection):
        self.collection = collection
        self.session = None  # set by the unit of work inside a transaction

    def ensure_indexes(self) -> None:
        self.collection.create_index([("town", ASCENDING)])
        self.collection.create_index([("action_types", ASCENDING)])
        self.collection.create_index([("created_at", DESCENDING)])

    def add(self, doc: dict) -> None:
        self.collection.insert_one({"_id": doc["volunteer_id"], **doc}, session=self.session)

    def get(self, volunteer_id: str) -> dict | None:
        return self.collection.find_one({"_id": volunteer_id}, {"_id": False}, session=self.session)

    def list(self, *, town: str | None = None, action_type: str | None = None, limit: int = 50) -> list[dict]:
        query = {}
        if town:
            query["town"] = town
        if action_type:
            query["action_types"] = action_type  # matches an element of the array
        cursor = self.collection.find(query, {"_id": False}, session=self.session)
        return list(cursor.sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(limit))


class MongoUnitOfWork:
    """`with uow:` opens a session and a transaction; `commit()` makes the writes durable, leaving
    the block without it rolls them back."""

    def __init__(self, client, db: Database, outbox: Outbox):
        self.client = client
        self.outbox = outbox
        self.volunteers = VolunteerRepository(db["volunteers"])
        self.session = None

    def __enter__(self) -> "MongoUnitOfWork":
        self._stack = ExitStack()
        self.session = self._stack.enter_context(transaction(self.client))
        self.volunteers.session = self.session
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            if self.session.in_transaction:  # not committed: never let the context manager commit
                self.session.abort_transaction()
        finally:
            self.volunteers.session = self.session = None
            self._stack.__exit__(*exc_info)

    def publish(self, event: Event, channel: str) -> None:
        self.outbox.add(event, channel, session=self.session)

    def commit(self) -> None:
        self.session.commit_transaction()
