"""What the list of pledges selects (GET /api/v1/volunteers): `PledgeFilter`, one object with two
faces that must agree, `matches(doc)` on a stored pledge document and `to_query()`, the MongoDB
filter of the same documents (tests/integration/test_actors_queries.py checks that they do on a
real server).

A stored pledge is `{town, location: {lat, lon}, action_types: [...], actions: {action_type:
{rome_codes: [...], audience, ...}}, status, ...}`. A document stored before pledges had statuses
or per-action settings is read as `Pledge.from_document` reads it: no `status` is active, an
action without stored settings (or without an audience) has the defaults: public "all", no ROME
code."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vitawin_actors.domain.actions import ACTION_TYPES, DEFAULT_AUDIENCE, ROME_CODE
from vitawin_actors.domain.places import BoundingBox
from vitawin_actors.domain.pledges import STATUSES

# The audiences of an action that accept the public searched for: an action for "all" (collège
# and lycée) accepts collégiens and lycéens; searching "all" asks for actions open to both.
AUDIENCE_MATCHES: dict[str, tuple[str, ...]] = {"college": ("college", "all"), "lycee": ("lycee", "all"),
                                                "all": ("all",)}
DEFAULT_STATUS = "active"  # of a pledge stored without a status


@dataclass(frozen=True)
class PledgeFilter:
    """The filters of the list of pledges; None means "any". `rome` (a ROME code, already checked
    against the reference) and `audience` (a key of AUDIENCE_MATCHES) are conditions on ONE action
    of the pledge: on the `action_type` one if given, otherwise on at least one of its actions,
    which must then satisfy both. `action_type` alone asks for pledges that offer it."""
    town: str | None = None
    action_type: str | None = None
    rome: str | None = None
    audience: str | None = None
    status: str | None = None
    bbox: BoundingBox | None = None

    def __post_init__(self) -> None:  # the API checks each value first, in French
        if self.action_type is not None and self.action_type not in ACTION_TYPES:
            raise ValueError(f"unknown action type {self.action_type!r}")
        if self.rome is not None and not ROME_CODE.match(self.rome):
            raise ValueError(f"not a ROME code: {self.rome!r}")
        if self.audience is not None and self.audience not in AUDIENCE_MATCHES:
            raise ValueError(f"unknown audience {self.audience!r}")
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")

    @property
    def per_action(self) -> bool:
        """Whether some condition bears on an action's settings."""
        return self.rome is not None or self.audience is not None

    def _action_types(self) -> tuple[str, ...]:
        return (self.action_type,) if self.action_type is not None else tuple(ACTION_TYPES)

    def _audiences(self) -> list[str | None]:
        """The stored audiences that match (None: an action stored without one has the default)."""
        accepted: list[str | None] = list(AUDIENCE_MATCHES[self.audience])
        return [*accepted, None] if DEFAULT_AUDIENCE in accepted else accepted

    # --- in memory -------------------------------------------------------------------------------
    def matches(self, doc: Mapping[str, Any]) -> bool:
        """Whether the stored pledge `doc` is selected (what `to_query` selects in MongoDB)."""
        if self.town is not None and doc.get("town") != self.town:
            return False
        if self.status is not None and (doc.get("status") or DEFAULT_STATUS) != self.status:
            return False
        if self.bbox is not None:
            location = doc.get("location")
            if not isinstance(location, Mapping) or not self.bbox.contains(location):
                return False
        pledged = [t for t in self._action_types() if t in (doc.get("action_types") or ())]
        if self.per_action:
            actions = doc.get("actions") or {}
            return any(self._action_matches(actions.get(t) or {}) for t in pledged)
        return self.action_type is None or bool(pledged)

    def _action_matches(self, settings: Mapping[str, Any]) -> bool:
        if self.rome is not None and self.rome not in (settings.get("rome_codes") or ()):
            return False
        return self.audience is None or settings.get("audience") in self._audiences()

    # --- in MongoDB ------------------------------------------------------------------------------
    def to_query(self) -> dict:
        """The MongoDB filter: the plain conditions, then, for the per-action ones, one clause per
        action type (only `action_type` if given; several are an `$or`) that asks for the type in
        `action_types` and the conditions on `actions.<type>`."""
        query: dict = {}
        if self.town is not None:
            query["town"] = self.town
        if self.status is not None:  # None in $in also matches a missing field
            query["status"] = {"$in": [DEFAULT_STATUS, None]} if self.status == DEFAULT_STATUS else self.status
        if self.bbox is not None:
            query.update(self.bbox.to_query("location"))
        if self.per_action:
            clauses = [self._action_query(t) for t in self._action_types()]
            if len(clauses) == 1:
                query.update(clauses[0])
            else:
                query["$or"] = clauses
        elif self.action_type is not None:
            query["action_types"] = self.action_type  # matches an element of the array
        return query

    def _action_query(self, action_type: str) -> dict:
        clause: dict = {"action_types": action_type}
        if self.rome is not None:
            clause[f"actions.{action_type}.rome_codes"] = self.rome  # an element of the array
        if self.audience is not None:
            clause[f"actions.{action_type}.audience"] = {"$in": self._audiences()}
        return clause
