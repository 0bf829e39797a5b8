"""The in-memory spatial index of the volunteers' active offers, per action type (plain Python,
numpy and scipy; no I/O). docs/matching.md, "Scale out": every worker keeps the whole index.

What it holds: one entry per (volunteer, action type, modality): the offer's point, its own distance
limit, and an opaque payload the caller gives (matching stores its domain Volunteer there). An
on-site or in-class offer is searched by distance (`nearby`, `iter_nearby`, `nearest`); a remote
offer has no distance and is listed apart (`remote`). A volunteer has at most one located and one
remote offer per action type.

Versions: `upsert` and `remove` carry the volunteer's version; a state older than (or as old as)
the one held is ignored, so a replayed or reordered event changes nothing. The version of a
removed (withdrawn or paused) volunteer is kept as a tombstone: an older upsert does not bring it
back, a newer one does.

How it avoids scanning everything: per action type, a scipy cKDTree over the offers' 3D unit
vectors (x, y, z on the unit sphere). The chord between two unit vectors, 2 sin(d / 2R), grows with
the great-circle distance d, so a ball of chord radius 2 sin(r / 2R) holds exactly the points
within r km (with a tiny slack against rounding); the exact haversine distance (the territory's
formula and Earth radius) then decides, so results are exact. Unit vectors have no seam at the
antimeridian and no singularity at the poles.

A cKDTree cannot change, so each action type has three parts:
- the base: the entries of the last build, with the tree over them; a removed or replaced entry is
  only masked (`alive` flag), the tree is left as is;
- the delta: entries added or replaced since the build, in growable numpy columns, scanned
  linearly (a vectorised chord test) by every query;
- the remote offers: a list kept sorted by volunteer id.
When the delta rows plus the masked base rows exceed max(`rebuild_min`, `rebuild_share` x base
size) (default max(1,000, 5 %)), the action type's tree is rebuilt from its live entries: O(n log n)
for the build, paid once per 5 % of n changes, so O(log n) amortised per change (bench/
matching_speed.py, 1,000,000 pledges: 0.27 s for the 473,000-entry tree, once per ~12,000 changes
of that action type, a replacement counting twice: ~22 µs per change; 33 µs per change in all).
The rebuild runs in the writer's thread outside the readers' lock; only the swap of the new parts
is locked, and the tree build releases the GIL.

Threads: one lock (`_lock`) guards the state readers see; writers (upsert, remove, bulk_load) are
serialised by a second lock (`_write_lock`), so the writer may read the state without `_lock` and
takes it only to change it. A query holds `_lock` only to query the tree, scan the delta and copy
the candidate rows; exact distances, filtering, sorting and building the result run outside it.

Ordering: results are sorted by (distance, volunteer id). `nearby` returns every entry within the
radius and within its own limit; at region scale that may be tens of thousands (up to 200,000 for
10 km around the territory with 1,000,000 pledges in the benchmark: 0.2-2 s in Python, slower
than a numpy scan). `iter_nearby` yields the same entries in the same order lazily, from
k-nearest-neighbour queries of growing k, so a caller that wants the k best eligible candidates
stops after a few dozen (`nearest` does that with a predicate: 0.1 ms p50, 0.2 ms p99 for k=5
at 1,000,000 pledges)."""
from __future__ import annotations

import bisect
import math
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np
from scipy.spatial import cKDTree

from vitawin_common.territory import EARTH_RADIUS_KM

__all__ = ["Offer", "VolunteerIndex", "REBUILD_MIN", "REBUILD_SHARE"]

REBUILD_MIN = 1_000      # a tree is rebuilt when its pending changes exceed this many...
REBUILD_SHARE = 0.05     # ...and this share of the tree
_CHORD_SLACK = 1e-9      # relative slack of the chord pre-filter (the exact distance decides)
_ORDER_TOL_KM = 1e-7     # iter_nearby: margin between what a k-NN query proves and what it yields
_BALL_AFTER = 4_096      # iter_nearby: past this k, one ball query fetches the rest
_DELTA_CAPACITY = 64     # first capacity of a delta's columns (doubles when full)
_ROWS_SLICE = 16_384     # ids mapped per step when a tree is (re)built

Hit = tuple[str, float, Any]  # (volunteer_id, distance_km, payload)


@dataclass(frozen=True, slots=True)
class Offer:
    """A volunteer's offer for one action type: where it starts from and how far it goes.
    `remote`: given at a distance (no travel): `lat`, `lon` and `limit_km` are then ignored."""
    action_type: str
    lat: float
    lon: float
    limit_km: float
    remote: bool = False


def _check_offer(volunteer_id: str, offer: Offer) -> None:
    if not isinstance(offer.action_type, str) or not offer.action_type:
        raise ValueError(f"volunteer {volunteer_id}: offer without an action type")
    if offer.remote:
        return
    if not (math.isfinite(offer.lat) and -90.0 <= offer.lat <= 90.0 and math.isfinite(offer.lon)):
        raise ValueError(f"volunteer {volunteer_id}: offer {offer.action_type} has no valid point")
    if not (math.isfinite(offer.limit_km) and offer.limit_km >= 0):
        raise ValueError(f"volunteer {volunteer_id}: offer {offer.action_type} has no valid limit")


def _checked_offers(volunteer_id: str, offers: Iterable[Offer]) -> list[Offer]:
    offers = list(offers)
    seen: set[tuple[str, bool]] = set()
    for offer in offers:
        _check_offer(volunteer_id, offer)
        key = (offer.action_type, bool(offer.remote))
        if key in seen:
            raise ValueError(f"volunteer {volunteer_id}: two {'remote' if offer.remote else 'located'} "
                             f"offers for {offer.action_type}")
        seen.add(key)
    return offers


def _chord(radius_km: float) -> float:
    """The chord on the unit sphere of a great-circle distance, with the pre-filter's slack."""
    angle = radius_km / EARTH_RADIUS_KM
    chord = 2.0 if angle >= math.pi else 2.0 * math.sin(angle / 2.0)
    return chord * (1.0 + _CHORD_SLACK) + 1e-12


def _arc_km(chord: float) -> float:
    """The great-circle distance of a chord on the unit sphere."""
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, chord / 2.0))


def _unit_vectors(lat_rad: np.ndarray, lon_deg: np.ndarray, cos_lat: np.ndarray) -> np.ndarray:
    lon = np.radians(lon_deg)
    xyz = np.empty((len(lat_rad), 3))
    xyz[:, 0] = cos_lat * np.cos(lon)
    xyz[:, 1] = cos_lat * np.sin(lon)
    xyz[:, 2] = np.sin(lat_rad)
    return xyz


class _Query:
    """A query point, its unit vector and the chord of its radius."""
    __slots__ = ("lat", "lon", "cos_lat", "xyz", "radius_km", "chord")

    def __init__(self, lat: float, lon: float, radius_km: float):
        if not (math.isfinite(lat) and -90.0 <= lat <= 90.0 and math.isfinite(lon)):
            raise ValueError("query point must have a finite latitude in [-90, 90] and a finite longitude")
        if not radius_km >= 0:  # also refuses NaN
            raise ValueError("radius_km must be >= 0")
        self.lat = math.radians(lat)
        self.lon = float(lon)
        self.cos_lat = math.cos(self.lat)
        lon_rad = math.radians(lon)
        self.xyz = np.array([self.cos_lat * math.cos(lon_rad), self.cos_lat * math.sin(lon_rad),
                             math.sin(self.lat)])
        self.radius_km = float(radius_km)
        self.chord = _chord(self.radius_km)

    def distances(self, lat: np.ndarray, lon: np.ndarray, cos_lat: np.ndarray) -> np.ndarray:
        """Haversine distances in km, the formula of vitawin_common.territory.distance_km."""
        s_lat = np.sin((lat - self.lat) / 2)
        s_lon = np.sin(np.radians(lon - self.lon) / 2)
        h = s_lat * s_lat + self.cos_lat * cos_lat * (s_lon * s_lon)
        return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))


class _Rows:
    """Candidate rows copied out of the index: volunteer ids, payloads, latitude (radians), longitude
    (degrees), cos(latitude), limit (km)."""
    __slots__ = ("ids", "payloads", "lat", "lon", "cos_lat", "limit")

    def __init__(self, ids, payloads, lat, lon, cos_lat, limit):
        self.ids, self.payloads, self.lat, self.lon, self.cos_lat, self.limit = (
            ids, payloads, lat, lon, cos_lat, limit)

    @classmethod
    def concat(cls, parts: list["_Rows"]) -> "_Rows":
        if len(parts) == 1:
            return parts[0]
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in cls.__slots__))


class _Columns:
    """Entries as numpy columns; rows [0, n) are in use, `alive` masks removed ones. Latitudes in
    radians, longitudes in degrees (the haversine formula's inputs), their cosines and unit vectors
    computed once."""
    __slots__ = ("n", "ids", "payloads", "xyz", "lat", "lon", "cos_lat", "limit", "alive")

    def __init__(self, ids: np.ndarray, payloads: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                 limit: np.ndarray, cos_lat: np.ndarray | None = None, xyz: np.ndarray | None = None,
                 n: int | None = None):
        self.n = len(ids) if n is None else n
        self.ids, self.payloads = ids, payloads
        self.lat = np.asarray(lat, dtype=np.float64)
        self.lon = np.asarray(lon, dtype=np.float64)
        self.limit = np.asarray(limit, dtype=np.float64)
        self.cos_lat = np.cos(self.lat) if cos_lat is None else cos_lat
        self.xyz = _unit_vectors(self.lat, self.lon, self.cos_lat) if xyz is None else xyz
        self.alive = np.ones(len(ids), dtype=bool)
        self.alive[self.n:] = False

    @classmethod
    def empty(cls, capacity: int) -> "_Columns":
        return cls(np.empty(capacity, dtype=object), np.empty(capacity, dtype=object),
                   np.zeros(capacity), np.zeros(capacity), np.zeros(capacity), n=0)

    def append(self, volunteer_id: str, payload: Any, offer: Offer) -> int:
        row = self.n
        if row == len(self.ids):
            self._grow(2 * row)
        lat = math.radians(offer.lat)
        cos_lat = math.cos(lat)
        lon_rad = math.radians(offer.lon)
        self.ids[row] = volunteer_id
        self.payloads[row] = payload
        self.lat[row], self.lon[row], self.cos_lat[row] = lat, float(offer.lon), cos_lat
        self.limit[row] = float(offer.limit_km)
        self.xyz[row] = (cos_lat * math.cos(lon_rad), cos_lat * math.sin(lon_rad), math.sin(lat))
        self.alive[row] = True
        self.n = row + 1
        return row

    def _grow(self, capacity: int) -> None:
        for name in ("ids", "payloads", "lat", "lon", "cos_lat", "limit", "alive", "xyz"):
            old = getattr(self, name)
            new = np.zeros((capacity,) + old.shape[1:], dtype=old.dtype)
            new[:len(old)] = old
            setattr(self, name, new)

    def take(self, rows: np.ndarray) -> _Rows:
        return _Rows(self.ids[rows], self.payloads[rows], self.lat[rows], self.lon[rows],
                     self.cos_lat[rows], self.limit[rows])

    def live_rows(self) -> np.ndarray:
        return np.flatnonzero(self.alive[:self.n])

    def within(self, point: np.ndarray, chord: float) -> np.ndarray:
        """Live rows within `chord` of a unit vector (linear scan)."""
        diff = self.xyz[:self.n] - point
        close = np.einsum("ij,ij->i", diff, diff) <= chord * chord
        return np.flatnonzero(close & self.alive[:self.n])


_COLUMNS = ("ids", "payloads", "lat", "lon", "limit", "cos_lat", "xyz")


class _ActionIndex:
    """One action type's entries: base (with its tree), delta, and remote offers."""
    __slots__ = ("base", "tree", "base_rows", "dead", "delta", "delta_rows", "remote", "remote_ids")

    def __init__(self, base: _Columns, remote: dict[str, Any] | None = None,
                 remote_ids: list[str] | None = None):
        self.base = base
        self.tree = cKDTree(base.xyz, balanced_tree=False, compact_nodes=False) if base.n else None
        # In slices: a single dict(zip(...)) of 500,000 ids holds the GIL for 0.1 s, stalling the
        # queries of other threads during a rebuild (the tree build itself releases the GIL).
        self.base_rows: dict[str, int] = {}
        ids = base.ids.tolist()
        for start in range(0, base.n, _ROWS_SLICE):
            self.base_rows.update(zip(ids[start:start + _ROWS_SLICE], range(start, min(start + _ROWS_SLICE, base.n))))
        self.dead = 0
        self.delta = _Columns.empty(_DELTA_CAPACITY)
        self.delta_rows: dict[str, int] = {}
        self.remote: dict[str, Any] = remote if remote is not None else {}
        self.remote_ids: list[str] = sorted(self.remote) if remote_ids is None else remote_ids

    @property
    def pending(self) -> int:
        """Changes since the build: delta rows (live or not) and masked base rows."""
        return self.delta.n + self.dead

    def entries(self) -> int:
        return len(self.base_rows) + len(self.delta_rows) + len(self.remote)

    def discard(self, volunteer_id: str) -> int:
        """Removes the volunteer's entries; returns how many there were."""
        removed = 0
        row = self.base_rows.pop(volunteer_id, None)
        if row is not None:
            self.base.alive[row] = False
            self.dead += 1
            removed += 1
        row = self.delta_rows.pop(volunteer_id, None)
        if row is not None:
            self.delta.alive[row] = False
            removed += 1
        if volunteer_id in self.remote:
            del self.remote[volunteer_id]
            del self.remote_ids[bisect.bisect_left(self.remote_ids, volunteer_id)]
            removed += 1
        return removed

    def add(self, volunteer_id: str, offer: Offer, payload: Any) -> None:
        if offer.remote:
            self.remote[volunteer_id] = payload
            bisect.insort(self.remote_ids, volunteer_id)
        else:
            self.delta_rows[volunteer_id] = self.delta.append(volunteer_id, payload, offer)

    def live_columns(self) -> tuple[np.ndarray, ...]:
        """The live located entries' columns, in _Columns' order: ids, payloads, lat, lon, limit,
        cos_lat, xyz (copied, so that a rebuild keeps every value as it was)."""
        base_live, delta_live = self.base.live_rows(), self.delta.live_rows()
        return tuple(np.concatenate((getattr(self.base, name)[base_live], getattr(self.delta, name)[delta_live]))
                     for name in _COLUMNS)

    # --- queries (caller holds the readers' lock) ------------------------------------------------
    def ball(self, query: _Query) -> _Rows:
        parts = []
        if self.tree is not None:
            rows = np.fromiter(self.tree.query_ball_point(query.xyz, query.chord, return_sorted=False),
                               dtype=np.intp)
            parts.append(self.base.take(rows[self.base.alive[rows]]))
        if self.delta.n or not parts:
            parts.append(self.delta.take(self.delta.within(query.xyz, query.chord)))
        return _Rows.concat(parts)

    def knn(self, query: _Query, k: int) -> tuple[_Rows, float | None]:
        """The k nearest base rows within the radius (alive ones), every delta row within it, and
        the chord up to which the result is complete (None: complete over the whole radius)."""
        if self.tree is None or k >= self.base.n or k > _BALL_AFTER:
            return self.ball(query), None
        chords, rows = self.tree.query(query.xyz, k=k, distance_upper_bound=query.chord)
        found = rows < self.base.n
        complete = None if not found.all() else float(chords[-1])
        rows = rows[found]
        parts = [self.base.take(rows[self.base.alive[rows]])]
        if self.delta.n:
            parts.append(self.delta.take(self.delta.within(query.xyz, query.chord)))
        return _Rows.concat(parts), complete


def _by_distance_then_id(distances: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The permutation sorting by (distance, id): a numpy sort, then runs of equal distances (the
    same point) sorted by id."""
    order = np.argsort(distances)
    if len(order) > 1:
        ordered = distances[order]
        ties = np.flatnonzero(ordered[1:] == ordered[:-1])
        if len(ties):
            for run in np.split(ties, np.flatnonzero(np.diff(ties) != 1) + 1):
                start, stop = int(run[0]), int(run[-1]) + 2
                order[start:stop] = sorted(order[start:stop].tolist(), key=ids.__getitem__)
    return order


def _hits(rows: _Rows, query: _Query, seen: set[str] | None = None,
          below_km: float | None = None) -> list[Hit]:
    """The rows within the radius and their own limit (and nearer than `below_km`, and not in
    `seen`, which gets their ids), as sorted (volunteer_id, distance_km, payload)."""
    if not len(rows.ids):
        return []
    distances = query.distances(rows.lat, rows.lon, rows.cos_lat)
    keep = (distances <= query.radius_km) & (distances <= rows.limit)
    if below_km is not None:
        keep &= distances < below_km
    kept = np.flatnonzero(keep)
    if seen:
        kept = kept[np.fromiter((i not in seen for i in rows.ids[kept].tolist()), dtype=bool, count=len(kept))]
    distances, ids, payloads = distances[kept], rows.ids[kept], rows.payloads[kept]
    order = _by_distance_then_id(distances, ids)
    ordered_ids = ids[order].tolist()
    if seen is not None:
        seen.update(ordered_ids)
    return list(zip(ordered_ids, distances[order].tolist(), payloads[order].tolist()))


class VolunteerIndex:
    """The volunteers' active offers per action type; see the module docstring."""

    def __init__(self, rebuild_min: int = REBUILD_MIN, rebuild_share: float = REBUILD_SHARE):
        self.rebuild_min = rebuild_min
        self.rebuild_share = rebuild_share
        self._actions: dict[str, _ActionIndex] = {}
        self._versions: dict[str, int] = {}
        self._count = 0
        self.rebuilds = 0              # tree rebuilds since creation (bulk loads not counted)
        self._lock = threading.Lock()        # guards what readers see
        self._write_lock = threading.Lock()  # serialises writers

    # --- reading ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        """The number of entries (a volunteer's offer per action type and modality)."""
        return self._count

    def version_of(self, volunteer_id: str) -> int | None:
        """The last version applied for the volunteer (upsert or remove), None if never seen."""
        return self._versions.get(volunteer_id)

    def nearby(self, action_type: str, lat: float, lon: float, radius_km: float) -> list[Hit]:
        """Every located entry of `action_type` within `radius_km` of the point and within its own
        limit_km, as (volunteer_id, distance_km, payload) sorted by (distance, volunteer_id)."""
        query = _Query(lat, lon, radius_km)
        with self._lock:
            action = self._actions.get(action_type)
            if action is None:
                return []
            rows = action.ball(query)
        return _hits(rows, query)

    def iter_nearby(self, action_type: str, lat: float, lon: float, radius_km: float, *,
                    batch: int = 16) -> Iterator[Hit]:
        """The entries of `nearby`, in the same order, lazily: batches of k-nearest queries with k
        growing fourfold from `batch` (after 4,096, one ball query fetches the rest). The lock is
        held per batch only; changes made while iterating may or may not show, and no volunteer
        is yielded twice."""
        for hits in self._batches(action_type, lat, lon, radius_km, batch):
            yield from hits

    def nearest(self, action_type: str, lat: float, lon: float, radius_km: float, k: int,
                accept: Callable[[str, float, Any], bool] | None = None, *,
                batch: int | None = None) -> list[Hit]:
        """The first `k` entries of `nearby` for which accept(volunteer_id, distance_km, payload)
        is true (all of them if accept is None); `accept` runs outside the lock. `batch`: the
        first k-nearest query's size (default max(48, 3k): one query is enough when about a third
        of the candidates pass, as with the benchmark's rules)."""
        found: list[Hit] = []
        if k <= 0:
            return found
        for hits in self._batches(action_type, lat, lon, radius_km, batch or max(48, 3 * k)):
            if accept is None:
                found.extend(hits[:k - len(found)])
            else:
                for hit in hits:
                    if accept(*hit):
                        found.append(hit)
                        if len(found) == k:
                            break
            if len(found) == k:
                break
        return found

    def _batches(self, action_type: str, lat: float, lon: float, radius_km: float,
                 batch: int) -> Iterator[list[Hit]]:
        query = _Query(lat, lon, radius_km)
        seen: set[str] = set()
        k = max(2, batch)
        while True:
            with self._lock:
                action = self._actions.get(action_type)
                if action is None:
                    return
                rows, complete = action.knn(query, k)
            below = None if complete is None else _arc_km(complete) - _ORDER_TOL_KM
            yield _hits(rows, query, seen, below)
            if complete is None:
                return
            k *= 4

    def remote(self, action_type: str) -> list[tuple[str, Any]]:
        """The remote offers of `action_type` (distance irrelevant), as (volunteer_id, payload)
        sorted by volunteer_id."""
        with self._lock:
            action = self._actions.get(action_type)
            if action is None:
                return []
            ids, payloads = list(action.remote_ids), action.remote
            return [(volunteer_id, payloads[volunteer_id]) for volunteer_id in ids]

    def iter_remote(self, action_type: str, start: int = 0, chunk: int = 256) -> Iterator[tuple[str, Any]]:
        """The remote offers of `action_type` as (volunteer_id, payload), lazily: in volunteer id
        order from position `start` (modulo their number), wrapping around once. A caller that
        needs the first few pays for those, not for a copy of all of them (60,000 remote
        testimony offers took 19.7 ms to copy per call at 1,000,000 pledges). Read in chunks
        under the lock; an offer added or removed between chunks may be seen or missed, as with
        any search running while the index changes."""
        with self._lock:
            action = self._actions.get(action_type)
            total = len(action.remote_ids) if action is not None else 0
        if total == 0:
            return
        first = start % total
        for lo, hi in ((first, total), (0, first)):
            position = lo
            while position < hi:
                with self._lock:
                    action = self._actions.get(action_type)
                    if action is None:
                        return
                    ids = action.remote_ids[position:min(position + chunk, hi)]
                    batch = [(volunteer_id, action.remote[volunteer_id]) for volunteer_id in ids
                             if volunteer_id in action.remote]
                if not ids:
                    break
                yield from batch
                position += len(ids)

    def stats(self) -> dict[str, dict[str, int]]:
        """Per action type: base (tree) rows, pending changes, live located and remote entries."""
        with self._lock:
            return {name: {"tree": action.base.n, "pending": action.pending,
                           "located": len(action.base_rows) + len(action.delta_rows),
                           "remote": len(action.remote)}
                    for name, action in sorted(self._actions.items())}

    # --- writing ---------------------------------------------------------------------------------
    def upsert(self, volunteer_id: str, version: int, offers: Iterable[Offer], payload: Any) -> bool:
        """Replaces all the volunteer's entries with `offers` (each with `payload`) if `version` is
        newer than the one held; returns whether it was applied. ValueError for an invalid offer
        of a newer state (nothing changes)."""
        with self._write_lock:
            held = self._versions.get(volunteer_id)
            if held is not None and version <= held:
                return False
            offers = _checked_offers(volunteer_id, offers)
            with self._lock:
                self._versions[volunteer_id] = version
                self._count -= sum(action.discard(volunteer_id) for action in self._actions.values())
                for offer in offers:
                    action = self._actions.get(offer.action_type)
                    if action is None:
                        action = self._actions[offer.action_type] = _ActionIndex(_empty_base())
                    action.add(volunteer_id, offer, payload)
                    self._count += 1
            self._rebuild_due()
            return True

    def remove(self, volunteer_id: str, version: int) -> bool:
        """Removes the volunteer's entries (a withdrawal or a pause) if `version` is newer than the
        one held, and keeps that version; returns whether it was applied."""
        with self._write_lock:
            held = self._versions.get(volunteer_id)
            if held is not None and version <= held:
                return False
            with self._lock:
                self._versions[volunteer_id] = version
                self._count -= sum(action.discard(volunteer_id) for action in self._actions.values())
            self._rebuild_due()
            return True

    def bulk_load(self, volunteers: Iterable[tuple[str, int, Iterable[Offer], Any]]) -> int:
        """Loads many volunteers at once, (volunteer_id, version, offers, payload) each, with the
        rules of `upsert` (the newest version wins, older ones are ignored), then builds every
        tree once. Meant for the start-up load; entries already held stay unless replaced.
        Returns how many volunteers were applied. ValueError for an invalid offer (nothing
        changes)."""
        with self._write_lock:
            versions = self._versions
            newest: dict[str, tuple[int, list[Offer], Any]] = {}
            for volunteer_id, version, offers, payload in volunteers:
                held = versions.get(volunteer_id)
                if held is not None and version <= held:
                    continue
                previous = newest.get(volunteer_id)
                if previous is not None and version <= previous[0]:
                    continue
                newest[volunteer_id] = (version, offers, payload)

            located: dict[str, tuple[list, list, list, list, list]] = {}
            remote: dict[str, dict[str, Any]] = {}
            for volunteer_id, (version, offers, payload) in newest.items():
                for offer in _checked_offers(volunteer_id, offers):
                    if offer.remote:
                        remote.setdefault(offer.action_type, {})[volunteer_id] = payload
                        continue
                    columns = located.get(offer.action_type)
                    if columns is None:
                        columns = located[offer.action_type] = ([], [], [], [], [])
                    ids, payloads, lats, lons, limits = columns
                    ids.append(volunteer_id)
                    payloads.append(payload)
                    lats.append(offer.lat)
                    lons.append(offer.lon)
                    limits.append(offer.limit_km)

            built: dict[str, _ActionIndex] = {}
            count = 0
            for name in sorted(set(self._actions) | set(located) | set(remote)):
                ids, payloads, lats, lons, limits = located.get(name, ([], [], [], [], []))
                base = _Columns(_object_array(ids), _object_array(payloads),
                                np.radians(np.array(lats, dtype=np.float64)), np.array(lons, dtype=np.float64),
                                np.array(limits, dtype=np.float64))
                remote_part = remote.get(name, {})
                old = self._actions.get(name)
                if old is not None:  # keep what the load does not replace
                    columns = old.live_columns()
                    keep = np.fromiter((i not in newest for i in columns[0].tolist()), dtype=bool,
                                       count=len(columns[0]))
                    base = _Columns(*(np.concatenate((column[keep], getattr(base, column_name)))
                                      for column, column_name in zip(columns, _COLUMNS)))
                    remote_part = {**{i: p for i, p in old.remote.items() if i not in newest}, **remote_part}
                action = _ActionIndex(base, remote_part)
                built[name] = action
                count += action.entries()

            with self._lock:
                self._actions = built
                self._count = count
                versions.update((volunteer_id, item[0]) for volunteer_id, item in newest.items())
            return len(newest)

    def rebuild(self, action_type: str | None = None) -> None:
        """Rebuilds one action type's tree (all if None) from its live entries now."""
        with self._write_lock:
            for name in ([action_type] if action_type is not None else list(self._actions)):
                if name in self._actions:
                    self._rebuild(name)

    # --- internals (writer holds _write_lock) ----------------------------------------------------
    def _rebuild_due(self) -> None:
        for name, action in list(self._actions.items()):
            if action.pending > max(self.rebuild_min, self.rebuild_share * action.base.n):
                self._rebuild(name)

    def _rebuild(self, name: str) -> None:
        # Readers never change the state and writers are serialised: reading without _lock is safe.
        old = self._actions[name]
        new = _ActionIndex(_Columns(*old.live_columns()), old.remote, old.remote_ids)
        with self._lock:
            self._actions[name] = new
        self.rebuilds += 1


def _empty_base() -> _Columns:
    return _Columns(_object_array([]), _object_array([]), np.zeros(0), np.zeros(0), np.zeros(0))


def _object_array(values: list) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array

