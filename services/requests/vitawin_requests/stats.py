"""The counts of the territory's dashboard that the requests service owns (GET
/api/v1/requests/stats): requests per town, action type, requester (school or pupil), month and
status; initiatives per town, kind and month. Counts only: nothing a request says, no id, no name
(a pupil's request is counted, never shown). Plain Python, no I/O: it counts the documents the
repositories give (`REQUEST_FIELDS`, `INITIATIVE_FIELDS`, in the period and town asked), in one pass.

Rules: a request or an initiative counts in the month it was made (`created_at`, Paris time), with
its current status (requests: open, partly_matched, fulfilled, cancelled, expired; initiatives:
open, closed); a request hidden by moderation still counts (it was made, and keeps its status)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from vitawin_common.periods import month_of

from vitawin_requests.domain import STATUSES
from vitawin_requests.initiatives.rules import STATUSES as INITIATIVE_STATUSES

REQUEST_FIELDS = ("town", "action_type", "requester_kind", "created_at", "status")
INITIATIVE_FIELDS = ("town", "kind", "created_at", "status")


def _order(value: Any) -> tuple:
    return (value is None, value or "")


def rows(counts: Counter, names: tuple[str, ...]) -> list[dict]:
    """[{name: value, ..., "count": n}] of a Counter keyed by tuples in the order of `names`,
    sorted by month first (when there is one), then by the other values in order (None last)."""
    order = sorted(range(len(names)), key=lambda i: names[i] != "month")
    return [{**dict(zip(names, key)), "count": count}
            for key, count in sorted(counts.items(), key=lambda item: tuple(_order(item[0][i]) for i in order))]


def request_counts(docs: Iterable[Mapping[str, Any]]) -> tuple[dict, set[str]]:
    """(requests, months seen) of the requests' documents."""
    counts: Counter = Counter()
    by_status: Counter = Counter({status: 0 for status in STATUSES})
    for doc in docs:
        if doc.get("created_at") is None:
            continue
        status = doc.get("status")
        counts[(doc.get("town"), doc.get("action_type"), doc.get("requester_kind"),
                month_of(doc["created_at"]), status)] += 1
        by_status[status] += 1
    return ({"total": sum(counts.values()), "by_status": dict(by_status),
             "rows": rows(counts, ("town", "action_type", "requester_kind", "month", "status"))},
            {key[3] for key in counts})


def initiative_counts(docs: Iterable[Mapping[str, Any]]) -> tuple[dict, set[str]]:
    """(initiatives, months seen) of the initiatives' documents."""
    counts: Counter = Counter()
    by_status: Counter = Counter({status: 0 for status in INITIATIVE_STATUSES})
    for doc in docs:
        if doc.get("created_at") is None:
            continue
        counts[(doc.get("town"), doc.get("kind"), month_of(doc["created_at"]))] += 1
        by_status[doc.get("status", "open")] += 1
    return ({"total": sum(counts.values()), "by_status": dict(by_status),
             "rows": rows(counts, ("town", "kind", "month"))},
            {key[2] for key in counts})
