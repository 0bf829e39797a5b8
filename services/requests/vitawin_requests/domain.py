"""The requests domain: what a school or a pupil asks for (`RequestSpec`, one of the kinds of
`kinds.KINDS`), and the request's lifecycle: open → partly_matched → fulfilled, or cancelled /
expired. Each change gives a new `Request` with `version` + 1; what is stored and what each event
carries are built here. Plain Python, no I/O.

A pupil is a minor: a pupil's request is placed at the school or at the centre of the pupil's town,
never at a home; it carries no name and no e-mail; the free words a pupil types (`keywords`) and a
cancellation reason typed for a pupil's request stay in the service (they may hold personal data)
and never travel in an event; nor does a moderator's reason for hiding a pupil's request; nor does
the pupil's actor id, except in fr.vitawin.request.requester.v1 on the internal `requesters`
channel (`Request.requester_event_data`), never partner-visible, so that notify can find the
pupil's guardian.

Moderation (`moderation.Moderation`): a hidden request keeps its status; hiding and showing it
again are changes (version + 1) with their events; reports are stored with the request but are not
changes of it."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from vitawin_common.territory import Location

from vitawin_requests.kinds import DEFAULT_MAX_DISTANCE_KM, KINDS, KindRule, RomeJob, audience_of
from vitawin_requests.moderation import AlreadyHidden, Moderation, Moderator, NotHidden

PARIS = ZoneInfo("Europe/Paris")  # the territory's days start and end at midnight, Paris time
OPEN, PARTLY_MATCHED, FULFILLED, CANCELLED, EXPIRED = "open", "partly_matched", "fulfilled", "cancelled", "expired"
STATUSES = {OPEN: "ouverte", PARTLY_MATCHED: "en partie pourvue", FULFILLED: "pourvue", CANCELLED: "annulée",
            EXPIRED: "expirée"}
ACTIVE = (OPEN, PARTLY_MATCHED)  # still asking: editable, matched, shown on the map
CLOSED_AT = {CANCELLED: "cancelled_at", FULFILLED: "fulfilled_at", EXPIRED: "expired_at"}
PRIVATE_FIELDS = ("keywords",)  # typed by a pupil: kept in the service, never published
CANCEL_REASON_LENGTH = 300


class RequestConflict(Exception):
    """A lifecycle change the request's status forbids (French message, for a 409)."""


def _ms(moment: datetime) -> datetime:
    """UTC, to the millisecond (what MongoDB keeps)."""
    if moment.tzinfo is None:  # BSON dates come back naive, in UTC
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso(moment: datetime) -> str:
    return _ms(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def paris_midnight(day: date) -> datetime:
    """The start of `day` in Paris, in UTC."""
    return datetime.combine(day, time(0), tzinfo=PARIS).astimezone(timezone.utc)


def week_monday(week: str) -> date:
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1)


@dataclass(frozen=True)
class RequestSpec:
    """What is asked for, validated: a kind, its fields (None or empty when the kind has not that
    field), and the place derived from the school (or, for a pupil's discovery internship around
    their town, from the centre of that town). `levels` holds the one level of single-level kinds."""
    kind: str
    school_uai: str
    town: str
    location: Location
    levels: tuple[str, ...]
    rome_jobs: tuple[RomeJob, ...] = ()
    professionals_wanted: int = 1
    max_distance_km: float = DEFAULT_MAX_DISTANCE_KM
    contact_email: str | None = None
    date: date | None = None
    start_time: str | None = None
    end_time: str | None = None
    period: tuple[str, ...] = ()
    start: str | None = None
    topic: str | None = None
    class_size: int | None = None
    pupils: int | None = None
    diploma: str | None = None
    around: str | None = None
    keywords: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}")
        object.__setattr__(self, "levels", tuple(self.levels))
        object.__setattr__(self, "period", tuple(sorted(self.period)))  # ISO weeks sort in time order
        object.__setattr__(self, "rome_jobs", tuple(self.rome_jobs))
        object.__setattr__(self, "max_distance_km", float(self.max_distance_km))

    @property
    def rule(self) -> KindRule:
        return KINDS[self.kind]

    @property
    def requester_kind(self) -> str:
        return self.rule.requester_kind

    @property
    def action_type(self) -> str:
        return self.rule.action_type

    @property
    def audience(self) -> str:
        return audience_of(self.levels)

    @property
    def rome_codes(self) -> tuple[str, ...]:
        return tuple(job.code for job in self.rome_jobs)

    def expires_at(self, created_at: datetime) -> datetime:
        """A dated request expires at the end of its date, a period one at the Monday of its first
        week (Paris time); the others `expiry_days` after their creation."""
        if self.rule.timing == "date":
            return paris_midnight(self.date + timedelta(days=1))
        if self.rule.timing == "period":
            return paris_midnight(week_monday(self.period[0]))
        return _ms(created_at + timedelta(days=self.rule.expiry_days))

    def plain(self) -> dict:
        """The stored form (JSON and BSON friendly), `keywords` included."""
        data: dict[str, Any] = {"kind": self.kind, "requester_kind": self.requester_kind,
                                "action_type": self.action_type, "school_uai": self.school_uai}
        if self.rule.single_level:
            data["level"] = self.levels[0]
        data.update(levels=list(self.levels), audience=self.audience, town=self.town,
                    location={"lat": self.location.lat, "lon": self.location.lon})
        optional = {"date": self.date.isoformat() if self.date else None, "start_time": self.start_time,
                    "end_time": self.end_time, "period": list(self.period) or None, "start": self.start,
                    "topic": self.topic, "class_size": self.class_size, "pupils": self.pupils,
                    "diploma": self.diploma, "around": self.around, "keywords": self.keywords}
        data.update({name: value for name, value in optional.items() if value is not None})
        data.update(rome_codes=list(self.rome_codes),
                    rome_jobs=[{"code": job.code, "label": job.label} for job in self.rome_jobs],
                    professionals_wanted=self.professionals_wanted, max_distance_km=self.max_distance_km)
        if self.contact_email is not None:
            data["contact_email"] = self.contact_email
        return data

    def public(self) -> dict:
        """What may leave the service: `plain` without what a pupil typed."""
        return {name: value for name, value in self.plain().items() if name not in PRIVATE_FIELDS}

    @classmethod
    def from_plain(cls, doc: Mapping[str, Any]) -> "RequestSpec":
        labels = {job["code"]: job["label"] for job in doc.get("rome_jobs") or ()}
        return cls(
            kind=doc["kind"], school_uai=doc["school_uai"], town=doc["town"],
            location=Location(float(doc["location"]["lat"]), float(doc["location"]["lon"])),
            levels=tuple(doc["levels"]),
            rome_jobs=tuple(RomeJob(code, labels.get(code, code)) for code in doc.get("rome_codes") or ()),
            professionals_wanted=int(doc["professionals_wanted"]), max_distance_km=doc["max_distance_km"],
            contact_email=doc.get("contact_email"),
            date=date.fromisoformat(doc["date"]) if doc.get("date") else None,
            start_time=doc.get("start_time"), end_time=doc.get("end_time"), period=tuple(doc.get("period") or ()),
            start=doc.get("start"), topic=doc.get("topic"), class_size=doc.get("class_size"),
            pupils=doc.get("pupils"), diploma=doc.get("diploma"), around=doc.get("around"),
            keywords=doc.get("keywords"))


def wanted_error(kind: str, wanted: int, accepted_count: int) -> str | None:
    """Why asking for `wanted` professionals (places, for internship hosting) is too few once
    `accepted_count` proposals were accepted (an edit would fulfil the request: cancel it
    instead), else None."""
    if accepted_count and wanted <= accepted_count:
        what = "places" if kind == "internship_hosting" else "professionnels"
        return (f"Déjà {accepted_count} proposition(s) acceptée(s) : indiquez au moins {accepted_count + 1} "
                f"{what}, ou annulez la demande si elle ne sert plus.")
    return None


def input_form(doc: Mapping[str, Any]) -> dict:
    """The stored request as its requester would post it again (the input fields of its kind, as
    JSON values): what a PATCH is merged into before the whole is validated again. The town of a
    discovery internship around the school is the school's, derived, so it is not an input."""
    rule = KINDS[doc["kind"]]
    form = {name: doc[name] for name in rule.fields if name in doc}
    if doc["kind"] == "discovery_internship" and doc.get("around") != "town":
        form.pop("town", None)
    return form


@dataclass(frozen=True)
class Requester:
    """Who asked (kept in the service, never published for a pupil): the actor the account acts
    for (the pupil; for a referent, the school) and the account."""
    actor_id: str | None
    subject: str


@dataclass(frozen=True)
class Request:
    request_id: str
    spec: RequestSpec
    requester: Requester
    created_at: datetime
    expires_at: datetime
    status: str = OPEN
    version: int = 1
    updated_at: datetime | None = None
    accepted_proposal_ids: tuple[str, ...] = ()
    closed_at: datetime | None = None
    cancel_reason: str | None = None
    moderation: Moderation = Moderation()

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def is_hidden(self) -> bool:
        return self.moderation.hidden

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def accepted_count(self) -> int:
        return len(self.accepted_proposal_ids)

    @classmethod
    def create(cls, spec: RequestSpec, requester: Requester, now: datetime | None = None) -> "Request":
        now = _ms(now or _now())
        return cls(request_id=f"req-{uuid.uuid4().hex}", spec=spec, requester=requester, created_at=now,
                   expires_at=_ms(spec.expires_at(now)), updated_at=now)

    # --- lifecycle -------------------------------------------------------------------------------
    def edit(self, spec: RequestSpec, now: datetime | None = None) -> "Request":
        """The request with its new `spec` (validated as a whole; the same kind). Returns self when
        nothing changes (no new version). RequestConflict once closed."""
        self._refuse_if_closed("modifiée")
        if spec.kind != self.kind:
            raise ValueError("the kind of a request does not change")
        reason = wanted_error(spec.kind, spec.professionals_wanted, self.accepted_count)
        if reason:  # the API says it first, as a 422; here if a proposal was accepted meanwhile
            raise RequestConflict(reason)
        if spec == self.spec:
            return self
        return self._next(now, spec=spec, expires_at=_ms(spec.expires_at(self.created_at)))

    def cancel(self, reason: str | None = None, now: datetime | None = None) -> "Request":
        self._refuse_if_closed("annulée")
        changed = self._next(now, status=CANCELLED, cancel_reason=reason or None)
        return replace(changed, closed_at=changed.updated_at)

    def expire(self, now: datetime | None = None) -> "Request":
        self._refuse_if_closed("expirée")
        changed = self._next(now, status=EXPIRED)
        return replace(changed, closed_at=changed.updated_at)

    def is_due(self, now: datetime) -> bool:
        """Whether the request should expire at `now` (still active, its expiry reached)."""
        return self.is_active and self.expires_at <= _ms(now)

    def accept(self, proposal_id: str, now: datetime | None = None) -> "Request":
        """A professional's proposal for this request was accepted: partly_matched, then fulfilled
        when `professionals_wanted` proposals are. Once per proposal (a repeat returns self), and
        a closed request ignores it (returns self)."""
        if not self.is_active or proposal_id in self.accepted_proposal_ids:
            return self
        accepted = (*self.accepted_proposal_ids, proposal_id)
        fulfilled = len(accepted) >= self.spec.professionals_wanted
        changed = self._next(now, accepted_proposal_ids=accepted, status=FULFILLED if fulfilled else PARTLY_MATCHED)
        return replace(changed, closed_at=changed.updated_at) if fulfilled else changed

    # --- moderation ----------------------------------------------------------------------------------
    def hide(self, reason: str, by: Moderator, now: datetime | None = None) -> "Request":
        """Hidden by a moderator, whatever its status (which it keeps): a new version.
        RequestConflict when already hidden."""
        now = _ms(now or _now())
        try:
            moderation = self.moderation.hide(reason, by, now)
        except AlreadyHidden:
            raise RequestConflict("La demande est déjà masquée.") from None
        return self._next(now, moderation=moderation)

    def unhide(self, by: Moderator, now: datetime | None = None) -> "Request":
        """Shown again: a new version. RequestConflict when it is not hidden."""
        now = _ms(now or _now())
        try:
            moderation = self.moderation.unhide(by, now)
        except NotHidden:
            raise RequestConflict("La demande n'est pas masquée.") from None
        return self._next(now, moderation=moderation)

    def _refuse_if_closed(self, what: str) -> None:
        if not self.is_active:
            raise RequestConflict(f"La demande est {STATUSES[self.status]} : elle ne peut plus être {what}.")

    def _next(self, now: datetime | None, **changes) -> "Request":
        return replace(self, version=self.version + 1, updated_at=_ms(now or _now()), **changes)

    # --- what is stored and published ------------------------------------------------------------
    def state(self) -> dict:
        """The whole public state: the data of fr.vitawin.request.created.v2 and .updated.v1."""
        return {"request_id": self.request_id, **self.spec.public(), "status": self.status,
                "version": self.version, "accepted_count": self.accepted_count,
                "created_at": iso(self.created_at), "updated_at": iso(self.updated_at or self.created_at),
                "expires_at": iso(self.expires_at)}

    def created_event_data(self) -> dict:
        return self.state()

    def updated_event_data(self) -> dict:
        return self.state()

    def cancelled_event_data(self) -> dict:
        """The data of fr.vitawin.request.cancelled.v1: the reason only for a school's request (one
        typed for a pupil's request stays here)."""
        data = {"request_id": self.request_id, "version": self.version, "cancelled_at": iso(self.closed_at)}
        if self.cancel_reason and self.spec.requester_kind == "school":
            data["reason"] = self.cancel_reason
        return data

    def fulfilled_event_data(self) -> dict:
        return {"request_id": self.request_id, "version": self.version, "at": iso(self.closed_at),
                "accepted_proposal_ids": list(self.accepted_proposal_ids)}

    def expired_event_data(self) -> dict:
        return {"request_id": self.request_id, "version": self.version, "at": iso(self.closed_at)}

    def hidden_event_data(self) -> dict:
        """The data of fr.vitawin.request.hidden.v1: the moderator's role, never the account; the
        reason only for a school's request (one written about a pupil's request stays here)."""
        hiding = self.moderation.hiding
        data = {"request_id": self.request_id, "version": self.version, "status": self.status,
                "hidden_by_role": hiding.by_role, "at": iso(hiding.at)}
        if self.spec.requester_kind == "school":
            data["reason"] = hiding.reason
        return data

    def unhidden_event_data(self) -> dict:
        """The data of fr.vitawin.request.unhidden.v1."""
        return {"request_id": self.request_id, "version": self.version, "status": self.status,
                "unhidden_by_role": self.moderation.last_role, "at": iso(self.updated_at)}

    def requester_event_data(self) -> dict:
        """The data of fr.vitawin.request.requester.v1 (internal channel `requesters` only): which
        pupil asked, by their pseudonymous actor id, and the request's school; nothing else.
        ValueError for a school's request, or a pupil's without an actor id (never published)."""
        if self.spec.requester_kind != "pupil" or not self.requester.actor_id:
            raise ValueError("only a pupil's request, with the pupil's actor id, names its requester")
        return {"request_id": self.request_id, "requester_actor_id": self.requester.actor_id,
                "school_uai": self.spec.school_uai}

    def to_document(self) -> dict:
        doc = {"request_id": self.request_id, **self.spec.plain(),
               "requester_actor_id": self.requester.actor_id, "requester_subject": self.requester.subject,
               "status": self.status, "version": self.version,
               "accepted_proposal_ids": list(self.accepted_proposal_ids), "accepted_count": self.accepted_count,
               "created_at": self.created_at, "updated_at": self.updated_at or self.created_at,
               "expires_at": self.expires_at}
        if self.closed_at is not None:
            doc[CLOSED_AT[self.status]] = self.closed_at
        if self.cancel_reason:
            doc["cancel_reason"] = self.cancel_reason
        doc.update(self.moderation.to_document())
        return doc

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> "Request":
        status = doc["status"]
        closed_at = doc.get(CLOSED_AT[status]) if status in CLOSED_AT else None
        return cls(request_id=doc["request_id"], spec=RequestSpec.from_plain(doc),
                   requester=Requester(doc.get("requester_actor_id"), doc.get("requester_subject", "")),
                   created_at=_ms(doc["created_at"]), expires_at=_ms(doc["expires_at"]), status=status,
                   version=int(doc["version"]), updated_at=_ms(doc.get("updated_at") or doc["created_at"]),
                   accepted_proposal_ids=tuple(doc.get("accepted_proposal_ids") or ()),
                   closed_at=_ms(closed_at) if closed_at else None, cancel_reason=doc.get("cancel_reason"),
                   moderation=Moderation.from_document(doc))
