"""What every part of the actors domain shares: distances, the location rule within a town, the
bounding box of the map and of the lists, the error of a value that breaks its own rule, and the
clock (UTC, to the millisecond MongoDB keeps)."""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from datetime import datetime, timezone

from vitawin_common.territory import Location, Town, check_near_centre

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


@dataclass(frozen=True)
class BoundingBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    MESSAGE = ("Emprise invalide : format attendu bbox=min_lon,min_lat,max_lon,max_lat en degrés "
               "décimaux (WGS 84), par exemple 2.40,48.79,2.56,48.86.")

    @classmethod
    def parse(cls, text: str) -> "BoundingBox":
        """From "min_lon,min_lat,max_lon,max_lat"; InvalidValue (French) when malformed, out of
        range or upside down (boxes across the antimeridian are not supported)."""
        try:
            values = [float(part) for part in text.split(",")]
        except ValueError as exc:
            raise InvalidValue(cls.MESSAGE) from exc
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            raise InvalidValue(cls.MESSAGE)
        box = cls(*values)
        if not (-180 <= box.min_lon <= 180 and -180 <= box.max_lon <= 180
                and -90 <= box.min_lat <= 90 and -90 <= box.max_lat <= 90):
            raise InvalidValue("Emprise invalide : longitudes entre -180 et 180, latitudes entre -90 et 90.")
        if box.min_lon > box.max_lon or box.min_lat > box.max_lat:
            raise InvalidValue("Emprise invalide : le minimum doit précéder le maximum "
                               "(min_lon,min_lat,max_lon,max_lat).")
        return box

    def contains(self, location: dict) -> bool:
        return (self.min_lon <= location["lon"] <= self.max_lon
                and self.min_lat <= location["lat"] <= self.max_lat)

    def to_query(self, field: str = "location") -> dict:
        """The MongoDB filter of the documents whose `field` ({lat, lon}) lies in the box, bounds
        included, as `contains` says; a document without that field is outside."""
        return {f"{field}.lon": {"$gte": self.min_lon, "$lte": self.max_lon},
                f"{field}.lat": {"$gte": self.min_lat, "$lte": self.max_lat}}
