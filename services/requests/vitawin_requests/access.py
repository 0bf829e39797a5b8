"""Who may see and change a request, and what the lists and the map select. Plain Python.

The object-level rules (issue 4):
- a school's request is public (anyone may read it and find it in lists and on the map), but its
  referent's `contact_email` is shown only to the referents of that school and to territory
  managers;
- a pupil's request is seen only by that pupil, the referents of the pupil's school and territory
  managers; to anyone else it does not exist (404, left out of lists, never on the map);
- a pupil's request is edited and cancelled by that pupil or a referent of the school; a school's
  by a referent of that school; territory managers may cancel any request;
- moderation (issue 4, point 5): territory managers moderate any request, a school referent the
  requests of their school (school and pupil requests with that school_uai): they hide it and show
  it again, and see its reports. A hidden request leaves the public lists, the map and the public
  reading: a hidden school request is seen only by its moderators (a pupil's request was seen by
  no one else anyway); anyone else gets a 404. Anyone who may read a request may report it.

`RequestFilter` is the list's selection with two faces that must agree: `matches(doc)` on a stored
document (the in-memory repository of the tests) and `to_query()`, the MongoDB filter of the same
documents, written with what SecantusDB understands: equality (an array field matches one of its
elements), `$in` (`null` in it also matches a missing field: a document stored before moderation
existed has no `hidden` and is not hidden), `$or` (never `$and`: two alternatives are expanded into
one `$or`), ranges and dotted paths."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import product
from typing import Any

from vitawin_common.territory import BoundingBox  # noqa: F401 (the lists' and map's box)

from vitawin_requests.domain import ACTIVE, STATUSES

from vitawin_requests.kinds import KINDS, LEVELS, ROME_CODE, InvalidValue
from vitawin_requests.moderation import INTERNAL_FIELDS as MODERATION_INTERNAL_FIELDS
from vitawin_requests.moderation import Moderation

TERRITORY_MANAGER, SCHOOL_REFERENT, PUPIL = "territory_manager", "school_referent", "pupil"
INTERNAL_FIELDS = ("requester_actor_id", "requester_subject", "accepted_proposal_ids", *MODERATION_INTERNAL_FIELDS)
NOT_HIDDEN = {"hidden": {"$in": [False, None]}}  # false, or absent (stored before moderation existed)


@dataclass(frozen=True)
class Viewer:
    """The caller as the rules see it (no role: anonymous)."""
    role: str | None = None
    actor_id: str | None = None
    school_uai: str | None = None

    @classmethod
    def of(cls, caller) -> "Viewer":
        """From a `vitawin_common.identity.Caller`, or None for an anonymous call."""
        if caller is None:
            return ANONYMOUS
        return cls(caller.role, caller.actor_id, caller.school_uai)

    def is_referent_of(self, school_uai: str | None) -> bool:
        return self.role == SCHOOL_REFERENT and self.school_uai is not None and self.school_uai == school_uai

    def is_pupil(self, actor_id: str | None) -> bool:
        return self.role == PUPIL and self.actor_id is not None and self.actor_id == actor_id


ANONYMOUS = Viewer()


def can_moderate(doc: Mapping[str, Any], viewer: Viewer) -> bool:
    """Whether `viewer` may hide the request, show it again and see its reports: a territory
    manager, or a referent of the request's school."""
    return viewer.role == TERRITORY_MANAGER or viewer.is_referent_of(doc.get("school_uai"))


def is_public(doc: Mapping[str, Any]) -> bool:
    """Whether anyone may see the request: a school's request that is not hidden."""
    return doc["requester_kind"] == "school" and not doc.get("hidden")


def can_read(doc: Mapping[str, Any], viewer: Viewer) -> bool:
    if is_public(doc) or can_moderate(doc, viewer):
        return True
    return doc["requester_kind"] == "pupil" and viewer.is_pupil(doc.get("requester_actor_id"))


def sees_contact(doc: Mapping[str, Any], viewer: Viewer) -> bool:
    """Whether the school referent's e-mail is shown to `viewer`."""
    return viewer.role == TERRITORY_MANAGER or viewer.is_referent_of(doc.get("school_uai"))


def can_edit(doc: Mapping[str, Any], viewer: Viewer) -> bool:
    if doc["requester_kind"] == "pupil" and viewer.is_pupil(doc.get("requester_actor_id")):
        return True
    return viewer.is_referent_of(doc.get("school_uai"))


def can_cancel(doc: Mapping[str, Any], viewer: Viewer) -> bool:
    return viewer.role == TERRITORY_MANAGER or can_edit(doc, viewer)


def _utc(value):
    if isinstance(value, datetime) and value.tzinfo is None:  # BSON dates come back naive, in UTC
        return value.replace(tzinfo=timezone.utc)
    return value


def view(doc: Mapping[str, Any], viewer: Viewer) -> dict:
    """What `viewer` (who may read `doc`) is shown of a stored request: no internal field (who
    asked, who moderated, who reported), the contact e-mail only to those who may see it, the
    hidden flag (with reason, role and time when hidden) and, to its moderators, its reports."""
    left_out = set(INTERNAL_FIELDS) | (set() if sees_contact(doc, viewer) else {"contact_email"})
    shown = {name: _utc(value) for name, value in doc.items() if name not in left_out}
    shown.update(Moderation.from_document(doc).view(with_reports=can_moderate(doc, viewer)))
    return shown


def week_span(week: str) -> tuple[str, str]:
    """The first and last days (Monday, Sunday) of the ISO week "YYYY-Www", as ISO dates."""
    year, number = week.split("-W")
    monday = date.fromisocalendar(int(year), int(number), 1)
    return monday.isoformat(), (monday + timedelta(days=6)).isoformat()


@dataclass(frozen=True)
class RequestFilter:
    """What a list (or the map) selects for `viewer`; None or empty means "any". `week` selects
    the requests whose period contains that ISO week or whose date falls in it; `statuses` and
    `requester_kind` serve the map (active school requests); `school_uai` selects one school's
    requests (for its referent, its pupils' ones too). `public`: only what anyone may see,
    whoever looks (the map: never a hidden request). `reported`: only the reported requests that
    `viewer` moderates (none for a viewer who moderates nothing)."""
    viewer: Viewer = ANONYMOUS
    kinds: tuple[str, ...] = ()
    town: str | None = None
    level: str | None = None
    week: str | None = None
    rome: str | None = None
    status: str | None = None
    statuses: tuple[str, ...] = ()
    requester_kind: str | None = None
    school_uai: str | None = None
    bbox: BoundingBox | None = None
    public: bool = False
    reported: bool = False

    def __post_init__(self) -> None:  # the API checks each value first, in French
        object.__setattr__(self, "kinds", tuple(self.kinds))
        object.__setattr__(self, "statuses", tuple(self.statuses))
        if set(self.kinds) - set(KINDS) or set(self.statuses) - set(STATUSES):
            raise ValueError("unknown kind or status")
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if self.level is not None and self.level not in LEVELS:
            raise ValueError(f"unknown level {self.level!r}")
        if self.rome is not None and not ROME_CODE.match(self.rome):
            raise ValueError(f"not a ROME code: {self.rome!r}")
        if self.week is not None:
            week_span(self.week)  # ValueError if it is not an ISO week

    @classmethod
    def on_map(cls, viewer: Viewer = ANONYMOUS, **filters) -> "RequestFilter":
        """The map: active requests of schools only, never a hidden one."""
        return cls(viewer=viewer, statuses=ACTIVE, requester_kind="school", public=True, **filters)

    # --- in memory -------------------------------------------------------------------------------
    def matches(self, doc: Mapping[str, Any]) -> bool:
        """Whether the stored request `doc` is selected (what `to_query` selects in MongoDB)."""
        if not (is_public(doc) if self.public else can_read(doc, self.viewer)):
            return False
        if self.reported and not (can_moderate(doc, self.viewer) and (doc.get("report_count") or 0) >= 1):
            return False
        if self.kinds and doc.get("kind") not in self.kinds:
            return False
        for name in ("town", "status", "requester_kind", "school_uai"):
            wanted = getattr(self, name)
            if wanted is not None and doc.get(name) != wanted:
                return False
        if self.statuses and doc.get("status") not in self.statuses:
            return False
        if self.level is not None and self.level not in (doc.get("levels") or ()):
            return False
        if self.rome is not None and self.rome not in (doc.get("rome_codes") or ()):
            return False
        if self.bbox is not None and not self.bbox.contains(doc["location"]):
            return False
        if self.week is not None:
            first, last = week_span(self.week)
            in_period = self.week in (doc.get("period") or ())
            on_date = isinstance(doc.get("date"), str) and first <= doc["date"] <= last
            if not (in_period or on_date):
                return False
        return True

    # --- in MongoDB ------------------------------------------------------------------------------
    def to_query(self) -> dict:
        """The MongoDB filter: the plain conditions, and the alternatives of visibility and of the
        week multiplied out into one `$or` of plain clauses (a branch that contradicts a plain
        condition, such as a pupil's own requests on the map of school requests, is dropped)."""
        plain: dict[str, Any] = {}
        if self.kinds:
            plain["kind"] = {"$in": list(self.kinds)}
        for name in ("town", "status", "requester_kind", "school_uai"):
            if getattr(self, name) is not None:
                plain[name] = getattr(self, name)
        if self.statuses:  # and `status`, if given, too (as `matches`): the statuses that are both
            plain["status"] = {"$in": [status for status in self.statuses if self.status in (None, status)]}
        if self.level is not None:
            plain["levels"] = self.level  # an element of the array
        if self.rome is not None:
            plain["rome_codes"] = self.rome
        if self.bbox is not None:
            plain.update(self.bbox.to_query("location"))
        if self.reported:
            plain["report_count"] = {"$gte": 1}
        branches = []
        for choice in product(self._visibility(), self._weeks()):
            merged = _merge(plain, *choice)
            if merged is not None:
                branches.append(merged)
        if not branches:
            return {"_id": {"$in": []}}  # nothing
        if len(branches) == 1:
            return branches[0]
        return {"$or": branches}

    def _visibility(self) -> list[dict]:
        """The alternatives of `can_read` (of `is_public` for a public filter; of `can_moderate`
        for the reported requests)."""
        viewer = self.viewer
        public = {"requester_kind": "school", **NOT_HIDDEN}
        moderated = self._moderated()
        if self.reported:  # what the viewer moderates (and, for a public filter, what is public of it)
            return [branch for branch in (_merge(public, m) if self.public else m for m in moderated)
                    if branch is not None]
        if self.public:
            return [public]
        if moderated == [{}]:
            return moderated
        branches: list[dict] = [public, *moderated]
        if viewer.role == PUPIL and viewer.actor_id is not None:
            branches.append({"requester_kind": "pupil", "requester_actor_id": viewer.actor_id})
        return branches

    def _moderated(self) -> list[dict]:
        """The alternatives of `can_moderate`: every request for a territory manager, those of
        the school for a referent, none for anyone else."""
        if self.viewer.role == TERRITORY_MANAGER:
            return [{}]
        if self.viewer.role == SCHOOL_REFERENT and self.viewer.school_uai is not None:
            return [{"school_uai": self.viewer.school_uai}]
        return []

    def _weeks(self) -> list[dict]:
        if self.week is None:
            return [{}]
        first, last = week_span(self.week)
        return [{"period": self.week}, {"date": {"$gte": first, "$lte": last}}]


def _merge(*clauses: Mapping[str, Any]) -> dict | None:
    """One clause with the conditions of all; None when two set different values to the same field
    (equalities only: they cannot both hold)."""
    merged: dict[str, Any] = {}
    for clause in clauses:
        for name, condition in clause.items():
            if name in merged and merged[name] != condition:
                if isinstance(condition, dict) or isinstance(merged[name], dict):
                    raise ValueError(f"cannot merge two conditions on {name}")
                return None
            merged[name] = condition
    return merged


# --- the map ---------------------------------------------------------------------------------------
MAP_FIELDS = ("request_id", "kind", "action_type", "town", "level", "levels", "date", "period")


def to_feature(doc: Mapping[str, Any]) -> dict:
    """A GeoJSON Feature (RFC 7946: [lon, lat]) for a school's request: its public description,
    never a contact."""
    if doc["requester_kind"] != "school":
        raise ValueError("only school requests are on the map")
    return {"type": "Feature", "id": doc["request_id"],
            "geometry": {"type": "Point", "coordinates": [doc["location"]["lon"], doc["location"]["lat"]]},
            "properties": {name: doc[name] for name in MAP_FIELDS if name in doc}}


def feature_collection(docs) -> dict:
    return {"type": "FeatureCollection", "features": [to_feature(doc) for doc in docs]}

