"""The MongoDB repository of initiatives (collection `initiatives`, keyed by initiative_id), to attach
to the service's unit of work as `initiatives` (its writes then join the unit of work's transaction)."""
from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING, DESCENDING

from vitawin_common.uow import MongoRepository

from vitawin_requests.initiatives.domain import ConcurrentChange, InitiativeFilter, due_for_closing

MAP_LIMIT = 2000  # features on one map


class InitiativeRepository(MongoRepository):
    id_field = "initiative_id"
    indexes = ([("created_at", DESCENDING)], [("status", ASCENDING), ("kind", ASCENDING)], [("town", ASCENDING)],
               [("partner_kinds_sought", ASCENDING)], [("kind", ASCENDING), ("status", ASCENDING), ("deadline", ASCENDING)])

    def replace(self, doc: dict, expected_version: int) -> None:
        """Write the new state of an initiative, in the unit of work's transaction, only over the
        version it was read at; ConcurrentChange if another change came first."""
        result = self.collection.replace_one({"_id": doc[self.id_field], "version": expected_version},
                                             {"_id": doc[self.id_field], **doc}, session=self.session)
        if result.matched_count != 1:
            raise ConcurrentChange(doc[self.id_field])

    def page(self, flt: InitiativeFilter, page: int = 1, page_size: int = 20) -> tuple[list[dict], int]:
        """One page of the initiatives matching `flt`, newest first (ties by id), and how many match."""
        query = flt.to_query()
        total = self.collection.count_documents(query, session=self.session)
        cursor = self.collection.find(query, {"_id": False}, session=self.session)
        items = list(cursor.sort(list(self.newest_first)).skip((page - 1) * page_size).limit(page_size))
        return items, total

    def on_map(self, flt: InitiativeFilter, limit: int = MAP_LIMIT) -> list[dict]:
        """The initiatives matching `flt`, newest first, at most `limit`."""
        return self.newest(flt.to_query(), limit)

    def due_for_closing(self, now: datetime) -> list[dict]:
        """Open calls for projects whose deadline has passed at `now`."""
        cursor = self.collection.find(due_for_closing(now).to_query(), {"_id": False}, session=self.session)
        return list(cursor)
