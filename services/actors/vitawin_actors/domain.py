"""The actors domain: a professional's pledge (a volunteer) and the rules its town and location
must meet within the territory. Plain Python, no I/O."""
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
class RegisterVolunteer:
    """Command: a professional pledges to act (input already validated)."""
    organisation_name: str
    contact_email: str
    town: str
    location: Location
    action_types: list[str]
    max_distance_km: float = DEFAULT_MAX_DISTANCE_KM


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
        now = now or datetime.now(timezone.utc)
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
        """The data of fr.vitawin.volunteer.registered.v1."""
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
