"""Periods of whole months, as the territory's dashboards ask for them: `from=2026-01&to=2026-06`
(query parameters `from` and `to`, months "AAAA-MM", both optional, both included), read in the
territory's time (Europe/Paris: a month starts at midnight, Paris time, on its first day). Shared by
the services' aggregate endpoints (/api/v1/actors/stats, /api/v1/requests/stats,
/api/v1/proposals/stats) the way `territory.BoundingBox` is shared by their lists and maps:
`MonthPeriod.parse` (InvalidPeriod with a French message naming the field), `contains` in memory,
`to_query` for MongoDB, `month_of` the month a moment falls in, `axis` the months a table shows.
Plain Python, no I/O."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")  # the territory's months start and end at midnight, Paris time
MONTH = re.compile(r"^(20[0-9]{2})-(0[1-9]|1[0-2])$")
MONTH_MESSAGE = "Mois invalide : format attendu AAAA-MM, de 2000-01 à 2099-12 (par exemple 2026-09)."
ORDER_MESSAGE = "Le mois de fin (to) doit être le mois de début (from) ou un mois suivant."


class InvalidPeriod(ValueError):
    """A month or a period that cannot be read: `field` names the query parameter ("from" or
    "to"), the message is in French (for the 422)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def parse_month(text: str, field: str) -> str:
    """"2026-09" as it is; InvalidPeriod naming `field` otherwise."""
    if not isinstance(text, str) or not MONTH.match(text.strip()):
        raise InvalidPeriod(field, MONTH_MESSAGE)
    return text.strip()


def _next(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year + number // 12}-{number % 12 + 1:02d}"


def month_start(month: str) -> datetime:
    """Midnight, Paris time, on the first day of `month`, in UTC."""
    return datetime.combine(datetime(int(month[:4]), int(month[5:]), 1), time(0), tzinfo=PARIS).astimezone(timezone.utc)


def _utc(moment: datetime) -> datetime:
    """BSON dates come back naive, in UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def month_of(moment: datetime) -> str:
    """The month ("2026-09") `moment` falls in, Paris time (a naive moment is UTC)."""
    return _utc(moment).astimezone(PARIS).strftime("%Y-%m")


def month_range(first: str, last: str) -> list[str]:
    """Every month from `first` to `last`, both included ([] when `last` comes first)."""
    months, month = [], first
    while month <= last:
        months.append(month)
        month = _next(month)
    return months


@dataclass(frozen=True)
class MonthPeriod:
    """Months `first` to `last` ("AAAA-MM"), both included; None leaves that side open."""
    first: str | None = None
    last: str | None = None

    @classmethod
    def parse(cls, first: str | None = None, last: str | None = None) -> "MonthPeriod":
        """From the query's `from` and `to` (None or "" when absent); InvalidPeriod naming the
        parameter when a month is malformed or `to` comes before `from`."""
        first = parse_month(first, "from") if first not in (None, "") else None
        last = parse_month(last, "to") if last not in (None, "") else None
        if first and last and last < first:
            raise InvalidPeriod("to", ORDER_MESSAGE)
        return cls(first, last)

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) in UTC: the start of `first` and the start of the month after `last`."""
        return (month_start(self.first) if self.first else None,
                month_start(_next(self.last)) if self.last else None)

    def contains(self, moment: datetime | None) -> bool:
        """Whether `moment` falls in the period (a missing moment falls in no bounded period)."""
        start, end = self.bounds()
        if moment is None:
            return start is None and end is None
        moment = _utc(moment)
        return (start is None or moment >= start) and (end is None or moment < end)

    def to_query(self, field: str = "created_at") -> dict:
        """The MongoDB filter of the documents whose `field` falls in the period, as `contains`
        says ({} for an open period: every document, those without the field included)."""
        start, end = self.bounds()
        condition = {**({"$gte": start} if start else {}), **({"$lt": end} if end else {})}
        return {field: condition} if condition else {}

    def axis(self, seen: Iterable[str] = ()) -> list[str]:
        """The months a table of the period shows, every one of them, in order: from `first` (or
        the earliest month `seen`) to `last` (or the latest month seen); the one month given when
        nothing was seen; [] when nothing says."""
        seen = sorted(set(seen))
        first = self.first or (seen[0] if seen else self.last)
        last = self.last or (seen[-1] if seen else self.first)
        if first is None or last is None:
            return []
        return month_range(first, last)
