"""The MongoDB unit of work every service with an outbox uses: a document and its event are written
in ONE transaction, and nothing is durable unless the caller says so.

    with uow:                      # one session and one transaction per `with` block
        uow.things.add(doc)        # an attached repository writes with the session
        uow.publish(event, "channel")
        uow.commit()               # without it, leaving the block rolls everything back

pymongo commits a transaction that is still open when its `with start_transaction()` block exits
without an error; this class aborts it instead, so a forgotten `commit()` never makes writes
durable. A subclass attaches its repositories (`self.things = self.attach(ThingRepository(...))`):
each gets a `session` attribute, the open session inside a `with` block and None outside it (so
reads outside a block use no session). A unit of work may open several blocks one after the other,
never one inside another. `MongoRepository` is the plain repository most services need: documents
of one collection keyed by one of their fields, listed newest first."""
from __future__ import annotations

from contextlib import ExitStack
from typing import TypeVar

from pymongo import DESCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database

from vitawin_common import contracts, mongo
from vitawin_common.config import Settings
from vitawin_common.events import Event
from vitawin_common.outbox import Outbox

R = TypeVar("R")


class MongoRepository:
    """Documents of one collection, stored with `_id` = their `id_field` and read back without it.
    A subclass names `id_field` and its `indexes` (lists of (field, direction)), and builds its
    queries for `newest`. Writes and reads use `session`: the unit of work's, once attached."""

    id_field: str = "id"
    indexes: tuple[list[tuple[str, int]], ...] = ()
    newest_first = (("created_at", DESCENDING), ("_id", DESCENDING))

    def __init__(self, collection: Collection):
        self.collection = collection
        self.session = None

    def ensure_indexes(self) -> None:
        for keys in self.indexes:
            self.collection.create_index(keys)

    def add(self, doc: dict) -> None:
        self.collection.insert_one({"_id": doc[self.id_field], **doc}, session=self.session)

    def get(self, id_: str) -> dict | None:
        return self.collection.find_one({"_id": id_}, {"_id": False}, session=self.session)

    def newest(self, query: dict, limit: int) -> list[dict]:
        """The documents matching `query`, newest first (ties by id), at most `limit`."""
        cursor = self.collection.find(query, {"_id": False}, session=self.session)
        return list(cursor.sort(list(self.newest_first)).limit(limit))


class UnitOfWork:
    """Base of a service's unit of work: see the module docstring. One per request or message."""

    def __init__(self, client: MongoClient, db: Database, outbox: Outbox):
        self.client = client
        self.db = db
        self.outbox = outbox
        self.session = None
        self._repositories: list = []
        self._stack: ExitStack | None = None

    @classmethod
    def from_settings(cls, settings: Settings):
        """The real wiring: this process's client, the service's database and its outbox."""
        db = mongo.database(settings)
        return cls(mongo.client(settings), db, Outbox(db, contracts.load(settings.contracts_dir)))

    def attach(self, repository: R) -> R:
        """Make `repository.session` follow this unit of work's transaction."""
        repository.session = self.session
        self._repositories.append(repository)
        return repository

    def ensure_indexes(self) -> None:
        """The outbox's indexes, then those of every attached repository that declares some."""
        self.outbox.ensure_indexes()
        for repository in self._repositories:
            if hasattr(repository, "ensure_indexes"):
                repository.ensure_indexes()

    def __enter__(self):
        if self.session is not None:
            raise RuntimeError("units of work do not nest: leave the open block first")
        stack = ExitStack()
        self.session = stack.enter_context(mongo.transaction(self.client))
        self._stack = stack
        self._bind(self.session)
        return self

    def __exit__(self, *exc_info) -> None:
        stack, session = self._stack, self.session
        try:
            if session.in_transaction:  # not committed: never let pymongo's context manager commit
                session.abort_transaction()
        finally:
            self._bind(None)
            self.session = self._stack = None
            stack.__exit__(*exc_info)

    def _bind(self, session) -> None:
        for repository in self._repositories:
            repository.session = session

    def publish(self, event: Event, channel: str) -> None:
        """Add `event` to the outbox, in the open transaction: it is published only if committed."""
        if self.session is None or not self.session.in_transaction:
            raise RuntimeError("publish() belongs inside `with uow:`, before commit(): the event goes "
                               "with its document")
        self.outbox.add(event, channel, session=self.session)

    def publish_many(self, events: list[Event], channel: str) -> None:
        """`publish` for several events, in one insert."""
        if self.session is None or not self.session.in_transaction:
            raise RuntimeError("publish_many() belongs inside `with uow:`, before commit()")
        self.outbox.add_many(events, channel, session=self.session)

    def commit(self) -> None:
        if self.session is None:
            raise RuntimeError("commit() belongs inside `with uow:`")
        self.session.commit_transaction()
