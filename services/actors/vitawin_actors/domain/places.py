"""What every part of the actors domain shares: distances, the location rule within a town, the
bounding box of the map and of the lists, the error of a value that breaks its own rule, and the
clock (UTC, to the millisecond MongoDB keeps)."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timezone

from vitawin_common.territory import BoundingBox, Location, Town, check_near_centre  # noqa: F401 (re-exported)

TOWN_RADIUS_KM = 5.0  # a location must lie this close to its town's centre
DEFAULT_MAX_DISTANCE_KM = 10.0
MAX_DISTANCE_KM = 200.0


class InvalidValue(ValueError):
    """A value that breaks a rule of its own (SIRET, NAF, UAI, ISO week...); the message is in
    French, for the person who typed it, and never repeats the value when it may be personal."""


def check_location(town: Town, location: Location) -> None:
    """A location must lie within TOWN_RADIUS_KM of the centre of its town (territory.InvalidPlace
    naming `location` otherwise)."""
    check_near_centre(town, location, TOWN_RADIUS_KM, field="location")


def _now() -> datetime:
    """Now, in UTC. Read through the package's `datetime` name (`vitawin_actors.domain.datetime`),
    so that replacing that one name sets the clock of the whole domain, as it did when the domain
    was a single module."""
    return sys.modules[__package__].datetime.now(timezone.utc)


def _ms(moment: datetime) -> datetime:
    """UTC, to the millisecond (what MongoDB keeps)."""
    if moment.tzinfo is None:  # BSON dates come back naive, in UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _iso(moment: datetime) -> str:
    return _ms(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


