"""MongoDB adapters: the requests repository and the schools read model, attached to the common
unit of work that writes documents and outbox entries in one transaction; the ROME reference file."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from vitawin_common.outbox import Outbox
from vitawin_common.periods import MonthPeriod
from vitawin_common.uow import UnitOfWork

from vitawin_requests.access import RequestFilter
from vitawin_requests.domain import ACTIVE
from vitawin_requests.handlers import ConcurrentChange
from vitawin_requests.initiatives.adapters import InitiativeRepository
from vitawin_requests.kinds import RomeReference
from vitawin_requests.moderation_adapters import ModeratedRepository
from vitawin_requests.schools import SchoolRepository

MAP_LIMIT = 2000  # features on one map


@lru_cache(maxsize=None)
def load_rome_reference(path: Path) -> RomeReference:
    """The ROME job sheets of contracts/reference/rome.json (read once per process)."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    return RomeReference(document["jobs"], source=document.get("name", ""))


class RequestRepository(ModeratedRepository):
    """Collection `requests`, keyed by request_id. `replace` (a change, over the version read) and
    `add_report` come from ModeratedRepository."""
    id_field = "request_id"
    concurrent_change = ConcurrentChange
    indexes = ([("created_at", DESCENDING)], [("status", ASCENDING), ("expires_at", ASCENDING)],
               [("requester_kind", ASCENDING), ("status", ASCENDING)], [("kind", ASCENDING)], [("town", ASCENDING)],
               [("school_uai", ASCENDING)], [("requester_actor_id", ASCENDING)], [("levels", ASCENDING)],
               [("rome_codes", ASCENDING)], [("period", ASCENDING)], [("date", ASCENDING)],
               [("report_count", ASCENDING)],
               [("town", ASCENDING), ("created_at", ASCENDING)])  # the dashboard's town and period (for_stats)

    def page(self, where: RequestFilter, *, page: int = 1, page_size: int = 50) -> tuple[list[dict], int]:
        """One page of the requests `where` selects (`RequestFilter.to_query`), newest first (ties by
        id), and how many it selects."""
        query = where.to_query()
        total = self.collection.count_documents(query, session=self.session)
        cursor = self.collection.find(query, {"_id": False}, session=self.session)
        items = list(cursor.sort(list(self.newest_first)).skip((page - 1) * page_size).limit(page_size))
        return items, total

    def for_stats(self, period: MonthPeriod, town: str | None, fields: tuple[str, ...]) -> Iterator[dict]:
        """`fields` of the requests made in `period` (in `town` if given), hidden ones included, for
        the dashboard's counts: a range on created_at and an equality on town only, so that
        SecantusDB reads the (town, created_at) or the created_at index."""
        query = {**period.to_query("created_at"), **({"town": town} if town else {})}
        return self.collection.find(query, {"_id": False, **dict.fromkeys(fields, True)}, session=self.session)

    def on_map(self, where: RequestFilter, limit: int = MAP_LIMIT) -> list[dict]:
        """The requests `where` selects, newest first, at most `limit`."""
        return self.newest(where.to_query(), limit)

    def due(self, now: datetime) -> list[str]:
        """The ids of the open or partly matched requests whose expiry is `now` or earlier."""
        cursor = self.collection.find({"status": {"$in": list(ACTIVE)}, "expires_at": {"$lte": now}},
                                      {"_id": False, "request_id": True}, session=self.session)
        return [doc["request_id"] for doc in cursor]


class MongoUnitOfWork(UnitOfWork):
    def __init__(self, client, db: Database, outbox: Outbox):
        super().__init__(client, db, outbox)
        self.requests = self.attach(RequestRepository(db["requests"]))
        self.schools = self.attach(SchoolRepository(db["schools"]))
        self.initiatives = self.attach(InitiativeRepository(db["initiatives"]))
