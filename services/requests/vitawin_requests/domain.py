"""The requests domain: a school's or a pupil's request for an action, and the rules its town and
location must meet within the territory. Plain Python, no I/O."""
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
REQUESTER_KINDS = {"school": "établissement scolaire", "pupil": "élève"}
OPEN = "open"
STATUSES = {OPEN: "ouverte"}
TOWN_RADIUS_KM = 5.0  # a location must lie this close to its town's centre
DEFAULT_MAX_DISTANCE_KM = 10.0
MAX_DISTANCE_KM = 200.0


def check_location(town: Town, location: Location) -> None:
    """A location must lie within TOWN_RADIUS_KM of the centre of its town (territory.InvalidPlace
    naming `location` otherwise)."""
    check_near_centre(town, location, TOWN_RADIUS_KM, field="location")


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
