"""The territory a deployment serves, read the same way by every service: its towns (INSEE code,
name, postcodes, centre) from the territory file, great-circle distances, and the checks that a
town code belongs to the territory and that a point lies near a town's centre. Reference data
only: which radius applies to what is each service's own rule. Plain Python, no I/O except `load`."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from vitawin_common import config

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


class InvalidPlace(ValueError):
    """A town or a point that breaks a territory rule: `field` names the input field, the message
    is in French (it is shown to the person who typed the value)."""

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
    postcodes: tuple[str, ...]
    centre: Location


@dataclass(frozen=True)
class Territory:
    name: str
    towns: dict[str, Town]  # by INSEE code

    @classmethod
    def from_dict(cls, data: dict) -> "Territory":
        towns = {t["insee"]: Town(t["insee"], t["name"], tuple(t.get("postcodes", ())), Location(**t["centre"]))
                 for t in data["towns"]}
        return cls(data["name"], towns)

    def town(self, insee: str, field: str = "town") -> Town:
        """The town with this INSEE code; InvalidPlace naming `field` when it is not in the territory."""
        town = self.towns.get(insee)
        if town is None:
            raise InvalidPlace(field, f"Commune inconnue : ce n'est pas le code INSEE d'une commune "
                                      f"du territoire {self.name}.")
        return town


def load(path: str | Path | None = None) -> Territory:
    """The territory file of this deployment (TERRITORY_FILE, see `config.territory_file`)."""
    path = Path(path) if path is not None else config.territory_file()
    return Territory.from_dict(json.loads(path.read_text(encoding="utf-8")))


def distance_km(a: Location, b: Location) -> float:
    """Great-circle distance (haversine formula) between two points with `lat` and `lon`."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat2 - lat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def check_near_centre(town: Town, location: Location, radius_km: float, field: str = "location") -> float:
    """The distance from `town`'s centre to `location`; InvalidPlace naming `field` when it is more
    than `radius_km`."""
    distance = distance_km(town.centre, location)
    if distance > radius_km:
        raise InvalidPlace(field, f"La position doit se trouver à {_km(radius_km)} au plus du centre "
                                  f"de {town.name}, la commune indiquée ; elle en est à {_km(distance)}.")
    return distance


def _km(value: float) -> str:
    """French notation, to 0.1 km: "5 km", "20,3 km"."""
    return f"{value:.1f}".removesuffix(".0").replace(".", ",") + " km"


class InvalidBoundingBox(ValueError):
    """A bounding box that cannot be read (French message, for a 422 on `bbox`)."""


@dataclass(frozen=True)
class BoundingBox:
    """A WGS 84 box, as the map asks for what it shows: `bbox=min_lon,min_lat,max_lon,max_lat`
    (the order of GeoJSON, RFC 7946). Documents hold their place as {lat, lon} under `field`."""
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    MESSAGE = ("Emprise invalide : format attendu bbox=min_lon,min_lat,max_lon,max_lat en degrés "
               "décimaux (WGS 84), par exemple 2.40,48.79,2.56,48.86.")

    @classmethod
    def parse(cls, text: str) -> "BoundingBox":
        """From "min_lon,min_lat,max_lon,max_lat"; InvalidBoundingBox (French) when malformed, out
        of range or upside down (boxes across the antimeridian are not supported)."""
        try:
            values = [float(part) for part in text.split(",")]
        except ValueError as exc:
            raise InvalidBoundingBox(cls.MESSAGE) from exc
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            raise InvalidBoundingBox(cls.MESSAGE)
        box = cls(*values)
        if not (-180 <= box.min_lon <= 180 and -180 <= box.max_lon <= 180
                and -90 <= box.min_lat <= 90 and -90 <= box.max_lat <= 90):
            raise InvalidBoundingBox("Emprise invalide : longitudes entre -180 et 180, latitudes entre -90 et 90.")
        if box.min_lon > box.max_lon or box.min_lat > box.max_lat:
            raise InvalidBoundingBox("Emprise invalide : le minimum doit précéder le maximum "
                                     "(min_lon,min_lat,max_lon,max_lat).")
        return box

    def contains(self, location) -> bool:
        """Whether a {lat, lon} mapping lies in the box, bounds included."""
        return (self.min_lon <= location["lon"] <= self.max_lon
                and self.min_lat <= location["lat"] <= self.max_lat)

    def to_query(self, field: str = "location") -> dict:
        """The MongoDB filter of the documents whose `field` ({lat, lon}) lies in the box, bounds
        included, as `contains` says; a document without that field is outside."""
        return {f"{field}.lon": {"$gte": self.min_lon, "$lte": self.max_lon},
                f"{field}.lat": {"$gte": self.min_lat, "$lte": self.max_lat}}
