"""The requests domain: a school's or a pupil's request for an action, and the rules its town and
location must meet within the territory. Plain Python, no I/O."""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

ACTION_TYPES = {
    "testimony": "témoignage métier",
    "intervention": "intervention en classe",
    "internship": "stage",
    "apprenticeship": "alternance",
    "mentoring": "mentorat",
    "job_fair": "forum des métiers",
}
REQUESTER_KINDS = {"school": "établissement scolaire", "pupil": "élève"}
OPEN = "open"
STATUSES = {OPEN: "ouverte"}
TOWN_RADIUS_KM = 5.0  # a location must lie this close to its town's centre
DEFAULT_MAX_DISTANCE_KM = 10.0
MAX_DISTANCE_KM = 200.0
EARTH_RADIUS_KM = 6371.0


class InvalidField(ValueError):
    """Input breaking a domain rule: `field` names the input field, the message is in French."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float


@dataclass(frozen=True)
class Town:
    insee: str
    name: str
    centre: Location


@dataclass(frozen=True)
class Territory:
    name: str
    towns: dict[str, Town]

    @classmethod
    def from_dict(cls, data: dict) -> "Territory":
        towns = {t["insee"]: Town(t["insee"], t["name"], Location(**t["centre"])) for t in data["towns"]}
        return cls(data["name"], towns)


def distance_km(a: Location, b: Location) -> float:
    """Great-circle distance (haversine formula)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def check_town(territory: Territory, code: str) -> Town:
    town = territory.towns.get(code)
    if town is None:
        raise InvalidField("town", f"Commune inconnue : ce n'est pas le code INSEE d'une commune "
                                   f"du territoire {territory.name}.")
    return town


def check_location(town: Town, location: Location) -> None:
    distance = distance_km(town.centre, location)
    if distance > TOWN_RADIUS_KM:
        raise InvalidField("location", f"La position doit se trouver à {_km(TOWN_RADIUS_KM)} au plus "
                                       f"du centre de {town.name}, la commune indiquée ; elle en est "
                                       f"à {_km(distance)}.")


def _km(value: float) -> str:
    """French notation: 5 km, 20,3 km."""
    return f"{value:.1f}".removesuffix(".0").replace(".", ",") + " km"


@dataclass(frozen=True)
class CreateRequest:
    """Command: a school or a pupil asks for an action (input already validated). For a pupil the
    location is the school's or the town's, never a home."""
    requester_kind: str
    contact_email: str
    action_type: str
    town: str
    location: Location
    max_distance_km: float = DEFAULT_MAX_DISTANCE_KM


@dataclass(frozen=True)
class Request:
    request_id: str
    requester_kind: str
    contact_email: str
    action_type: str
    town: str
    location: Location
    max_distance_km: float
    status: str
    created_at: datetime

    @classmethod
    def create(cls, command: CreateRequest, now: datetime | None = None) -> "Request":
        now = now or datetime.now(timezone.utc)
        return cls(
            request_id=f"req-{uuid.uuid4().hex}",
            requester_kind=command.requester_kind,
            contact_email=command.contact_email,
            action_type=command.action_type,
            town=command.town,
            location=command.location,
            max_distance_km=float(command.max_distance_km),
            status=OPEN,
            created_at=now.replace(microsecond=now.microsecond // 1000 * 1000),  # MongoDB keeps ms
        )

    def event_data(self) -> dict:
        """The data of fr.vitawin.request.created.v1."""
        return {
            "request_id": self.request_id,
            "requester_kind": self.requester_kind,
            "contact_email": self.contact_email,
            "action_type": self.action_type,
            "town": self.town,
            "location": {"lat": self.location.lat, "lon": self.location.lon},
            "max_distance_km": self.max_distance_km,
        }

    def to_document(self) -> dict:
        return {**self.event_data(), "status": self.status, "created_at": self.created_at}
