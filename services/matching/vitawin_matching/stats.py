"""The counts of the territory's dashboard that matching owns (GET /api/v1/proposals/stats):
proposals per town, action type, month and status, and how they were answered: answer rate,
acceptance rate and median time to answer, for the territory and per town. Counts only: no id, no
name. Plain Python, no I/O: it counts the proposals' documents (`PROPOSAL_FIELDS`, those made in
the period asked) in one pass, with the town of each proposal's request (`town_of`, from matching's
read model of the requests: a proposal stores no town).

Definitions (the API documents them in French):
- a proposal counts in the month it was made (`created_at`, Paris time), with its current status:
  pending, awaiting_confirmation (the professional accepted a pupil's request, the school has not
  confirmed yet), accepted, declined, expired; a proposal stored before the workflow existed has
  no status: pending;
- proposed: every proposal; answered: those that got an answer, yes or no (accepted,
  awaiting_confirmation, declined); accepted: accepted (the meeting is on);
- answer rate = answered / proposed; acceptance rate = accepted / answered (the share of the
  answers that are a yes); null when there is nothing to divide by;
- time to answer: from the proposal to the first answer, the professional's (`answered_at`) or,
  when the school declined first, the school's (`closed_at`); the median, in hours, over the
  answered proposals;
- the town is the request's (its school's, or the one a pupil chose); null when matching's read
  model does not know it (a request it only saw closed)."""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from vitawin_common.periods import month_of

from vitawin_matching.workflow import ACCEPTED, AWAITING_CONFIRMATION, DECLINED, PENDING, STATUSES

PROPOSAL_FIELDS = ("request_id", "action_type", "created_at", "status", "answered_at", "closed_at")
ANSWERED = frozenset({ACCEPTED, AWAITING_CONFIRMATION, DECLINED})


def _order(value: Any) -> tuple:
    return (value is None, value or "")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _answer_hours(doc: Mapping[str, Any]) -> float | None:
    """Hours from the proposal to its first answer, or None when it has no answer moment."""
    moment = doc.get("answered_at") or doc.get("closed_at")
    if moment is None:
        return None
    return max(0.0, (_utc(moment) - _utc(doc["created_at"])).total_seconds() / 3600)


class _Rates:
    def __init__(self):
        self.proposed = self.answered = self.accepted = 0
        self.hours: list[float] = []

    def add(self, doc: Mapping[str, Any], status: str) -> None:
        self.proposed += 1
        if status in ANSWERED:
            self.answered += 1
            hours = _answer_hours(doc)
            if hours is not None:
                self.hours.append(hours)
        if status == ACCEPTED:
            self.accepted += 1

    def view(self) -> dict:
        return {"proposed": self.proposed, "answered": self.answered, "accepted": self.accepted,
                "answer_rate": round(self.answered / self.proposed, 4) if self.proposed else None,
                "acceptance_rate": round(self.accepted / self.answered, 4) if self.answered else None,
                "median_answer_hours": round(statistics.median(self.hours), 1) if self.hours else None}


def proposal_counts(docs: Iterable[Mapping[str, Any]], town_of: Mapping[str, str | None],
                    town: str | None = None) -> tuple[dict, set[str]]:
    """(proposals and their rates, months seen) of the proposals' documents; only those of `town`'s
    requests when it is given."""
    rows: Counter = Counter()
    by_status: Counter = Counter({status: 0 for status in STATUSES})
    overall, per_town = _Rates(), defaultdict(_Rates)
    for doc in docs:
        if doc.get("created_at") is None:
            continue
        where = town_of.get(doc.get("request_id"))
        if town is not None and where != town:
            continue
        status = doc.get("status") or PENDING
        rows[(where, doc.get("action_type"), month_of(doc["created_at"]), status)] += 1
        by_status[status] += 1
        overall.add(doc, status)
        per_town[where].add(doc, status)
    ordered = sorted(rows.items(), key=lambda item: (item[0][2], *(_order(v) for v in (item[0][0], item[0][1], item[0][3]))))
    return ({"total": overall.proposed, "by_status": dict(by_status),
             "rows": [{"town": t, "action_type": a, "month": m, "status": s, "count": n}
                      for (t, a, m, s), n in ordered],
             "rates": {**overall.view(),
                       "by_town": [{"town": t, **rates.view()}
                                   for t, rates in sorted(per_town.items(), key=lambda item: _order(item[0]))]}},
            {month for _, _, month, _ in rows})
