"""The map's in-memory index of organisations and schools, and its grid clustering (plain Python and
numpy; no I/O). vitawin_actors/map_follower.py builds it from MongoDB and keeps it fresh.

What it holds: one `MapPoint` per organisation or school with a position, the map's fields only
(actor_id, kind, name, town, lon, lat): never a pupil or a territory manager (`upsert` ignores
them), never a contact. The ids of erased actors are kept too (`erase`): an erased actor never
comes back, so replaying an older batch of changes is harmless. `upsert` of a point equal to the
one held changes nothing, so applying the same changes twice is harmless as well.

How it answers a box without scanning in Python: the points are numpy columns (kind and town as
small integer codes). A query is a vectorised mask over them (60,000 points: a fraction of a
millisecond), so no tree is needed at this scale; a new point goes to a small delta (a dict, turned
into columns when a query needs them) and a removed one is only masked, until the pending changes
exceed max(`compact_min`, `compact_share` x base size) (default max(1,000, 5 %)): the live points are
then compacted into a new base (numpy concatenation, a few ms at 60,000).

Threads: one lock guards the columns; a query holds it only to compute its mask and copy the
selected rows; clustering and building the features run outside it. `replace_all` builds its
columns before taking the lock. Writers are meant to be serialised by their caller (the follower).

Clustering (`feature_collection`): when the actors matching a box are more than
`MapSettings.max_points`, or the zoom given is below `MapSettings.cluster_below_zoom`, the answer is a
grid of cells `MapSettings.cell_px` screen pixels wide at that zoom (Web Mercator, 256-pixel
tiles, the grid anchored at the world's origin so that a cell stays the same cell when the map
pans; without a zoom, the zoom at which the box, or else the points, fit in 1024 x 768 pixels). A cell holding several actors becomes one cluster feature (a Point at its members'
centroid; properties cluster, count, kinds, bbox of the members); a cell holding one actor stays
that actor's point. If the cells are still more than `max_points` (a large box at a high zoom),
the zoom is lowered until they are not: an answer never has more than `max_points` features.
The clusters' counts plus the points make the number of matching actors (`total`).

Order (deterministic): points alone are sorted by actor_id; a clustered answer is in cell order
(rows north to south, each west to east)."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from vitawin_actors.domain.directory import MAPPED_KINDS
from vitawin_actors.domain.erasure import is_erased
from vitawin_actors.domain.places import BoundingBox

__all__ = ["MapIndex", "MapPoint", "MapSettings", "fit_zoom", "COMPACT_MIN", "COMPACT_SHARE", "MAX_ZOOM"]

TILE_PX = 256
MAX_ZOOM = 20
MAX_LAT = 85.05112878  # Web Mercator's limit
COMPACT_MIN = 1_000
COMPACT_SHARE = 0.05
FIT_VIEWPORT_PX = (1024, 768)  # the viewport assumed when a query gives no zoom
_FIXED = 1e7  # centroids are summed in 1e-7 degree units (exact in int64)
_KIND_CODES = {kind: code for code, kind in enumerate(MAPPED_KINDS)}


@dataclass(frozen=True, slots=True)
class MapPoint:
    """An organisation or a school on the map (WGS 84)."""
    actor_id: str
    kind: str
    name: str
    town: str
    lon: float
    lat: float

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> "MapPoint | None":
        """The point of a stored actor; None for one that has no place on the map: a pupil, a
        territory manager, an erased actor (its tombstone), or one without a valid position."""
        if doc.get("kind") not in _KIND_CODES or is_erased(doc):
            return None
        location = doc.get("location")
        if not isinstance(location, Mapping):
            return None
        try:
            lon, lat = float(location["lon"]), float(location["lat"])
        except (KeyError, TypeError, ValueError):
            return None
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            return None
        return cls(str(doc["actor_id"]), doc["kind"], str(doc.get("name", "")), str(doc.get("town", "")), lon, lat)

    def to_feature(self) -> dict:
        """The GeoJSON Feature the map has always served for an actor (RFC 7946: [lon, lat])."""
        return {"type": "Feature", "id": self.actor_id,
                "geometry": {"type": "Point", "coordinates": [self.lon, self.lat]},
                "properties": {"actor_id": self.actor_id, "kind": self.kind, "name": self.name,
                               "town": self.town}}


@dataclass(frozen=True)
class MapSettings:
    """When the map clusters: more than `max_points` actors in the box, or a zoom below
    `cluster_below_zoom`; cells of `cell_px` screen pixels."""
    max_points: int = 1_500
    cluster_below_zoom: int = 12
    cell_px: int = 80

    def __post_init__(self):
        if self.max_points < 1:
            raise ValueError("max_points must be at least 1")
        if not 0 <= self.cluster_below_zoom <= MAX_ZOOM + 1:
            raise ValueError(f"cluster_below_zoom must be between 0 and {MAX_ZOOM + 1}")
        if self.cell_px < 1:
            raise ValueError("cell_px must be at least 1")


# --- Web Mercator -------------------------------------------------------------------------------------
def _world_px(zoom: int) -> float:
    return float(TILE_PX * 2 ** zoom)


def _mercator_y(lat: np.ndarray | float) -> np.ndarray | float:
    """The y of a latitude on a world 1 unit high (0 at the top)."""
    s = np.sin(np.radians(np.clip(lat, -MAX_LAT, MAX_LAT)))
    return 0.5 - np.log((1 + s) / (1 - s)) / (4 * math.pi)


def fit_zoom(box: BoundingBox, width_px: int = FIT_VIEWPORT_PX[0], height_px: int = FIT_VIEWPORT_PX[1]) -> int:
    """The largest zoom (0 to MAX_ZOOM) at which `box` fits in a viewport of that many pixels."""
    width = (box.max_lon - box.min_lon) / 360.0
    height = abs(float(_mercator_y(box.min_lat)) - float(_mercator_y(box.max_lat)))
    for zoom in range(MAX_ZOOM, 0, -1):
        world = _world_px(zoom)
        if width * world <= width_px and height * world <= height_px:
            return zoom
    return 0


# --- the index's columns --------------------------------------------------------------------------------
class _Columns:
    """Points as numpy columns: ids and names (object), kind and town codes, lon and lat."""
    __slots__ = ("ids", "names", "kinds", "towns", "lon", "lat")

    def __init__(self, ids, names, kinds, towns, lon, lat):
        self.ids, self.names, self.kinds, self.towns, self.lon, self.lat = ids, names, kinds, towns, lon, lat

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def of(cls, points: list[MapPoint], town_code) -> "_Columns":
        return cls(_objects([p.actor_id for p in points]), _objects([p.name for p in points]),
                   np.fromiter((_KIND_CODES[p.kind] for p in points), dtype=np.int8, count=len(points)),
                   np.fromiter((town_code(p.town) for p in points), dtype=np.int32, count=len(points)),
                   np.fromiter((p.lon for p in points), dtype=np.float64, count=len(points)),
                   np.fromiter((p.lat for p in points), dtype=np.float64, count=len(points)))

    def take(self, rows: np.ndarray) -> "_Columns":
        return _Columns(*(getattr(self, name)[rows] for name in self.__slots__))

    @classmethod
    def concat(cls, parts: list["_Columns"]) -> "_Columns":
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in cls.__slots__))


def _objects(values: list) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


class MapIndex:
    """The organisations and schools on the map; see the module docstring."""

    def __init__(self, compact_min: int = COMPACT_MIN, compact_share: float = COMPACT_SHARE):
        self.compact_min = compact_min
        self.compact_share = compact_share
        self.compactions = 0
        self._lock = threading.Lock()
        self._towns_lock = threading.Lock()  # taken alone, or inside _lock (never the other way)
        self._towns: list[str] = []
        self._town_codes: dict[str, int] = {}
        self._erased: set[str] = set()
        self._base = _Columns.of([], self._town_code)
        self._alive = np.ones(0, dtype=bool)
        self._rows: dict[str, int] = {}          # actor_id -> base row, live rows only
        self._dead = 0                           # masked base rows
        self._delta: dict[str, MapPoint] = {}    # points added or replaced since the base was built
        self._delta_columns: _Columns | None = None

    # --- reading -----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._rows) + len(self._delta)

    def __contains__(self, actor_id: str) -> bool:
        return actor_id in self._rows or actor_id in self._delta

    def get(self, actor_id: str) -> MapPoint | None:
        with self._lock:
            return self._get(actor_id)

    def is_erased(self, actor_id: str) -> bool:
        return actor_id in self._erased

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"points": len(self._rows) + len(self._delta), "base": len(self._base), "dead": self._dead,
                    "delta": len(self._delta), "erased": len(self._erased), "compactions": self.compactions}

    def select(self, box: BoundingBox | None = None, kinds: Iterable[str] | None = None,
               town: str | None = None) -> list[MapPoint]:
        """The points in `box` (bounds included) of `kinds` (all mapped kinds if empty or None) in
        `town` (INSEE code; any if None), sorted by actor_id."""
        columns = self._select(box, kinds, town)
        order = np.argsort(columns.ids, kind="stable")
        return [self._point(columns, row) for row in order.tolist()]

    def count(self, box: BoundingBox | None = None, kinds: Iterable[str] | None = None,
              town: str | None = None) -> int:
        return len(self._select(box, kinds, town))

    def feature_collection(self, box: BoundingBox | None = None, *, zoom: int | None = None,
                           kinds: Iterable[str] | None = None, town: str | None = None,
                           settings: MapSettings = MapSettings()) -> dict:
        """The map's GeoJSON FeatureCollection for a query: the actors' points, or clusters (see
        the module docstring), with two foreign members (RFC 7946, 6.1): `total`, the number of
        matching actors, and `clustered`, whether any feature is a cluster."""
        columns = self._select(box, kinds, town)
        total = len(columns)
        below = zoom is not None and zoom < settings.cluster_below_zoom
        if zoom is None:  # only the cap applies; the cells are those of the zoom that fits the box
            extent = box if box is not None else _extent(columns)
            zoom = fit_zoom(extent) if extent is not None else MAX_ZOOM
        if total and (total > settings.max_points or below):
            features = self._clustered(columns, zoom, settings)
        else:
            order = np.argsort(columns.ids, kind="stable")
            features = [self._point(columns, row).to_feature() for row in order.tolist()]
        clustered = any(feature["properties"].get("cluster") is True for feature in features)
        return {"type": "FeatureCollection", "features": features, "total": total, "clustered": clustered}

    # --- writing -----------------------------------------------------------------------------------------
    def upsert(self, point: MapPoint) -> bool:
        """Adds or replaces the point of `point.actor_id`; returns whether anything changed
        (nothing does for a kind that is not on the map, an erased actor, or the same point)."""
        if point.kind not in _KIND_CODES:
            return False
        with self._lock:
            if point.actor_id in self._erased or self._get(point.actor_id) == point:
                return False
            self._discard(point.actor_id)
            self._delta[point.actor_id] = point
            self._delta_columns = None
            self._compact_if_due()
            return True

    def erase(self, actor_id: str) -> bool:
        """Removes the actor for good (it never comes back); returns whether it was on the map."""
        with self._lock:
            self._erased.add(actor_id)
            removed = self._discard(actor_id)
            self._compact_if_due()
            return removed

    def replace_all(self, points: Iterable[MapPoint], erased: Iterable[str] = ()) -> int:
        """Replaces every point with `points` (the last one of an id wins; erased actors and kinds
        not on the map are left out), and adds `erased` to the erased ids. Returns the number of
        points held. The columns are built before the lock is taken, so queries go on meanwhile;
        the caller serialises its writers (a change applied during the build may be lost, which is
        why vitawin_actors.map_follower replays the changes since the scan began)."""
        erased = set(erased)
        latest: dict[str, MapPoint] = {}
        for point in points:
            if point.kind in _KIND_CODES and point.actor_id not in erased:
                latest[point.actor_id] = point
        kept = [point for actor_id, point in latest.items() if actor_id not in self._erased]
        base = _Columns.of(kept, self._town_code)
        rows = {point.actor_id: row for row, point in enumerate(kept)}
        with self._lock:
            self._erased |= erased
            alive = np.ones(len(kept), dtype=bool)
            for actor_id in self._erased & rows.keys():  # erased while the columns were built
                alive[rows.pop(actor_id)] = False
            self._base, self._alive, self._rows = base, alive, rows
            self._dead = int(len(kept) - alive.sum())
            self._delta = {}
            self._delta_columns = None
            return len(self._rows)

    # --- internals (caller holds the lock) ---------------------------------------------------------------
    def _town_code(self, town: str) -> int:
        """The code of a town (codes are only ever added: a reader may use them without a lock)."""
        code = self._town_codes.get(town)
        if code is None:
            with self._towns_lock:
                code = self._town_codes.get(town)
                if code is None:
                    self._towns.append(town)
                    code = self._town_codes[town] = len(self._towns) - 1
        return code

    def _point(self, columns: _Columns, row: int) -> MapPoint:
        return MapPoint(columns.ids[row], MAPPED_KINDS[int(columns.kinds[row])], columns.names[row],
                        self._towns[int(columns.towns[row])], float(columns.lon[row]), float(columns.lat[row]))

    def _get(self, actor_id: str) -> MapPoint | None:
        point = self._delta.get(actor_id)
        if point is not None:
            return point
        row = self._rows.get(actor_id)
        return None if row is None else self._point(self._base, row)

    def _discard(self, actor_id: str) -> bool:
        removed = False
        row = self._rows.pop(actor_id, None)
        if row is not None:
            self._alive[row] = False
            self._dead += 1
            removed = True
        if self._delta.pop(actor_id, None) is not None:
            self._delta_columns = None
            removed = True
        return removed

    def _compact_if_due(self) -> None:
        if len(self._delta) + self._dead <= max(self.compact_min, self.compact_share * len(self._base)):
            return
        live = self._base.take(np.flatnonzero(self._alive))
        parts = [live, self._delta_part()] if self._delta else [live]
        base = _Columns.concat(parts) if len(parts) > 1 else live
        self._base = base
        self._alive = np.ones(len(base), dtype=bool)
        self._rows = dict(zip(base.ids.tolist(), range(len(base))))
        self._dead = 0
        self._delta = {}
        self._delta_columns = None
        self.compactions += 1

    def _delta_part(self) -> _Columns:
        if self._delta_columns is None:
            self._delta_columns = _Columns.of(list(self._delta.values()), self._town_code)
        return self._delta_columns

    def _select(self, box: BoundingBox | None, kinds: Iterable[str] | None, town: str | None) -> _Columns:
        wanted = np.zeros(len(MAPPED_KINDS), dtype=bool)
        if kinds:
            for kind in kinds:
                if kind in _KIND_CODES:
                    wanted[_KIND_CODES[kind]] = True
        else:
            wanted[:] = True
        with self._lock:
            town_code = None if town is None else self._town_codes.get(town, -1)
            parts = []
            for columns, alive in ((self._base, self._alive), (self._delta_part() if self._delta else None, None)):
                if columns is None or not len(columns):
                    continue
                mask = wanted[columns.kinds]
                if alive is not None:
                    mask &= alive
                if town_code is not None:
                    mask &= columns.towns == town_code
                if box is not None:
                    mask &= ((columns.lon >= box.min_lon) & (columns.lon <= box.max_lon)
                             & (columns.lat >= box.min_lat) & (columns.lat <= box.max_lat))
                parts.append(columns.take(np.flatnonzero(mask)))
        if not parts:
            return _Columns.of([], self._town_code)
        return parts[0] if len(parts) == 1 else _Columns.concat(parts)

    # --- clustering (no lock: works on copied rows) ------------------------------------------------------
    def _clustered(self, columns: _Columns, zoom: int, settings: MapSettings) -> list[dict]:
        zoom = max(0, min(MAX_ZOOM, int(zoom)))
        x = (columns.lon + 180.0) / 360.0
        y = _mercator_y(columns.lat)
        while True:
            world = _world_px(zoom)
            cells_per_row = int(math.ceil(world / settings.cell_px)) + 1
            cx = np.minimum(np.floor(x * world / settings.cell_px), cells_per_row - 1).astype(np.int64)
            cy = np.floor(y * world / settings.cell_px).astype(np.int64)
            keys = cy * cells_per_row + cx
            order = np.argsort(keys, kind="stable")
            sorted_keys = keys[order]
            starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
            if len(starts) <= settings.max_points or zoom == 0:
                break
            zoom -= 1
        counts = np.diff(np.concatenate((starts, [len(order)])))
        lon, lat = columns.lon[order], columns.lat[order]
        # Centroids from exact integer sums (1e-7 degree units): the same whatever the members'
        # order, so that every process holding the same points gives the same bytes.
        mean_lon = np.add.reduceat(np.rint(lon * _FIXED).astype(np.int64), starts) / counts / _FIXED
        mean_lat = np.add.reduceat(np.rint(lat * _FIXED).astype(np.int64), starts) / counts / _FIXED
        min_lon, max_lon = np.minimum.reduceat(lon, starts), np.maximum.reduceat(lon, starts)
        min_lat, max_lat = np.minimum.reduceat(lat, starts), np.maximum.reduceat(lat, starts)
        kinds = columns.kinds[order]
        per_kind = {kind: np.add.reduceat((kinds == code).astype(np.int64), starts).tolist()
                    for kind, code in _KIND_CODES.items()}
        features = []
        for cell, (start, n, key) in enumerate(zip(starts.tolist(), counts.tolist(), sorted_keys[starts].tolist())):
            if n == 1:
                features.append(self._point(columns, int(order[start])).to_feature())
                continue
            features.append({
                "type": "Feature",
                "id": f"cluster-{zoom}-{key % cells_per_row}-{key // cells_per_row}",
                "geometry": {"type": "Point", "coordinates": [round(float(mean_lon[cell]), 6),
                                                              round(float(mean_lat[cell]), 6)]},
                "properties": {"cluster": True, "count": n,
                               "kinds": {kind: c[cell] for kind, c in per_kind.items() if c[cell]},
                               "bbox": [float(min_lon[cell]), float(min_lat[cell]), float(max_lon[cell]),
                                        float(max_lat[cell])]},
            })
        return features


def _extent(columns: _Columns) -> BoundingBox | None:
    if not len(columns):
        return None
    return BoundingBox(float(columns.lon.min()), float(columns.lat.min()), float(columns.lon.max()),
                       float(columns.lat.max()))
