"""MongoDB adapters: the volunteers and actors repositories, attached to the common unit of work that writes
documents and outbox entries in one transaction; the ROME reference file."""
from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from vitawin_common.outbox import Outbox
from vitawin_common.periods import MonthPeriod
from vitawin_common.uow import MongoRepository, UnitOfWork

from vitawin_actors.domain import ERASED, MAPPED_KINDS, BoundingBox, PledgeFilter, RomeReference
from vitawin_actors.handlers import ConcurrentChange

@lru_cache(maxsize=None)
def load_rome_reference(path: Path) -> RomeReference:
    """The ROME job sheets: contracts/reference/rome.json (see the README beside it), shared by the
    services as part of the vocabulary of their events."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    return RomeReference(document["jobs"], source=document.get("name", ""))


def _page(repository: MongoRepository, query: dict, page: int, page_size: int) -> tuple[list[dict], int]:
    """Page `page` (from 1) of `page_size` documents matching `query`, newest first (ties by id),
    and how many match in all."""
    total = repository.collection.count_documents(query, session=repository.session)
    cursor = repository.collection.find(query, {"_id": False}, session=repository.session)
    items = list(cursor.sort(list(repository.newest_first)).skip((page - 1) * page_size).limit(page_size))
    return items, total


# The dashboard's town and period (`_for_stats`): SecantusDB scans the collection for an equality
# on town plus a range on created_at over two single-field indexes (803 ms for 2,230 of 60,000
# actors), and reads this index (85 ms; bench/dashboard_stats.py, docs/benchmarks.md).
STATS_INDEX = [("town", ASCENDING), ("created_at", ASCENDING)]


def _for_stats(repository: MongoRepository, period: MonthPeriod, town: str | None,
               fields: tuple[str, ...]) -> Iterator[dict]:
    """`fields` of the documents created in `period` (and in `town` if given), for the dashboard's
    counts: a range on created_at and an equality on town, nothing else, so that SecantusDB reads
    STATS_INDEX or the created_at index (any other condition is left to the caller, in Python)."""
    query = {**period.to_query("created_at"), **({"town": town} if town else {})}
    return repository.collection.find(query, {"_id": False, **dict.fromkeys(fields, True)},
                                      session=repository.session)


class VolunteerRepository(MongoRepository):
    id_field = "volunteer_id"
    indexes = ([("town", ASCENDING)], [("action_types", ASCENDING)], [("created_at", DESCENDING)],
               [("actor_id", ASCENDING)], STATS_INDEX)

    def page(self, where: PledgeFilter = PledgeFilter(), *, page: int = 1,
             page_size: int = 50) -> tuple[list[dict], int]:
        """One page of the pledges `where` selects (`PledgeFilter.to_query`), newest first (ties by
        id), and how many it selects."""
        return _page(self, where.to_query(), page, page_size)

    def for_stats(self, period: MonthPeriod, town: str | None, fields: tuple[str, ...]) -> Iterator[dict]:
        """The pledges registered in `period` (in `town` if given), `fields` only (`_for_stats`)."""
        return _for_stats(self, period, town, fields)

    def linked_to(self, actor_id: str) -> list[dict]:
        """Every pledge of the organisation `actor_id`, whatever its status."""
        return list(self.collection.find({"actor_id": actor_id}, {"_id": False}, session=self.session))

    def replace(self, doc: dict, expected_version: int) -> None:
        """Write the new state of a pledge, inside the unit of work's transaction, only over the
        version it was read at (a pledge stored without a version is version 1); ConcurrentChange
        if another change came first."""
        version = {"$in": [1, None]} if expected_version == 1 else expected_version
        result = self.collection.replace_one({"_id": doc[self.id_field], "version": version},
                                             {"_id": doc[self.id_field], **doc}, session=self.session)
        if result.matched_count != 1:
            raise ConcurrentChange(doc[self.id_field])


class ActorRepository(MongoRepository):
    """The directory of actors (collection `actors`), keyed by actor_id. The map is served from an
    in-memory index (vitawin_actors.map_follower) that reads it with `map_documents` once, then
    with `map_changes`: the created_at and erased_at indexes make those cheap."""
    id_field = "actor_id"
    indexes = ([("kind", ASCENDING), ("town", ASCENDING)], [("town", ASCENDING)], [("created_at", DESCENDING)],
               [("erased_at", ASCENDING)], STATS_INDEX)
    # The map reads these fields only: never a contact e-mail (status: to tell a tombstone).
    MAP_PROJECTION = {"_id": False, "actor_id": True, "kind": True, "name": True, "town": True, "location": True,
                      "status": True}

    @staticmethod
    def _query(kinds=None, town: str | None = None, bbox: BoundingBox | None = None) -> dict:
        query: dict = {"status": {"$ne": ERASED}}  # an erased actor's tombstone is listed nowhere
        if kinds:
            query["kind"] = {"$in": list(kinds)}
        if town:
            query["town"] = town
        if bbox is not None:  # pupils and territory managers have no location: never inside
            query.update(bbox.to_query("location"))
        return query

    def page(self, *, kinds=None, town: str | None = None, bbox: BoundingBox | None = None, page: int = 1,
             page_size: int = 50) -> tuple[list[dict], int]:
        """One page of the actors matching the filters, newest first (ties by id), and how many match."""
        return _page(self, self._query(kinds, town, bbox), page, page_size)

    def for_stats(self, period: MonthPeriod, town: str | None, fields: tuple[str, ...]) -> Iterator[dict]:
        """The actors registered in `period` (in `town` if given), `fields` only (`_for_stats`);
        erased actors' tombstones included (they have no created_at: only an open period holds
        them), for the caller to leave out."""
        return _for_stats(self, period, town, fields)

    def map_documents(self) -> Iterable[dict]:
        """Every organisation and school (never a pupil), tombstones included, with the map's
        fields only: the in-memory map index's load (one scan)."""
        return self.collection.find({"kind": {"$in": list(MAPPED_KINDS)}}, self.MAP_PROJECTION, session=self.session)

    def map_changes(self, since: datetime) -> list[dict]:
        """The organisations and schools created at or after `since` (the map's fields), then the
        tombstones of those erased at or after `since`: what the map index catches up with. Two
        queries, each on its index (one $or of the two makes SecantusDB scan the collection)."""
        kinds = {"$in": list(MAPPED_KINDS)}
        created = self.collection.find({"created_at": {"$gte": since}, "kind": kinds}, self.MAP_PROJECTION,
                                       session=self.session)
        erased = self.collection.find({"erased_at": {"$gte": since}, "kind": kinds},
                                      {"_id": False, "actor_id": True, "kind": True, "status": True},
                                      session=self.session)
        return [*created, *erased]

    def replace(self, doc: dict) -> None:
        """Write the whole new document of an actor (its tombstone), inside the unit of work's
        transaction."""
        self.collection.replace_one({"_id": doc[self.id_field]}, {"_id": doc[self.id_field], **doc},
                                    session=self.session)


class MongoUnitOfWork(UnitOfWork):
    def __init__(self, client, db: Database, outbox: Outbox):
        super().__init__(client, db, outbox)
        self.volunteers = self.attach(VolunteerRepository(db["volunteers"]))
        self.actors = self.attach(ActorRepository(db["actors"]))
