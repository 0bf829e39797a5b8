"""Lambert-93 (EPSG:2154, the projection of the SIRENE stock's `coordonneeLambert...` columns)
to and from longitude and latitude (RGF93, which matches WGS 84 to well under a metre).

Lambert conformal conic with two standard parallels (44° and 49° N) on the GRS 80 ellipsoid,
origin 3° E 46.5° N at (700 000 m, 6 600 000 m): the formulas of Snyder, "Map Projections: A
Working Manual" (USGS 1987), pp. 107-109. Plain Python, no I/O."""
from __future__ import annotations

import math

A = 6378137.0                      # GRS 80 semi-major axis (m)
F = 1 / 298.257222101              # GRS 80 flattening
E = math.sqrt(F * (2 - F))         # first eccentricity
LON0 = math.radians(3.0)
LAT0 = math.radians(46.5)
LAT1, LAT2 = math.radians(44.0), math.radians(49.0)
X0, Y0 = 700_000.0, 6_600_000.0


def _m(lat: float) -> float:
    return math.cos(lat) / math.sqrt(1 - (E * math.sin(lat)) ** 2)


def _t(lat: float) -> float:
    es = E * math.sin(lat)
    return math.tan(math.pi / 4 - lat / 2) / ((1 - es) / (1 + es)) ** (E / 2)


N = (math.log(_m(LAT1)) - math.log(_m(LAT2))) / (math.log(_t(LAT1)) - math.log(_t(LAT2)))
AF = A * _m(LAT1) / (N * _t(LAT1) ** N)
RHO0 = AF * _t(LAT0) ** N


def to_lambert93(lat: float, lon: float) -> tuple[float, float]:
    """(x, y) in metres of a point given in degrees."""
    rho = AF * _t(math.radians(lat)) ** N
    theta = N * (math.radians(lon) - LON0)
    return X0 + rho * math.sin(theta), Y0 + RHO0 - rho * math.cos(theta)


def from_lambert93(x: float, y: float) -> tuple[float, float]:
    """(lat, lon) in degrees of a point given in Lambert-93 metres."""
    dx, dy = x - X0, RHO0 - (y - Y0)
    rho = math.copysign(math.hypot(dx, dy), N)
    t = (rho / AF) ** (1 / N)
    lon = math.atan2(dx, dy) / N + LON0
    lat = math.pi / 2 - 2 * math.atan(t)
    for _ in range(15):
        es = E * math.sin(lat)
        following = math.pi / 2 - 2 * math.atan(t * ((1 - es) / (1 + es)) ** (E / 2))
        if abs(following - lat) < 1e-12:
            lat = following
            break
        lat = following
    return math.degrees(lat), math.degrees(lon)
