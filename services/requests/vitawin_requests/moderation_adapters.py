"""What the MongoDB repositories of requests and initiatives share for moderation: the versioned
write of a changed item that keeps the reports made meanwhile, and the atomic report (see
`vitawin_requests.moderation` for why reports live in the item's document)."""
from __future__ import annotations

from pymongo import ReturnDocument

from vitawin_common.uow import MongoRepository

from vitawin_requests.moderation import STORED_REPORTS_MAX, AlreadyReported


class ModeratedRepository(MongoRepository):
    """A repository of versioned, moderated items. A subclass names `id_field` and
    `concurrent_change`, the exception of a write that lost a race."""

    concurrent_change: type[Exception] = Exception

    def replace(self, doc: dict, expected_version: int) -> None:
        """Write the new state of an item, in the unit of work's transaction, only over the version
        it was read at and the reports it was read with (`report_count`: a report is not a new
        version, but rewriting the document over it would lose it); `concurrent_change` if another
        change or a report came first."""
        count = doc.get("report_count") or 0
        query = {"_id": doc[self.id_field], "version": expected_version,
                 "report_count": {"$in": [0, None]} if count == 0 else count}  # none: stored before reports
        result = self.collection.replace_one(query, {"_id": doc[self.id_field], **doc}, session=self.session)
        if result.matched_count != 1:
            raise self.concurrent_change(doc[self.id_field])

    def add_report(self, item_id: str, report: dict, once_per_reporter: bool) -> int | None:
        """Add `report` (a stored report: `moderation.Report.to_document()`) to the item, in the unit
        of work's transaction, and count it; the new count, or None when there is no such item.
        With `once_per_reporter`, AlreadyReported when its reporter already reported the item (the
        check and the write are one atomic update). The document keeps the newest
        STORED_REPORTS_MAX reports; the count goes on."""
        query: dict = {"_id": item_id}
        if once_per_reporter:
            query["reports.reporter"] = {"$ne": report["reporter"]}
        found = self.collection.find_one_and_update(
            query, {"$push": {"reports": {"$each": [report], "$slice": -STORED_REPORTS_MAX}},
                    "$inc": {"report_count": 1}},
            projection={"_id": False, "report_count": True}, return_document=ReturnDocument.AFTER,
            session=self.session)
        if found is not None:
            return int(found["report_count"])
        if self.collection.find_one({"_id": item_id}, {"_id": True}, session=self.session) is None:
            return None
        raise AlreadyReported(item_id)
