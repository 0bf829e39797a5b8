"""The MongoDB repository of initiatives (collection `initiatives`, keyed by initiative_id), to attach
to the service's unit of work as `initiatives` (its writes then join the unit of work's transaction)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pymongo import ASCENDING, DESCENDING

from vitawin_common.periods import MonthPeriod

from vitawin_requests.initiatives.filters import InitiativeFilter, due_for_closing
from vitawin_requests.initiatives.rules import ConcurrentChange
from vitawin_requests.moderation_adapters import ModeratedRepository

MAP_LIMIT = 2000  # features on one map


class InitiativeRepository(ModeratedRepository):
    """`replace` (a change, over the version read) and `add_report` come from ModeratedRepository."""
    id_field = "initiative_id"
    concurrent_change = ConcurrentChange
    indexes = ([("created_at", DESCENDING)], [("status", ASCENDING), ("kind", ASCENDING)], [("town", ASCENDING)],
               [("partner_kinds_sought", ASCENDING)],
               [("kind", ASCENDING), ("status", ASCENDING), ("deadline", ASCENDING)],
               [("report_count", ASCENDING)],
               [("town", ASCENDING), ("created_at", ASCENDING)])  # the dashboard's town and period (for_stats)

    def page(self, flt: InitiativeFilter, page: int = 1, page_size: int = 20) -> tuple[list[dict], int]:
        """One page of the initiatives matching `flt`, newest first (ties by id), and how many match."""
        query = flt.to_query()
        total = self.collection.count_documents(query, session=self.session)
        cursor = self.collection.find(query, {"_id": False}, session=self.session)
        items = list(cursor.sort(list(self.newest_first)).skip((page - 1) * page_size).limit(page_size))
        return items, total

    def for_stats(self, period: MonthPeriod, town: str | None, fields: tuple[str, ...]) -> Iterator[dict]:
        """`fields` of the initiatives published in `period` (in `town` if given), hidden ones
        included, for the dashboard's counts (a range on created_at and an equality on town only)."""
        query = {**period.to_query("created_at"), **({"town": town} if town else {})}
        return self.collection.find(query, {"_id": False, **dict.fromkeys(fields, True)}, session=self.session)

    def on_map(self, flt: InitiativeFilter, limit: int = MAP_LIMIT) -> list[dict]:
        """The initiatives matching `flt`, newest first, at most `limit`."""
        return self.newest(flt.to_query(), limit)

    def due_for_closing(self, now: datetime) -> list[dict]:
        """Open calls for projects whose deadline has passed at `now`."""
        cursor = self.collection.find(due_for_closing(now).to_query(), {"_id": False}, session=self.session)
        return list(cursor)
