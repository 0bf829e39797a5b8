"""The actors domain: a professional's pledge (a volunteer) and the rules its town and location
must meet within the territory. Plain Python, no I/O."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from vitawin_common.territory import Location, Town, check_near_centre

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


def check_location(town: Town, location: Location) -> None:
    """A location must lie within TOWN_RADIUS_KM of the centre of its town (territory.InvalidPlace
    naming `location` otherwise)."""
    check_near_centre(town, location, TOWN_RADIUS_KM, field="location")


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
