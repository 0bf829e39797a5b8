"""Matching rules in plain Python (no I/O): distances, eligibility, ranking, proposal ids.

What matching knows of each side: a `Volunteer` with one `ActionOffer` per pledged action type
(the settings of fr.vitawin.volunteer.registered.v1 / updated.v1 `actions`; an event without them
gets `ActionOffer.default` for each action type), and a `Request` with every field of
fr.vitawin.request.created.v2 / updated.v1 that the hard rules (rules.py) and the ranking
(ranking.py) read. `match` below is the walking skeleton's test (action, active, distance); the
full hard rules of docs/matching.md are rules.check.

The geo search is split in two on purpose: `bounding_box` gives a cheap pre-filter the database
can answer on plain indexed fields, and `match` decides with the exact haversine distance. A later
in-memory index (a KD-tree, say) only has to replace the pre-filter. Points and the haversine
distance are the territory's (vitawin_common.territory)."""
from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Mapping

from vitawin_common.territory import EARTH_RADIUS_KM, Location, distance_km

Day = date

DEFAULT_TOP_K = 3
DEFAULT_EXTRA_PROPOSALS = 2  # MATCHING_EXTRA_PROPOSALS: proposals beyond professionals_wanted (docs/matching.md)
ACTIVE, PAUSED, WITHDRAWN = "active", "paused", "withdrawn"

# The pledges' vocabulary (contracts: volunteer.registered.v1 action_types and actions).
TESTIMONY, INTERVENTION, INTERNSHIP = "testimony", "intervention", "internship"
APPRENTICESHIP, MENTORING, JOB_FAIR = "apprenticeship", "mentoring", "job_fair"
ACTION_TYPES = (TESTIMONY, INTERVENTION, INTERNSHIP, APPRENTICESHIP, MENTORING, JOB_FAIR)
ON_SITE, IN_CLASS, REMOTE = "on_site", "in_class", "remote"
COLLEGE, LYCEE, ALL = "college", "lycee", "all"
DEFAULT_WEEKLY_CONTACT_CAP = 5
# Where each action takes place when the pledge says nothing (an event without `actions`).
DEFAULT_MODALITY = {TESTIMONY: IN_CLASS, INTERVENTION: IN_CLASS, JOB_FAIR: IN_CLASS,
                    INTERNSHIP: ON_SITE, APPRENTICESHIP: ON_SITE, MENTORING: ON_SITE}


@dataclass(frozen=True, slots=True)
class RomeJob:
    """A ROME job code (France Travail) with its French label, e.g. D1102 "Boulanger / Boulangère"."""
    code: str
    label: str


def _rome_jobs(items) -> tuple[RomeJob, ...]:
    return tuple(RomeJob(item["code"], item["label"]) for item in items or ())


def _label(jobs: tuple[RomeJob, ...], code: str) -> str | None:
    return next((job.label for job in jobs if job.code == code), None)


@dataclass(frozen=True, slots=True)
class ActionOffer:
    """A volunteer's settings for one action type (contracts: volunteer.registered.v1 $defs).
    Fields that belong to other action types keep their neutral value: capacity_per_period, levels
    and periods are the internship's (empty levels or periods: any), diplomas (empty: any) and
    places the apprenticeship's, duration_months and mentees the mentoring's, dates and on_request
    the job fair's, topics the intervention's. max_distance_km None: the pledge's limit applies."""
    action_type: str
    audience: str = ALL
    modality: str = IN_CLASS
    rome_codes: tuple[str, ...] = ()
    rome_jobs: tuple[RomeJob, ...] = ()
    max_distance_km: float | None = None
    weekly_contact_cap: int = DEFAULT_WEEKLY_CONTACT_CAP
    capacity_per_period: int | None = None
    levels: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()  # ISO 8601 weeks, "2027-W05"
    diplomas: tuple[str, ...] = ()
    places: int | None = None
    duration_months: int | None = None
    mentees: int | None = None
    dates: tuple[date, ...] = ()
    on_request: bool = False
    topics: tuple[str, ...] = ()

    @classmethod
    def default(cls, action_type: str) -> "ActionOffer":
        """The settings of an action pledged by an event without `actions` (published before they
        existed): open to all, at the school for testimony, intervention and job fair, on site for
        internship, apprenticeship and mentoring, no ROME code, 5 contacts a week, one intern any
        week and any level, one apprenticeship place for any diploma, one mentee, a job fair on
        request."""
        extra: dict = {}
        if action_type == INTERNSHIP:
            extra = {"capacity_per_period": 1}
        elif action_type == APPRENTICESHIP:
            extra = {"places": 1}
        elif action_type == MENTORING:
            extra = {"mentees": 1}
        elif action_type == JOB_FAIR:
            extra = {"on_request": True}
        return cls(action_type, modality=DEFAULT_MODALITY.get(action_type, IN_CLASS), **extra)

    @classmethod
    def from_settings(cls, action_type: str, settings: Mapping) -> "ActionOffer":
        """From one entry of the events' `actions`. A setting the contract requires but the entry
        lacks takes the default offer's value."""
        base = cls.default(action_type)
        limit = settings.get("max_distance_km")

        def count(name):
            value = settings.get(name)
            return getattr(base, name) if value is None else int(value)

        return cls(
            action_type=action_type,
            audience=settings.get("audience") or base.audience,
            modality=settings.get("modality") or base.modality,
            rome_codes=tuple(settings.get("rome_codes") or ()),
            rome_jobs=_rome_jobs(settings.get("rome_jobs")),
            max_distance_km=None if limit is None else float(limit),
            weekly_contact_cap=int(settings.get("weekly_contact_cap") or DEFAULT_WEEKLY_CONTACT_CAP),
            capacity_per_period=count("capacity_per_period"),
            levels=tuple(settings.get("levels") or ()),
            periods=tuple(settings.get("periods") or ()),
            diplomas=tuple(settings.get("diplomas") or ()),
            places=count("places"),
            duration_months=count("duration_months"),
            mentees=count("mentees"),
            dates=tuple(date.fromisoformat(d) for d in settings.get("dates") or ()),
            on_request=bool(settings.get("on_request", base.on_request)),
            topics=tuple(settings.get("topics") or ()),
        )

    def limit_km(self, volunteer: "Volunteer") -> float:
        """How far this action goes: its own limit, else the pledge's."""
        return volunteer.max_distance_km if self.max_distance_km is None else self.max_distance_km

    @property
    def capacity(self) -> int | None:
        """Placements the action takes: interns per period (internship), places (apprenticeship),
        mentees at the same time (mentoring); None for actions without placements."""
        return {INTERNSHIP: self.capacity_per_period, APPRENTICESHIP: self.places,
                MENTORING: self.mentees}.get(self.action_type)

    def rome_label(self, code: str) -> str | None:
        return _label(self.rome_jobs, code)


_DEFAULT_OFFERS = {action_type: ActionOffer.default(action_type) for action_type in ACTION_TYPES}


def default_offer(action_type: str) -> ActionOffer:
    """ActionOffer.default, shared (an offer is immutable): a region's volunteers hold one each."""
    offer = _DEFAULT_OFFERS.get(action_type)
    return offer if offer is not None else ActionOffer.default(action_type)


@dataclass(frozen=True)
class Volunteer:
    """A volunteer as matching knows it: the latest state the actors service published. Only an
    active one is a candidate; `version` orders the states (a registered event without one is 1)."""
    volunteer_id: str
    organisation_name: str
    contact_email: str
    town: str
    location: Location
    action_types: tuple[str, ...]
    max_distance_km: float
    status: str = ACTIVE
    version: int = 1
    actor_id: str | None = None
    # One offer per element of action_types, always (completed in __post_init__): an action type
    # without settings gets ActionOffer.default, settings of an action type not pledged are dropped.
    # Not part of the hash (a dict), part of equality. Read-only by convention.
    actions: Mapping[str, ActionOffer] = field(default_factory=dict, hash=False)

    def __post_init__(self):
        given = self.actions or {}
        object.__setattr__(self, "actions", {t: given.get(t) or default_offer(t) for t in self.action_types})

    @classmethod
    def from_event(cls, data: dict) -> "Volunteer":
        """From fr.vitawin.volunteer.registered.v1 or fr.vitawin.volunteer.updated.v1."""
        settings = data.get("actions") or {}
        return cls(volunteer_id=data["volunteer_id"], organisation_name=data["organisation_name"],
                   contact_email=data["contact_email"], town=data["town"],
                   location=Location(float(data["location"]["lat"]), float(data["location"]["lon"])),
                   action_types=tuple(data["action_types"]),
                   max_distance_km=float(data["max_distance_km"]),
                   status=data.get("status", ACTIVE), version=int(data.get("version", 1)),
                   actor_id=data.get("actor_id"),
                   actions={t: ActionOffer.from_settings(t, s) for t, s in settings.items()})

    def offer(self, action_type: str) -> ActionOffer | None:
        """The settings of a pledged action type; None when it is not pledged."""
        return self.actions.get(action_type)

    @property
    def is_candidate(self) -> bool:
        return self.status == ACTIVE


def is_newer(version: int, stored_version: int | None) -> bool:
    """Whether a state at `version` replaces the one stored (a stored state without a version is 1)."""
    return version > (1 if stored_version is None else stored_version)


# A request's status as the requests service publishes it. Matching only needs to know whether the
# request still accepts proposals: open and partly_matched do, fulfilled, cancelled and expired
# do not (the read model stores "open" or "closed" for that, next to the requester's status).
REQUEST_STATUSES = ("open", "partly_matched", "fulfilled", "cancelled", "expired")
ACCEPTING_STATUSES = frozenset({"open", "partly_matched"})
OPEN, CLOSED = "open", "closed"


@dataclass(frozen=True)
class Request:
    """A request as matching knows it: the latest state the requests service published.
    `contact_email` is None for a pupil's request from fr.vitawin.request.created.v2 on (a pupil's
    request carries no e-mail). `status` is the requests service's (REQUEST_STATUSES); `version`
    orders the states (an event without one is 1). kind, school_uai, level (single-level kinds),
    levels, audience, professionals_wanted and rome_codes come with v2 and are kept for the ranking by kind; a v1
    request has none of them. So do date (a dated kind's school day), period (an internship's ISO
    weeks, in time order), start (an apprenticeship's month, "YYYY-MM"), diploma, pupils
    (internship places wanted) and rome_jobs (rome_codes with their French labels). `hidden` is
    moderation's flag (fr.vitawin.request.hidden.v1 / unhidden.v1, kept beside the state by the
    read model): the request events themselves never carry it."""
    request_id: str
    requester_kind: str
    contact_email: str | None
    action_type: str
    town: str
    location: Location
    max_distance_km: float
    kind: str | None = None
    school_uai: str | None = None
    level: str | None = None
    levels: tuple[str, ...] = ()
    audience: str | None = None
    professionals_wanted: int | None = None
    rome_codes: tuple[str, ...] = ()
    status: str = "open"
    version: int = 1
    date: Day | None = None  # (Day: datetime.date; the field's name would shadow it)
    period: tuple[str, ...] = ()
    start: str | None = None
    diploma: str | None = None
    pupils: int | None = None
    rome_jobs: tuple[RomeJob, ...] = ()
    hidden: bool = False

    @classmethod
    def from_event(cls, data: dict) -> "Request":
        """From fr.vitawin.request.created.v1, fr.vitawin.request.created.v2 or
        fr.vitawin.request.updated.v1 (the whole new state)."""
        wanted, pupils, day = data.get("professionals_wanted"), data.get("pupils"), data.get("date")
        return cls(request_id=data["request_id"], requester_kind=data["requester_kind"],
                   contact_email=data.get("contact_email"), action_type=data["action_type"],
                   town=data["town"],
                   location=Location(float(data["location"]["lat"]), float(data["location"]["lon"])),
                   max_distance_km=float(data["max_distance_km"]),
                   kind=data.get("kind"), school_uai=data.get("school_uai"), level=data.get("level"),
                   levels=tuple(data.get("levels") or ()),
                   audience=data.get("audience"),
                   professionals_wanted=None if wanted is None else int(wanted),
                   rome_codes=tuple(data.get("rome_codes") or ()),
                   status=data.get("status", "open"), version=int(data.get("version", 1)),
                   date=None if day is None else _date(day), period=tuple(data.get("period") or ()),
                   start=data.get("start"), diploma=data.get("diploma"),
                   pupils=None if pupils is None else int(pupils),
                   rome_jobs=_rome_jobs(data.get("rome_jobs")), hidden=bool(data.get("hidden", False)))

    @property
    def is_open(self) -> bool:
        """Whether the request still accepts proposals."""
        return self.status in ACCEPTING_STATUSES

    def slots(self, extra: int = DEFAULT_EXTRA_PROPOSALS) -> int:
        """Outstanding proposals (pending + accepted) the request may have at once:
        professionals_wanted (1 for a v1 request) + `extra` (MATCHING_EXTRA_PROPOSALS)."""
        return (self.professionals_wanted or 1) + extra

    def rome_label(self, code: str) -> str | None:
        return _label(self.rome_jobs, code)


def _date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


@dataclass(frozen=True)
class Match:
    request: Request
    volunteer: Volunteer
    distance_km: float  # exact; rounded only when shown


@dataclass(frozen=True)
class Proposal:
    proposal_id: str
    request_id: str
    volunteer_id: str
    action_type: str
    distance_km: float
    rank: int
    created_at: datetime
    score: float | None = None  # ranking, absent on proposals made before it existed
    reasons: tuple[str, ...] = ()  # French
    status: str = "pending"  # vitawin_matching.workflow
    deadline: datetime | None = None


@dataclass(frozen=True)
class BoundingBox:
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float

    def contains(self, location: Location) -> bool:
        return self.lat_min <= location.lat <= self.lat_max and self.lon_min <= location.lon <= self.lon_max


def bounding_box(center: Location, radius_km: float) -> BoundingBox:
    """A lat/lon box that contains every point within `radius_km` of `center` (a superset: the
    exact test is `match`). Near a pole or the antimeridian it widens to every longitude."""
    angle = radius_km * 1.001 / EARTH_RADIUS_KM  # a little slack so float error never excludes an edge point
    dlat = math.degrees(angle)
    lat_min, lat_max = center.lat - dlat, center.lat + dlat
    if lat_min <= -90 or lat_max >= 90 or angle >= math.pi / 2:
        return BoundingBox(max(lat_min, -90.0), min(lat_max, 90.0), -180.0, 180.0)
    ratio = math.sin(angle) / math.cos(math.radians(center.lat))
    if ratio >= 1:
        return BoundingBox(lat_min, lat_max, -180.0, 180.0)
    dlon = math.degrees(math.asin(ratio))
    lon_min, lon_max = center.lon - dlon, center.lon + dlon
    if lon_min < -180 or lon_max > 180:
        return BoundingBox(lat_min, lat_max, -180.0, 180.0)
    return BoundingBox(lat_min, lat_max, lon_min, lon_max)


def match(request: Request, volunteer: Volunteer) -> Match | None:
    """The pair, if the request is open, the volunteer active and pledged this action, and each side
    accepts the distance."""
    if (not request.is_open or not volunteer.is_candidate
            or request.action_type not in volunteer.action_types):
        return None
    distance = distance_km(request.location, volunteer.location)
    if distance > min(request.max_distance_km, volunteer.max_distance_km):
        return None
    return Match(request, volunteer, distance)


def nearest_volunteers(request: Request, volunteers) -> list[Match]:
    """Eligible volunteers for `request`, nearest first (ties broken by id, so the order is stable)."""
    found = (match(request, v) for v in volunteers)
    return sorted((m for m in found if m), key=lambda m: (m.distance_km, m.volunteer.volunteer_id))


def nearest_requests(volunteer: Volunteer, requests) -> list[Match]:
    """Requests `volunteer` can serve, nearest first."""
    found = (match(r, volunteer) for r in requests)
    return sorted((m for m in found if m), key=lambda m: (m.distance_km, m.request.request_id))


def proposal_id(request_id: str, volunteer_id: str) -> str:
    """Derived from the pair: whoever proposes it, and however often, it is the same proposal."""
    return "prop-" + hashlib.sha256(f"{request_id}:{volunteer_id}".encode()).hexdigest()[:20]


def proposal_event_id(proposal_id_: str) -> str:
    """CloudEvent id of a proposal's creation: also derived, so a republished event is a repeat."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "vitawin:proposal:" + proposal_id_))
