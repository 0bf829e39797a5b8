"""What the in-memory repositories of requests and initiatives share for moderation: the report
written as `ModeratedRepository.add_report` writes it (imported by conftest.py and
initiatives_fakes.py)."""
from __future__ import annotations

import copy

from vitawin_requests.moderation import STORED_REPORTS_MAX, AlreadyReported


def add_report(docs: dict, item_id: str, report: dict, once_per_reporter: bool) -> int | None:
    """Over a dict of documents: the new count, None when there is no such item, AlreadyReported
    when this reporter already reported it (if `once_per_reporter`). The document is replaced by a
    new dict, so that a unit of work left without commit() rolls the report back."""
    stored = docs.get(item_id)
    if stored is None:
        return None
    if once_per_reporter and any(r["reporter"] == report["reporter"] for r in stored.get("reports") or ()):
        raise AlreadyReported(item_id)
    count = (stored.get("report_count") or 0) + 1
    reports = [*copy.deepcopy(stored.get("reports") or []), copy.deepcopy(report)][-STORED_REPORTS_MAX:]
    docs[item_id] = {**copy.deepcopy(stored), "report_count": count, "reports": reports}
    return count


def same_reports(stored: dict, doc: dict) -> bool:
    """Whether a change read at `doc` is written over the reports stored (as the adapter's guard)."""
    return (stored.get("report_count") or 0) == (doc.get("report_count") or 0)
