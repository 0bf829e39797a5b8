"""The counts of the territory's dashboard that the actors service owns (GET /api/v1/actors/stats):
actors registered per kind, town and month; organisations per sector (NAF section); pledges per
town, action type, month and status. Counts only: no name, no id, no contact. Plain Python, no
I/O: it counts the documents the repositories give (`ACTOR_FIELDS`, `PLEDGE_FIELDS` of each, in
the period and town asked), in one pass.

Rules:
- an actor counts in the month of its registration (`created_at`, Paris time); an erased actor
  (its tombstone) counts nowhere, as it is listed nowhere;
- a territory manager has no town (town null in the rows);
- the sectors count the organisations (ORGANISATION_KINDS), by the section of their NAF code
  (`sectors.naf_section`; "?" when the code is missing or unknown), schools and pupils aside;
- a pledge counts in the month it was registered, with its current status (active, paused or
  withdrawn); the rows have one line per action type it offers, so the rows of one town and month
  add up to more than the pledges when pledges offer several actions: `total`, `by_status`,
  `by_town` and `by_month` count each pledge once."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from vitawin_common.periods import month_of

from vitawin_actors.domain.directory import ORGANISATION_KINDS
from vitawin_actors.domain.erasure import ERASED
from vitawin_actors.domain.pledges import STATUSES
from vitawin_actors.domain.sectors import NAF_SECTIONS, UNKNOWN_SECTION, naf_section, section_label

ACTOR_FIELDS = ("kind", "town", "created_at", "naf_code", "status")
PLEDGE_FIELDS = ("town", "action_types", "created_at", "status")


def _order(value: Any) -> tuple:
    """Sorts None (no town) after every code."""
    return (value is None, value or "")


def _rows(counts: Counter, names: tuple[str, ...]) -> list[dict]:
    """[{name: value, ..., "count": n}] of a Counter keyed by tuples in the order of `names`,
    sorted by month first (when there is one), then by the other values in order (None last)."""
    order = sorted(range(len(names)), key=lambda i: names[i] != "month")
    return [{**dict(zip(names, key)), "count": count}
            for key, count in sorted(counts.items(), key=lambda item: tuple(_order(item[0][i]) for i in order))]


def actor_counts(docs: Iterable[Mapping[str, Any]]) -> tuple[dict, dict, set[str]]:
    """(actors, sectors, months seen) of the actors' documents."""
    actors: Counter = Counter()
    sectors: Counter = Counter()
    for doc in docs:
        if doc.get("status") == ERASED or doc.get("created_at") is None:
            continue
        actors[(doc["kind"], doc.get("town"), month_of(doc["created_at"]))] += 1
        if doc["kind"] in ORGANISATION_KINDS:
            sectors[naf_section(doc.get("naf_code"))] += 1
    order = [*NAF_SECTIONS, UNKNOWN_SECTION]
    sector_rows = [{"section": section, "label": section_label(section), "count": sectors[section]}
                   for section in order if sectors[section]]
    return ({"total": sum(actors.values()), "rows": _rows(actors, ("kind", "town", "month"))},
            {"total": sum(sectors.values()), "rows": sector_rows},
            {month for _, _, month in actors})


def pledge_counts(docs: Iterable[Mapping[str, Any]]) -> tuple[dict, set[str]]:
    """(pledges, months seen) of the pledges' documents."""
    rows: Counter = Counter()
    by_status: Counter = Counter({status: 0 for status in STATUSES})
    by_town: Counter = Counter()
    by_month: Counter = Counter()
    for doc in docs:
        if doc.get("created_at") is None:
            continue
        month, town, status = month_of(doc["created_at"]), doc.get("town"), doc.get("status", "active")
        by_month[month] += 1
        by_status[status] += 1
        by_town[town] += 1
        for action_type in dict.fromkeys(doc.get("action_types") or ()):
            rows[(town, action_type, month, status)] += 1
    return ({"total": sum(by_town.values()), "by_status": dict(by_status),
             "by_town": _rows(Counter({(town,): n for town, n in by_town.items()}), ("town",)),
             "by_month": _rows(Counter({(month,): n for month, n in by_month.items()}), ("month",)),
             "rows": _rows(rows, ("town", "action_type", "month", "status"))}, set(by_month))
