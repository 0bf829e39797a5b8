"""Which stored initiatives a list, the map or the closing task selects (`InitiativeFilter`, with
an in-memory face and a MongoDB face that must agree), and the map's GeoJSON. Plain Python."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from vitawin_common.territory import BoundingBox

from vitawin_requests.initiatives.rules import TERRITORY_MANAGER, local_date

if TYPE_CHECKING:
    from vitawin_requests.initiatives.domain import Party

NOT_HIDDEN = {"$in": [False, None]}  # false, or absent (stored before moderation existed)


@dataclass(frozen=True)
class InitiativeFilter:
    """Which stored initiatives a list, the map or the closing task wants, as a predicate over a
    document (`matches`, for in-memory repositories) and as a MongoDB filter (`to_query`: equality,
    element of an array, `$in` (null also matches a missing field), `$or`, ranges on plain and
    dotted fields only). `deadline_before`: an ISO date; only documents whose deadline is before it.
    `viewer`: who is looking (None: anyone): hidden initiatives are left out, except for a
    territory manager (all of them) and for their publisher (theirs). `include_hidden`: the
    service's own tasks (closing at the deadline) see hidden initiatives too. `reported`: only the
    reported initiatives, for a territory manager (or a task); none for anyone else."""
    kind: str | None = None
    town: str | None = None
    partner_kind: str | None = None
    status: str | None = None
    bbox: BoundingBox | None = None
    deadline_before: str | None = None
    viewer: Party | None = None
    include_hidden: bool = False
    reported: bool = False

    @property
    def _moderator(self) -> bool:
        return self.include_hidden or (self.viewer is not None and self.viewer.role == TERRITORY_MANAGER)

    @property
    def _publisher(self) -> str | None:
        return self.viewer.actor_id if self.viewer is not None and self.viewer.actor_id else None

    def matches(self, doc: Mapping) -> bool:
        if doc.get("hidden") and not self._moderator and (
                self._publisher is None or (doc.get("publisher") or {}).get("actor_id") != self._publisher):
            return False
        if self.reported and not (self._moderator and (doc.get("report_count") or 0) >= 1):
            return False
        if self.kind is not None and doc.get("kind") != self.kind:
            return False
        if self.town is not None and doc.get("town") != self.town:
            return False
        if self.partner_kind is not None and self.partner_kind not in (doc.get("partner_kinds_sought") or ()):
            return False
        if self.status is not None and doc.get("status") != self.status:
            return False
        if self.bbox is not None and not self.bbox.contains(doc["location"]):
            return False
        if self.deadline_before is not None and not (doc.get("deadline") and doc["deadline"] < self.deadline_before):
            return False
        return True

    def to_query(self) -> dict:
        query: dict = {}
        for name in ("kind", "town", "status"):
            if getattr(self, name) is not None:
                query[name] = getattr(self, name)
        if self.partner_kind is not None:
            query["partner_kinds_sought"] = self.partner_kind  # matches an element of the array
        if self.bbox is not None:
            query["location.lon"] = {"$gte": self.bbox.min_lon, "$lte": self.bbox.max_lon}
            query["location.lat"] = {"$gte": self.bbox.min_lat, "$lte": self.bbox.max_lat}
        if self.deadline_before is not None:
            query["deadline"] = {"$lt": self.deadline_before}  # ISO dates compare as strings
        if self.reported:
            if not self._moderator:
                return {"initiative_id": {"$in": []}}  # nothing
            query["report_count"] = {"$gte": 1}
        if not self._moderator:
            if self._publisher is None:
                query["hidden"] = NOT_HIDDEN
            else:
                query["$or"] = [{"hidden": NOT_HIDDEN}, {"publisher.actor_id": self._publisher}]
        return query


def due_for_closing(now: datetime) -> InitiativeFilter:
    """Open calls for projects whose deadline (the last day to apply) is before `now`'s day, hidden
    or not."""
    return InitiativeFilter(kind="call_for_projects", status="open", deadline_before=local_date(now).isoformat(),
                            include_hidden=True)


def to_feature(doc: Mapping) -> dict:
    """A GeoJSON Feature (RFC 7946: [lon, lat]) with the public fields of the map."""
    return {
        "type": "Feature",
        "id": doc["initiative_id"],
        "geometry": {"type": "Point", "coordinates": [doc["location"]["lon"], doc["location"]["lat"]]},
        "properties": {"initiative_id": doc["initiative_id"], "kind": doc["kind"], "title": doc["title"],
                       "town": doc["town"], "deadline": doc.get("deadline")},
    }


def feature_collection(docs: Iterable[Mapping]) -> dict:
    return {"type": "FeatureCollection", "features": [to_feature(doc) for doc in docs]}
