"""In-memory stand-ins for `vitawin_common.uow`, for the services' unit tests (no database). They
keep the same rules as the real unit of work (nothing is kept unless `commit()` is called inside
the `with` block; events are published only inside it; blocks do not nest), so a test that passes
against them says something about the real thing. Used by tests only; imports nothing of pytest."""
from __future__ import annotations

import copy
from typing import Callable, TypeVar

R = TypeVar("R")


class InMemoryRepository:
    """`MongoRepository`'s add, get and newest over a dict of documents (`docs`, keyed by
    `id_field`). A subclass names `id_field` and writes its queries with `newest`."""

    id_field: str = "id"

    def __init__(self):
        self.docs: dict[str, dict] = {}

    def add(self, doc: dict) -> None:
        self.docs[doc[self.id_field]] = copy.deepcopy(doc)

    def get(self, id_: str) -> dict | None:
        return copy.deepcopy(self.docs.get(id_))

    def newest(self, matches: Callable[[dict], bool], limit: int) -> list[dict]:
        found = sorted((doc for doc in self.docs.values() if matches(doc)),
                       key=lambda doc: (doc["created_at"], doc[self.id_field]), reverse=True)
        return copy.deepcopy(found[:limit])


class InMemoryUnitOfWork:
    """Published (event, channel) pairs go to `published`; `committed` says whether the last block
    was committed. Attached repositories' `docs` are rolled back with `published` when a block is
    left without commit()."""

    def __init__(self):
        self.published: list[tuple] = []
        self.committed = False
        self._repositories: list = []
        self._snapshot = None

    def attach(self, repository: R) -> R:
        self._repositories.append(repository)
        return repository

    def __enter__(self):
        if self._snapshot is not None:
            raise RuntimeError("units of work do not nest: leave the open block first")
        self._snapshot = ([dict(r.docs) for r in self._repositories], list(self.published))
        self.committed = False
        return self

    def __exit__(self, *exc_info) -> None:
        docs, published = self._snapshot
        self._snapshot = None
        if not self.committed:
            for repository, saved in zip(self._repositories, docs):
                repository.docs = saved
            self.published = published

    def publish(self, event, channel: str) -> None:
        if self._snapshot is None or self.committed:
            raise RuntimeError("publish() belongs inside `with uow:`, before commit()")
        self.published.append((event, channel))

    def publish_many(self, events, channel: str) -> None:
        for event in events:
            self.publish(event, channel)

    def commit(self) -> None:
        if self._snapshot is None:
            raise RuntimeError("commit() belongs inside `with uow:`")
        self.committed = True


class RecordedFuture:
    """What `ProducerStandIn.send` returns: `get()` says the record was written."""

    def get(self, timeout=None):
        return None


class ProducerStandIn:
    """kafka-python's KafkaProducer.send, recording (topic, key, value, headers) in `sent`: for the
    consumer loop's dead letters in unit tests."""

    def __init__(self):
        self.sent: list[tuple] = []

    def send(self, topic, key=None, value=None, headers=None):
        self.sent.append((topic, key, value, headers))
        return RecordedFuture()
