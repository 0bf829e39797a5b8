"""Initiatives and calls for projects (plain Python, no I/O).

An organisation (or a school, or a territory manager) publishes an `Initiative` of one of two
kinds: an `initiative` that partners join, or a `call_for_projects` that actors apply to until its
deadline (a date, the last day applications are accepted, in the territory's time zone). It says
which kinds of partners it seeks, where (a town of the territory, a point within 5 km of its
centre: by default the centre) and when. The publisher edits it and closes it; a territory manager
may close any; a call for projects closes by itself once its deadline has passed (`is_due`).

Every change adds one to `version`, which travels in every event so that a consumer can drop a
stale one. The contact e-mail of the publisher and the participants' messages are shown only to
the publisher and the participants (`can_see_private`); events never carry them.

Moderation (`vitawin_requests.moderation`): a territory manager hides an initiative with a reason
(it keeps its status, leaves the public lists, the map and the public reading, accepts no new
participant; its publisher and territory managers still see it) and shows it again, each a change
with its event; anyone who can see it reports it (not a change: the version stays).

The vocabulary, the limits, the refusals and the rules across fields are in `rules`; what lists
and the map select, in `filters`."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from vitawin_common.territory import Location, Territory

from vitawin_requests.initiatives.rules import (EDITABLE_FIELDS, ID_PREFIX, KINDS, PARTICIPANT_ROLES, PUBLISHER_ROLES,
                                                TERRITORY_MANAGER, WORDS, InitiativeConflict, InvalidInitiative,
                                                NotAllowed, ParticipationNotFound, as_day, check_rules, choices,
                                                french_day, iso_time, local_date, utc, utc_now)
from vitawin_requests.moderation import Moderation, Moderator


# --- who ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Party:
    """Someone acting: their role (see vitawin_common.identity.ROLES) and the actor they act for
    (an organisation, a school, a territory manager), if any."""
    role: str
    actor_id: str | None = None


@dataclass(frozen=True)
class Participation:
    actor_id: str
    role: str
    joined_at: datetime
    message: str | None = None

    def to_document(self) -> dict:
        doc = {"actor_id": self.actor_id, "role": self.role, "joined_at": self.joined_at}
        if self.message is not None:
            doc["message"] = self.message
        return doc

    @classmethod
    def from_document(cls, doc: Mapping) -> "Participation":
        return cls(doc["actor_id"], doc["role"], utc(doc["joined_at"]), doc.get("message"))


# --- the initiative -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PublishInitiative:
    """Command: publish an initiative or a call for projects (fields already validated one by one)."""
    kind: str
    title: str
    partner_kinds_sought: list[str]
    town: str
    contact_email: str
    description: str = ""
    start_date: date | None = None
    end_date: date | None = None
    deadline: date | None = None
    location: Location | None = None  # None: the town's centre


@dataclass(frozen=True)
class Initiative:
    initiative_id: str
    kind: str
    title: str
    description: str
    partner_kinds_sought: tuple[str, ...]
    town: str
    location: Location
    publisher: Party
    contact_email: str
    created_at: datetime
    updated_at: datetime
    start_date: date | None = None
    end_date: date | None = None
    deadline: date | None = None
    status: str = "open"
    participants: tuple[Participation, ...] = ()
    version: int = 1
    closed_at: datetime | None = None
    close_reason: str | None = None
    moderation: Moderation = Moderation()

    # -- publication --
    @classmethod
    def publish(cls, command: PublishInitiative, publisher: Party, territory: Territory, today: date,
                now: datetime | None = None) -> "Initiative":
        """NotAllowed when `publisher` may not publish; InvalidInitiative when a rule is broken."""
        if publisher.role not in PUBLISHER_ROLES:
            raise NotAllowed("Seuls un professionnel, un référent d'établissement ou un gestionnaire de "
                             "territoire peuvent publier une initiative ou un appel à projets.")
        if not publisher.actor_id:
            raise NotAllowed("Votre compte n'agit pour aucun acteur (organisation ou établissement) : "
                             "il ne peut pas publier d'initiative.")
        if command.kind not in KINDS:
            raise InvalidInitiative({"kind": [f"Type inconnu ; valeurs possibles : {choices(KINDS)}."]})
        values = {name: getattr(command, name) for name in (
            "kind", "town", "location", "start_date", "end_date", "deadline", "partner_kinds_sought")}
        errors = check_rules(values, territory, today)
        if errors:
            raise InvalidInitiative(errors)
        now = utc(now or utc_now())
        return cls(
            initiative_id=f"{ID_PREFIX}{uuid.uuid4().hex}", kind=command.kind, title=command.title,
            description=command.description, partner_kinds_sought=tuple(command.partner_kinds_sought),
            town=command.town, location=command.location or territory.towns[command.town].centre,
            publisher=Party(publisher.role, publisher.actor_id), contact_email=command.contact_email,
            created_at=now, updated_at=now, start_date=command.start_date, end_date=command.end_date,
            deadline=command.deadline)

    # -- who is who --
    def is_publisher(self, party: Party | None) -> bool:
        return party is not None and bool(party.actor_id) and party.actor_id == self.publisher.actor_id

    def participation(self, actor_id: str | None) -> Participation | None:
        return next((p for p in self.participants if actor_id and p.actor_id == actor_id), None)

    @property
    def is_hidden(self) -> bool:
        return self.moderation.hidden

    def can_see(self, viewer: Party | None) -> bool:
        """Anyone sees it, unless it is hidden: then only its publisher and territory managers."""
        return not self.is_hidden or self.is_publisher(viewer) or (viewer is not None and
                                                                   viewer.role == TERRITORY_MANAGER)

    def can_see_private(self, viewer: Party | None) -> bool:
        """The contact e-mail and the participants' messages: the publisher and the participants only."""
        return self.is_publisher(viewer) or (viewer is not None and self.participation(viewer.actor_id) is not None)

    def _words(self) -> dict:
        """French words that agree with the kind (an initiative is feminine, a call masculine)."""
        return WORDS[self.kind]

    def accepts_participants_on(self, today: date) -> str | None:
        """None when one may join or apply on `today`; the French reason otherwise."""
        w = self._words()
        if self.status == "closed":
            return f"{w['This']} est clôturé{w['e']} : {w['it']} n'accepte plus de {w['newcomers']}."
        if self.is_hidden:
            return f"{w['This']} est masqué{w['e']} par la modération : {w['it']} n'accepte pas de {w['newcomers']}."
        if self.deadline is not None and today > self.deadline:
            return f"La date limite de candidature ({french_day(self.deadline)}) est passée."
        if self.end_date is not None and today > self.end_date:
            return f"{w['This']} s'est terminé{w['e']} le {french_day(self.end_date)}."
        return None

    def is_due(self, now: datetime) -> bool:
        """An open call for projects whose deadline (the last day to apply) has passed at `now`."""
        return (self.kind == "call_for_projects" and self.status == "open" and self.deadline is not None
                and self.deadline < local_date(now))

    # -- changes: each returns a new Initiative, version + 1 --
    def _next(self, now: datetime | None, **changes) -> "Initiative":
        return replace(self, version=self.version + 1, updated_at=utc(now or utc_now()), **changes)

    def edit(self, changes: Mapping[str, Any], by: Party, territory: Territory, today: date,
             now: datetime | None = None) -> "Initiative":
        """The publisher changes some of EDITABLE_FIELDS (each already valid on its own). A town
        given without a location moves the location to the new town's centre. Returns `self` when
        nothing changes. NotAllowed, InitiativeConflict (closed), InvalidInitiative."""
        if not self.is_publisher(by):
            raise NotAllowed("Seul l'acteur qui a publié cette initiative peut la modifier.")
        if self.status == "closed":
            w = self._words()
            raise InitiativeConflict(f"{w['This']} est clôturé{w['e']} : {w['it']} ne peut plus être modifié{w['e']}.")
        unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
        if unknown:
            raise InvalidInitiative({name: ["Ce champ ne se modifie pas."] for name in unknown})
        changes = dict(changes)
        moved = "town" in changes and changes["town"] != self.town
        if moved and "location" not in changes and changes["town"] in territory.towns:
            changes["location"] = territory.towns[changes["town"]].centre
        if "partner_kinds_sought" in changes:
            changes["partner_kinds_sought"] = tuple(changes["partner_kinds_sought"])
        values = {"kind": self.kind, "town": self.town, "location": self.location, "start_date": self.start_date,
                  "end_date": self.end_date, "deadline": self.deadline,
                  "partner_kinds_sought": self.partner_kinds_sought, **changes}
        errors = check_rules(values, territory, today, changed=set(changes))
        if errors:
            raise InvalidInitiative(errors)
        real = {name: value for name, value in changes.items() if getattr(self, name) != value}
        if not real:
            return self
        return self._next(now, **real)

    def changed_fields(self, before: "Initiative") -> list[str]:
        return [name for name in EDITABLE_FIELDS if getattr(self, name) != getattr(before, name)]

    def join(self, by: Party, message: str | None, today: date,
             now: datetime | None = None) -> tuple["Initiative", Participation]:
        """`by` joins the initiative (or applies to the call for projects), once per actor, never
        its own. NotAllowed, InitiativeConflict."""
        if by.role not in PARTICIPANT_ROLES:
            raise NotAllowed("Un élève ne peut pas rejoindre une initiative ni candidater à un appel à projets."
                             if by.role == "pupil" else "Votre rôle ne permet pas de participer.")
        if not by.actor_id:
            raise NotAllowed("Votre compte n'agit pour aucun acteur (organisation ou établissement) : "
                             "il ne peut pas participer.")
        w = self._words()
        if self.is_publisher(by):
            raise InitiativeConflict(f"Vous avez publié {w['this']} : vous ne pouvez pas {w['join_own']}.")
        if self.participation(by.actor_id) is not None:
            raise InitiativeConflict(f"Cet acteur {w['already']}.")
        refused = self.accepts_participants_on(today)
        if refused:
            raise InitiativeConflict(refused)
        now = utc(now or utc_now())
        participation = Participation(by.actor_id, by.role, now, message or None)
        return self._next(now, participants=self.participants + (participation,)), participation

    def leave(self, actor_id: str, by: Party, today: date,
              now: datetime | None = None) -> tuple["Initiative", Participation]:
        """`actor_id` stops taking part (by itself, or removed by a territory manager) before the
        end of the initiative. NotAllowed, ParticipationNotFound, InitiativeConflict."""
        if by.actor_id != actor_id and by.role != TERRITORY_MANAGER:
            raise NotAllowed("Seul l'acteur concerné ou un gestionnaire de territoire peut retirer cette participation.")
        participation = self.participation(actor_id)
        if participation is None:
            raise ParticipationNotFound(actor_id)
        if self.end_date is not None and today > self.end_date:
            w = self._words()
            raise InitiativeConflict(f"{w['This']} s'est terminé{w['e']} le {french_day(self.end_date)} : "
                                     "la participation ne peut plus être retirée.")
        remaining = tuple(p for p in self.participants if p.actor_id != actor_id)
        return self._next(now, participants=remaining), participation

    def close(self, by: Party | None, now: datetime | None = None) -> "Initiative":
        """Closed by its publisher, by a territory manager, or (`by` None) at its deadline.
        NotAllowed, InitiativeConflict (already closed)."""
        if by is None:
            reason = "deadline_passed"
        elif self.is_publisher(by):
            reason = "closed_by_publisher"
        elif by.role == TERRITORY_MANAGER:
            reason = "closed_by_territory_manager"
        else:
            raise NotAllowed("Seul l'acteur qui a publié cette initiative ou un gestionnaire de territoire "
                             "peut la clôturer.")
        if self.status == "closed":
            w = self._words()
            raise InitiativeConflict(f"{w['This']} est déjà clôturé{w['e']}.")
        now = utc(now or utc_now())
        return self._next(now, status="closed", closed_at=now, close_reason=reason)

    def moderation_conflict(self, hiding: bool) -> str | None:
        """Why hiding it (`hiding`) or showing it again is refused in its state (French, for a
        409), or None."""
        w = self._words()
        if hiding and self.is_hidden:
            return f"{w['This']} est déjà masqué{w['e']}."
        if not hiding and not self.is_hidden:
            return f"{w['This']} n'est pas masqué{w['e']}."
        return None

    def hide(self, reason: str, by: Moderator, now: datetime | None = None) -> "Initiative":
        """A territory manager hides it, whatever its status (which it keeps). NotAllowed,
        InitiativeConflict (already hidden)."""
        if by.role != TERRITORY_MANAGER:
            raise NotAllowed("Seul un gestionnaire de territoire peut masquer une initiative ou un appel à projets.")
        conflict = self.moderation_conflict(hiding=True)
        if conflict:
            raise InitiativeConflict(conflict)
        now = utc(now or utc_now())
        return self._next(now, moderation=self.moderation.hide(reason, by, now))

    def unhide(self, by: Moderator, now: datetime | None = None) -> "Initiative":
        """A territory manager shows it again. NotAllowed, InitiativeConflict (not hidden)."""
        if by.role != TERRITORY_MANAGER:
            raise NotAllowed("Seul un gestionnaire de territoire peut afficher de nouveau une initiative ou un appel "
                             "à projets.")
        conflict = self.moderation_conflict(hiding=False)
        if conflict:
            raise InitiativeConflict(conflict)
        now = utc(now or utc_now())
        return self._next(now, moderation=self.moderation.unhide(by, now))

    # -- views and events --
    def public_fields(self) -> dict:
        """What anyone may know (JSON-friendly): no contact e-mail, no participant."""
        data = {
            "initiative_id": self.initiative_id,
            "kind": self.kind,
            "title": self.title,
            "description": self.description,
            "partner_kinds_sought": list(self.partner_kinds_sought),
            "town": self.town,
            "location": {"lat": self.location.lat, "lon": self.location.lon},
            "publisher": {"actor_id": self.publisher.actor_id, "role": self.publisher.role},
            "status": self.status,
        }
        for name in ("start_date", "end_date", "deadline"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name).isoformat()
        return data

    def published_event_data(self) -> dict:
        return {**self.public_fields(), "published_at": iso_time(self.created_at), "version": self.version}

    def updated_event_data(self, changed_fields: list[str]) -> dict:
        return {**self.public_fields(), "published_at": iso_time(self.created_at),
                "updated_at": iso_time(self.updated_at), "changed_fields": list(changed_fields),
                "version": self.version}

    def joined_event_data(self, participation: Participation) -> dict:
        return {"initiative_id": self.initiative_id, "actor_id": participation.actor_id,
                "role": participation.role, "joined_at": iso_time(participation.joined_at), "version": self.version}

    def left_event_data(self, participation: Participation, by: Party) -> dict:
        return {"initiative_id": self.initiative_id, "actor_id": participation.actor_id,
                "role": participation.role, "left_at": iso_time(self.updated_at),
                "removed_by_territory_manager": by.actor_id != participation.actor_id, "version": self.version}

    def closed_event_data(self) -> dict:
        return {"initiative_id": self.initiative_id, "kind": self.kind, "reason": self.close_reason,
                "closed_at": iso_time(self.closed_at), "participant_count": len(self.participants),
                "version": self.version}

    def hidden_event_data(self) -> dict:
        """fr.vitawin.initiative.hidden.v1: the moderator's role, never the account."""
        hiding = self.moderation.hiding
        return {"initiative_id": self.initiative_id, "kind": self.kind, "status": self.status,
                "hidden_by_role": hiding.by_role, "reason": hiding.reason, "at": iso_time(hiding.at),
                "version": self.version}

    def unhidden_event_data(self) -> dict:
        return {"initiative_id": self.initiative_id, "kind": self.kind, "status": self.status,
                "unhidden_by_role": self.moderation.last_role, "at": iso_time(self.updated_at),
                "version": self.version}

    def view(self, viewer: Party | None) -> dict:
        """The initiative as `viewer` may read it (dates as date objects, for the API schema): the
        contact e-mail and the participants' messages only for the publisher and the participants;
        the hidden flag (with reason, role and time when hidden); the reports only for territory
        managers; `participating`: whether the viewer's actor takes part (what a list, which has no
        participants, tells the viewer about itself)."""
        private = self.can_see_private(viewer)
        data = {**self.public_fields(), "start_date": self.start_date, "end_date": self.end_date,
                "deadline": self.deadline, "participant_count": len(self.participants),
                "version": self.version, "created_at": self.created_at, "updated_at": self.updated_at,
                "closed_at": self.closed_at, "close_reason": self.close_reason,
                "participants": [p.to_document() if private else
                                 {k: v for k, v in p.to_document().items() if k != "message"}
                                 for p in self.participants],
                "participating": viewer is not None and self.participation(viewer.actor_id) is not None}
        if private:
            data["contact_email"] = self.contact_email
        data.update(self.moderation.view(with_reports=viewer is not None and viewer.role == TERRITORY_MANAGER))
        return data

    # -- storage --
    def to_document(self) -> dict:
        return {
            "initiative_id": self.initiative_id, "kind": self.kind, "title": self.title,
            "description": self.description, "partner_kinds_sought": list(self.partner_kinds_sought),
            "start_date": _iso_day(self.start_date), "end_date": _iso_day(self.end_date),
            "deadline": _iso_day(self.deadline), "town": self.town,
            "location": {"lat": self.location.lat, "lon": self.location.lon},
            "publisher": {"actor_id": self.publisher.actor_id, "role": self.publisher.role},
            "contact_email": self.contact_email, "status": self.status,
            "participants": [p.to_document() for p in self.participants],
            "version": self.version, "created_at": self.created_at, "updated_at": self.updated_at,
            "closed_at": self.closed_at, "close_reason": self.close_reason,
            **self.moderation.to_document(),
        }

    @classmethod
    def from_document(cls, doc: Mapping) -> "Initiative":
        return cls(
            initiative_id=doc["initiative_id"], kind=doc["kind"], title=doc["title"],
            description=doc.get("description", ""), partner_kinds_sought=tuple(doc["partner_kinds_sought"]),
            town=doc["town"], location=Location(doc["location"]["lat"], doc["location"]["lon"]),
            publisher=Party(doc["publisher"]["role"], doc["publisher"]["actor_id"]),
            contact_email=doc["contact_email"], created_at=utc(doc["created_at"]),
            updated_at=utc(doc.get("updated_at") or doc["created_at"]), start_date=as_day(doc.get("start_date")),
            end_date=as_day(doc.get("end_date")), deadline=as_day(doc.get("deadline")),
            status=doc.get("status", "open"),
            participants=tuple(Participation.from_document(p) for p in doc.get("participants", ())),
            version=doc.get("version", 1),
            closed_at=utc(doc["closed_at"]) if doc.get("closed_at") else None,
            close_reason=doc.get("close_reason"), moderation=Moderation.from_document(doc))


def _iso_day(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None
