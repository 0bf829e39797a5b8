"""A professional's pledge (a volunteer) and its lifecycle. A pledge is one profile per
professional (a `Volunteer`) with one `ActionSettings` per action type it offers, a status
(active, paused, withdrawn) and a version that grows by one with each change and travels in every
volunteer event, so that a consumer can drop a stale update."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from vitawin_common.territory import Location

from vitawin_actors.domain.actions import ActionSettings, complete_actions
from vitawin_actors.domain.places import DEFAULT_MAX_DISTANCE_KM, _iso, _ms, _now

STATUSES = {"active": "actif", "paused": "en pause", "withdrawn": "retiré"}


class PledgeConflict(Exception):
    """A lifecycle change the pledge's status forbids (French message, for a 409)."""


@dataclass(frozen=True)
class RegisterVolunteer:
    """Command: a professional pledges to act (input already validated)."""
    organisation_name: str
    contact_email: str
    town: str
    location: Location
    action_types: list[str]
    max_distance_km: float = DEFAULT_MAX_DISTANCE_KM
    actor_id: str | None = None  # the registered organisation in the directory, if any
    actions: Mapping[str, "ActionSettings"] = field(default_factory=dict)  # per action type; see Pledge


@dataclass(frozen=True)
class Volunteer:
    volunteer_id: str
    organisation_name: str
    contact_email: str
    town: str
    location: Location
    action_types: tuple[str, ...]
    max_distance_km: float
    created_at: datetime

    @classmethod
    def register(cls, command: RegisterVolunteer, now: datetime | None = None) -> "Volunteer":
        now = now or _now()
        return cls(
            volunteer_id=f"vol-{uuid.uuid4().hex}",
            organisation_name=command.organisation_name,
            contact_email=command.contact_email,
            town=command.town,
            location=command.location,
            action_types=tuple(command.action_types),
            max_distance_km=float(command.max_distance_km),
            created_at=now.replace(microsecond=now.microsecond // 1000 * 1000),  # MongoDB keeps ms
        )

    def event_data(self) -> dict:
        """The fields every volunteer event carries about the professional (the data of
        fr.vitawin.volunteer.registered.v1 before pledges had per-action settings; `Pledge` adds
        actor_id, actions, status and version)."""
        return {
            "volunteer_id": self.volunteer_id,
            "organisation_name": self.organisation_name,
            "contact_email": self.contact_email,
            "town": self.town,
            "location": {"lat": self.location.lat, "lon": self.location.lon},
            "action_types": list(self.action_types),
            "max_distance_km": self.max_distance_km,
        }

    def to_document(self) -> dict:
        return {**self.event_data(), "created_at": self.created_at}


VOLUNTEER_FIELDS = ("organisation_name", "contact_email", "town", "location", "action_types", "max_distance_km")
EDITABLE_FIELDS = (*VOLUNTEER_FIELDS, "actor_id", "actions")


@dataclass(frozen=True)
class Pledge:
    """A volunteer's pledge and its lifecycle: active ⇄ paused, then withdrawn (for good: kept for
    history, never edited again). Each change gives a new Pledge with `version` + 1."""
    volunteer: Volunteer
    actions: Mapping[str, ActionSettings]
    actor_id: str | None = None
    status: str = "active"
    version: int = 1
    updated_at: datetime | None = None
    withdrawn_at: datetime | None = None

    @property
    def volunteer_id(self) -> str:
        return self.volunteer.volunteer_id

    @classmethod
    def register(cls, command: RegisterVolunteer, now: datetime | None = None) -> "Pledge":
        volunteer = Volunteer.register(command, now)
        return cls(volunteer=volunteer, actions=complete_actions(command.action_types, command.actions),
                   actor_id=command.actor_id, updated_at=volunteer.created_at)

    # --- lifecycle -------------------------------------------------------------------------------
    def edit(self, changes: Mapping[str, Any], now: datetime | None = None) -> "Pledge":
        """The pledge with `changes` (any of EDITABLE_FIELDS, already validated) applied. Given
        `actions` entries replace that action's settings whole (what they omit takes its default);
        the other actions keep theirs; an action type removed from action_types loses its
        settings, one added gets the defaults. `actor_id` None unlinks the organisation. Returns
        self when nothing changes (no new version)."""
        self._refuse_if_withdrawn("modifié")
        unknown = set(changes) - set(EDITABLE_FIELDS)
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        core = {name: changes[name] for name in VOLUNTEER_FIELDS if name in changes}
        if "action_types" in core:
            core["action_types"] = tuple(core["action_types"])
        if "max_distance_km" in core:
            core["max_distance_km"] = float(core["max_distance_km"])
        volunteer = replace(self.volunteer, **core)
        kept = {key: value for key, value in self.actions.items() if key in volunteer.action_types}
        actions = complete_actions(volunteer.action_types, {**kept, **dict(changes.get("actions") or {})})
        actor_id = changes["actor_id"] if "actor_id" in changes else self.actor_id
        if (volunteer, actions, actor_id) == (self.volunteer, dict(self.actions), self.actor_id):
            return self
        return self._next(now, volunteer=volunteer, actions=actions, actor_id=actor_id)

    def pause(self, now: datetime | None = None) -> "Pledge":
        self._refuse_if_withdrawn("mis en pause")
        if self.status == "paused":
            raise PledgeConflict("L'engagement est déjà en pause.")
        return self._next(now, status="paused")

    def resume(self, now: datetime | None = None) -> "Pledge":
        self._refuse_if_withdrawn("repris")
        if self.status == "active":
            raise PledgeConflict("L'engagement est déjà actif : seul un engagement en pause peut reprendre.")
        return self._next(now, status="active")

    def withdraw(self, now: datetime | None = None) -> "Pledge":
        if self.status == "withdrawn":
            raise PledgeConflict("L'engagement est déjà retiré.")
        pledge = self._next(now, status="withdrawn")
        return replace(pledge, withdrawn_at=pledge.updated_at)

    def _refuse_if_withdrawn(self, what: str) -> None:
        if self.status == "withdrawn":
            raise PledgeConflict(f"L'engagement a été retiré : il ne peut plus être {what}.")

    def _next(self, now: datetime | None, **changes) -> "Pledge":
        return replace(self, version=self.version + 1, updated_at=_ms(now or _now()), **changes)

    # --- what is stored and published ----------------------------------------------------------
    def actions_plain(self) -> dict:
        return {action_type: settings.to_plain() for action_type, settings in self.actions.items()}

    def registered_event_data(self) -> dict:
        """The data of fr.vitawin.volunteer.registered.v1: the professional, the organisation
        (if any), each action's settings, and the version (1)."""
        data = self.volunteer.event_data()
        if self.actor_id is not None:
            data["actor_id"] = self.actor_id
        return {**data, "actions": self.actions_plain(), "version": self.version}

    def updated_event_data(self) -> dict:
        """The data of fr.vitawin.volunteer.updated.v1: the whole new state, status included."""
        return {**self.registered_event_data(), "status": self.status}

    def withdrawn_event_data(self) -> dict:
        """The data of fr.vitawin.volunteer.withdrawn.v1."""
        return {"volunteer_id": self.volunteer_id, "withdrawn_at": _iso(self.withdrawn_at), "version": self.version}

    def to_document(self) -> dict:
        doc = {**self.volunteer.to_document()}
        if self.actor_id is not None:
            doc["actor_id"] = self.actor_id
        doc.update(actions=self.actions_plain(), status=self.status, version=self.version,
                   updated_at=self.updated_at or self.volunteer.created_at)
        if self.withdrawn_at is not None:
            doc["withdrawn_at"] = self.withdrawn_at
        return doc

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> "Pledge":
        """A stored pledge. A document stored before pledges had a lifecycle (or by an import that
        writes `Volunteer.to_document()`) is active, version 1, with default action settings."""
        volunteer = Volunteer(
            volunteer_id=doc["volunteer_id"], organisation_name=doc.get("organisation_name", ""),
            contact_email=doc.get("contact_email", ""), town=doc["town"],  # absent once purged (erasure)
            location=Location(float(doc["location"]["lat"]), float(doc["location"]["lon"])),
            action_types=tuple(doc["action_types"]), max_distance_km=float(doc["max_distance_km"]),
            created_at=_ms(doc["created_at"]))
        stored = doc.get("actions") or {}
        actions = complete_actions(volunteer.action_types, {
            action_type: ActionSettings.from_plain(action_type, plain)
            for action_type, plain in stored.items() if action_type in volunteer.action_types})
        withdrawn_at = doc.get("withdrawn_at")
        return cls(volunteer=volunteer, actions=actions, actor_id=doc.get("actor_id"),
                   status=doc.get("status", "active"), version=int(doc.get("version", 1)),
                   updated_at=_ms(doc.get("updated_at") or doc["created_at"]),
                   withdrawn_at=_ms(withdrawn_at) if withdrawn_at else None)
