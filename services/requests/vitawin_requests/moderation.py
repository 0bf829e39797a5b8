"""Moderation of requests and initiatives (plain Python, no I/O): a moderator hides an item with a
reason and may show it again; anyone who can see an item reports it.

Hiding: the item keeps its status (open, fulfilled...) but is `hidden`, with `hidden_reason`,
`hidden_by_role` and `hidden_at`. It leaves the public lists, the map and the public reading;
its owner and the moderators still see it, flag and reason included. Each hide and each unhide is
a change of the item: a new version, with its event, in one transaction. Who moderated is kept
for the audit in the item's document (`hidden_by_subject`, and every hide and unhide in
`moderation_log`, with the moderator's account): never shown by the API, never published; the API
and the events give the moderator's role only.

Reports: kept in the item's document (`reports`, `report_count`) rather than in a collection of
their own, because one document gives, atomically and without a second read:
- the rule "one report per account and item" (a conditional `$push` on the document, inside the
  transaction that writes the event, so two reports sent at once cannot both pass);
- the count the event carries, and the `reported` filter of the lists as a plain condition on the
  listed documents (`report_count >= 1`), the same in memory and in MongoDB;
- the reports shown with the item to its moderators, read with the item.
A report is not a change of the item: it leaves `version` alone. A change of the item, which
rewrites the whole document, is therefore written only over the `report_count` it read too (a
report that came in between makes it a concurrent change, tried again, rather than a lost report).
Only the newest STORED_REPORTS_MAX reports are kept in the document (the count goes on): the
gateway is to rate-limit reports, anonymous ones most of all."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

REASON_MIN, REASON_MAX = 3, 500
COMMENT_MAX = 500
REPORT_CATEGORIES = {
    "inappropriate": "contenu inapproprié",
    "personal_data": "données personnelles exposées",
    "spam": "spam ou publicité",
    "other": "autre motif",
}
ANONYMOUS_REPORTER = "anonymous"
STORED_REPORTS_MAX = 200
HIDDEN, UNHIDDEN = "hidden", "unhidden"
# Stored fields the API never shows as they are: who moderated, who reported (the reports are shown
# to moderators through `report_views`).
INTERNAL_FIELDS = ("hidden_by_subject", "moderation_log", "reports", "report_count")
HIDDEN_FIELDS = ("hidden_reason", "hidden_by_role", "hidden_by_subject", "hidden_at")


class AlreadyHidden(Exception):
    """Hiding a hidden item."""


class NotHidden(Exception):
    """Showing again an item that is not hidden."""


class AlreadyReported(Exception):
    """This account has already reported this item (a 409)."""


def utc_ms(moment: datetime) -> datetime:
    """UTC, to the millisecond (what MongoDB keeps); a naive datetime is taken as UTC (BSON)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso_ms(moment: datetime) -> str:
    return utc_ms(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Moderator:
    """Who hides or shows again: a role (territory_manager, school_referent) and the account."""
    role: str
    subject: str


@dataclass(frozen=True)
class Hiding:
    reason: str
    by_role: str
    by_subject: str
    at: datetime


@dataclass(frozen=True)
class Report:
    """One report: a category of REPORT_CATEGORIES, an optional comment, the reporting account
    (`reporter`: its subject, or "anonymous") and its role (None when anonymous)."""
    category: str
    comment: str | None
    reporter: str
    reporter_role: str | None
    at: datetime

    def __post_init__(self) -> None:
        if self.category not in REPORT_CATEGORIES:  # the API says it first, in French
            raise ValueError(f"unknown report category {self.category!r}")
        if self.comment is not None and len(self.comment) > COMMENT_MAX:
            raise ValueError(f"a report comment has at most {COMMENT_MAX} characters")

    @classmethod
    def make(cls, category: str, comment: str | None, caller=None, now: datetime | None = None) -> "Report":
        """From a `vitawin_common.identity.Caller` (None: an anonymous report)."""
        return cls(category=category, comment=comment or None,
                   reporter=caller.subject if caller is not None else ANONYMOUS_REPORTER,
                   reporter_role=caller.role if caller is not None else None, at=utc_ms(now or _now()))

    @property
    def anonymous(self) -> bool:
        return self.reporter == ANONYMOUS_REPORTER

    def to_document(self) -> dict:
        doc = {"category": self.category, "reporter": self.reporter, "reporter_role": self.reporter_role,
               "at": self.at}
        if self.comment:
            doc["comment"] = self.comment
        return doc

    def event_data(self, id_field: str, item_id: str, report_count: int) -> dict:
        """The data of fr.vitawin.request.reported.v1 / fr.vitawin.initiative.reported.v1: never the
        comment, never who reported."""
        return {id_field: item_id, "category": self.category, "report_count": report_count, "at": iso_ms(self.at)}


def report_view(doc: Mapping[str, Any]) -> dict:
    """A stored report as its moderators see it: category, comment, the reporter's role (not the
    account) and whether it was anonymous."""
    view = {"category": doc["category"], "reporter_role": doc.get("reporter_role"),
            "anonymous": doc.get("reporter") == ANONYMOUS_REPORTER, "at": utc_ms(doc["at"])}
    if doc.get("comment"):
        view["comment"] = doc["comment"]
    return view


def has_reported(doc: Mapping[str, Any], subject: str | None) -> bool:
    """Whether the account `subject` (None: anonymous, never deduplicated) reported the stored item."""
    return subject is not None and any(report.get("reporter") == subject for report in doc.get("reports") or ())


@dataclass(frozen=True)
class Moderation:
    """The moderation state an item carries: whether it is hidden (and why, by whom, since when),
    the log of hides and unhides (stored as plain dicts, kept for the audit) and its reports (as
    stored: they are added by the repository, never by a change of the item)."""
    hiding: Hiding | None = None
    log: tuple[Mapping[str, Any], ...] = ()
    reports: tuple[Mapping[str, Any], ...] = ()
    report_count: int = 0

    @property
    def hidden(self) -> bool:
        return self.hiding is not None

    def hide(self, reason: str, by: Moderator, now: datetime) -> "Moderation":
        if not REASON_MIN <= len(reason) <= REASON_MAX:  # the API says it first, in French
            raise ValueError(f"a reason for hiding has {REASON_MIN} to {REASON_MAX} characters")
        if self.hidden:
            raise AlreadyHidden()
        at = utc_ms(now)
        entry = {"action": HIDDEN, "reason": reason, "by_role": by.role, "by_subject": by.subject, "at": at}
        return Moderation(Hiding(reason, by.role, by.subject, at), (*self.log, entry), self.reports, self.report_count)

    def unhide(self, by: Moderator, now: datetime) -> "Moderation":
        if not self.hidden:
            raise NotHidden()
        entry = {"action": UNHIDDEN, "by_role": by.role, "by_subject": by.subject, "at": utc_ms(now)}
        return Moderation(None, (*self.log, entry), self.reports, self.report_count)

    @property
    def last_role(self) -> str | None:
        """The role of the last moderator who hid or showed the item again."""
        return self.log[-1]["by_role"] if self.log else None

    def to_document(self) -> dict:
        doc: dict[str, Any] = {"hidden": self.hidden}
        if self.hiding is not None:
            doc.update(hidden_reason=self.hiding.reason, hidden_by_role=self.hiding.by_role,
                       hidden_by_subject=self.hiding.by_subject, hidden_at=self.hiding.at)
        doc.update(moderation_log=[dict(entry) for entry in self.log], reports=[dict(r) for r in self.reports],
                   report_count=self.report_count)
        return doc

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> "Moderation":
        hiding = None
        if doc.get("hidden"):
            hiding = Hiding(doc.get("hidden_reason") or "", doc.get("hidden_by_role") or "",
                            doc.get("hidden_by_subject") or "", utc_ms(doc["hidden_at"]))
        return cls(hiding=hiding, log=tuple(dict(entry) for entry in doc.get("moderation_log") or ()),
                   reports=tuple(dict(report) for report in doc.get("reports") or ()),
                   report_count=int(doc.get("report_count") or 0))

    def view(self, with_reports: bool) -> dict:
        """What the API shows: the hidden flag (with reason, role and time when hidden) and, to the
        item's moderators, its reports and their count."""
        data: dict[str, Any] = {"hidden": self.hidden}
        if self.hiding is not None:
            data.update(hidden_reason=self.hiding.reason, hidden_by_role=self.hiding.by_role,
                        hidden_at=self.hiding.at)
        if with_reports:
            data.update(reports=[report_view(report) for report in self.reports], report_count=self.report_count)
        return data
