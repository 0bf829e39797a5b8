"""Matching rules in plain Python (no I/O): distances, eligibility, ranking, proposal ids.

The geo search is split in two on purpose: `bounding_box` gives a cheap pre-filter the database
can answer on plain indexed fields, and `match` decides with the exact haversine distance. A later
in-memory index (a KD-tree, say) only has to replace the pre-filter. Points and the haversine
distance are the territory's (vitawin_common.territory)."""
from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import datetime

from vitawin_common.territory import EARTH_RADIUS_KM, Location, distance_km

DEFAULT_TOP_K = 3
ACTIVE, PAUSED, WITHDRAWN = "active", "paused", "withdrawn"


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

    @classmethod
    def from_event(cls, data: dict) -> "Volunteer":
        """From fr.vitawin.volunteer.registered.v1 or fr.vitawin.volunteer.updated.v1."""
        return cls(volunteer_id=data["volunteer_id"], organisation_name=data["organisation_name"],
                   contact_email=data["contact_email"], town=data["town"],
                   location=Location(float(data["location"]["lat"]), float(data["location"]["lon"])),
                   action_types=tuple(data["action_types"]),
                   max_distance_km=float(data["max_distance_km"]),
                   status=data.get("status", ACTIVE), version=int(data.get("version", 1)))

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
    request has none of them."""
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

    @classmethod
    def from_event(cls, data: dict) -> "Request":
        """From fr.vitawin.request.created.v1, fr.vitawin.request.created.v2 or
        fr.vitawin.request.updated.v1 (the whole new state)."""
        wanted = data.get("professionals_wanted")
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
                   status=data.get("status", "open"), version=int(data.get("version", 1)))

    @property
    def is_open(self) -> bool:
        """Whether the request still accepts proposals."""
        return self.status in ACCEPTING_STATUSES


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
