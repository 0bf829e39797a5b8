"""Keeps a process's map index (domain.MapIndex) as fresh as MongoDB, the durable store: MongoDB
stays the truth, the map's box queries are answered from memory (SecantusDB, the local stand-in,
takes 2 to 8 s per box query over 60,000 actors; docs/benchmarks.md, "Map queries").

- Load: one scan of the organisations and schools with the map's projection (`map_documents`),
  in a background thread started with the app (`start`), so that the first map query finds it
  ready or waits for it; a query that finds no index loads it itself.
- Freshness, read-your-writes: before answering, `fresh()` asks MongoDB for the actors created
  or erased since the index's watermark minus `margin_s` (`map_changes`: two queries on the
  created_at and erased_at indexes, about 1 ms together on SecantusDB when nothing changed) and
  applies them. Several gunicorn workers and replicas write actors: whichever wrote, a query that
  arrives after the write committed sees it. The margin covers clocks apart between replicas and
  a transaction that commits a little after the created_at its document was given (an import
  batch is written a few seconds after its rows were read). Applying a change twice is harmless
  (an equal point changes nothing, an erased id never comes back), so the overlap costs only the
  re-reading of the last `margin_s` seconds' actors.
- Coalescing: catch-ups are serialised; a query that arrives while one runs waits for it and then
  runs its own only if that one began before the query arrived (it may have missed the query's
  own write). Concurrent queries thus share catch-ups without losing read-your-writes.
- Safety net: every `rebuild_s` seconds (0: never) a full scan replaces the index, in a background
  thread, for changes no watermark can see (a transaction committing later than the margin, an
  edit made outside the service).
- Failures: if a catch-up fails, the query is answered from the index as it is (logged, ids and
  error class only); if there is no index and loading it fails, `MapUnavailable`."""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Protocol

from vitawin_actors.domain import is_erased
from vitawin_actors.domain.mapindex import MapIndex, MapPoint

log = logging.getLogger(__name__)

DEFAULT_MARGIN_S = 15.0
DEFAULT_REBUILD_S = 3600.0


class MapSource(Protocol):
    """What the follower reads (vitawin_actors.adapters.ActorRepository)."""

    def map_documents(self) -> Iterable[dict]: ...  # every organisation and school, tombstones included

    def map_changes(self, since: datetime) -> list[dict]: ...  # created or erased at or after `since`


class MapUnavailable(RuntimeError):
    """No index could be loaded (MongoDB unreachable at start)."""


class MapIndexFollower:
    """See the module docstring. `source()` gives a MapSource (called once per load or catch-up)."""

    def __init__(self, source: Callable[[], MapSource], index: MapIndex | None = None, *,
                 margin_s: float = DEFAULT_MARGIN_S, rebuild_s: float = DEFAULT_REBUILD_S,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 monotonic: Callable[[], float] = time.monotonic,
                 spawn: Callable[[Callable[[], None], str], Any] | None = None):
        if margin_s < 0 or rebuild_s < 0:
            raise ValueError("margin_s and rebuild_s must be >= 0")
        self.source = source
        self.index = index if index is not None else MapIndex()
        self.margin = timedelta(seconds=margin_s)
        self.rebuild_s = rebuild_s
        self.now = now
        self.monotonic = monotonic
        self.spawn = spawn or _daemon_thread  # how background work runs (tests run it at once)
        self.watermark: datetime | None = None   # changes before (watermark - margin) are in the index
        self.loads = 0
        self.last_load: dict[str, Any] = {}      # {"points", "seconds"} of the last load
        self._synced_mono: float | None = None   # when the last catch-up (or load's scan) began
        self._loaded_mono: float | None = None   # when the last load's scan began
        self._sync_lock = threading.Lock()       # catch-ups and swaps
        self._load_lock = threading.Lock()       # one scan at a time
        self._rebuild_lock = threading.Lock()    # held while a periodic rebuild runs
        self._rebuild_tried_mono = float("-inf")

    # --- what the API calls --------------------------------------------------------------------------
    def start(self) -> Any:
        """Load in the background (a daemon thread): called when the app starts. Returns the thread."""
        return self.spawn(lambda: self._load_logged(force=False), "map-index-load")

    def fresh(self) -> MapIndex:
        """The index, with every actor created or erased before this call applied."""
        arrived = self.monotonic()
        if self.watermark is None:
            try:
                self.ensure_loaded()
            except Exception as exc:
                log.warning("map index load failed", extra={"error": type(exc).__name__})
                if self.watermark is None:
                    raise MapUnavailable("the map index could not be loaded") from exc
        try:
            self.catch_up(arrived)
        except Exception as exc:  # answer from the index as it is: the map stays usable
            log.warning("map index catch-up failed: answering from the index as it is",
                        extra={"error": type(exc).__name__})
        self._rebuild_if_due()
        return self.index

    # --- loading and catching up -----------------------------------------------------------------------
    def load(self) -> int:
        """A full scan replaces the index. Returns the number of points held."""
        with self._load_lock:
            return self._scan()

    def ensure_loaded(self) -> None:
        """Loads the index unless it is (waits for a load under way)."""
        if self.watermark is None:
            with self._load_lock:
                if self.watermark is None:
                    self._scan()

    def _scan(self) -> int:
        started, started_mono = self.now(), self.monotonic()
        points, erased = [], []
        for doc in self.source().map_documents():
            if is_erased(doc):
                erased.append(doc["actor_id"])
            else:
                point = MapPoint.from_document(doc)
                if point is not None:
                    points.append(point)
        with self._sync_lock:
            held = self.index.replace_all(points, erased)
            # The scan may have missed what was written while it ran: the next catch-up reads
            # again from its start (minus the margin), and a query that arrived after the scan
            # began no longer counts on an earlier catch-up.
            self.watermark = started
            self._synced_mono = started_mono
            self._loaded_mono = started_mono
        self.loads += 1
        self.last_load = {"points": held, "seconds": self.monotonic() - started_mono}
        return held

    def catch_up(self, arrived: float | None = None) -> int:
        """Applies the actors created or erased since the watermark (minus the margin), unless a
        catch-up began at or after `arrived` (monotonic; now if None). Returns how many changes
        changed the index."""
        arrived = self.monotonic() if arrived is None else arrived
        with self._sync_lock:
            if self.watermark is None:
                raise MapUnavailable("the map index is not loaded")
            if self._synced_mono is not None and self._synced_mono >= arrived:
                return 0
            started, started_mono = self.now(), self.monotonic()
            docs = self.source().map_changes(self.watermark - self.margin)
            changed = 0
            erasures = []
            for doc in docs:
                if is_erased(doc):
                    erasures.append(doc["actor_id"])
                else:
                    point = MapPoint.from_document(doc)
                    if point is not None:
                        changed += self.index.upsert(point)
            for actor_id in erasures:  # after the creations: an actor created and erased meanwhile stays out
                changed += self.index.erase(actor_id)
            self.watermark = started
            self._synced_mono = started_mono
            return changed

    # --- background work ---------------------------------------------------------------------------------
    def _load_logged(self, force: bool) -> None:
        try:
            if force:
                self.load()
            else:
                self.ensure_loaded()
            log.info("map index loaded", extra={"points": self.last_load.get("points"),
                                                "seconds": round(self.last_load.get("seconds", 0.0), 3)})
        except Exception as exc:
            log.warning("map index load failed: the next map query tries again", extra={"error": type(exc).__name__})

    def _rebuild_if_due(self) -> None:
        if not self.rebuild_s or self._loaded_mono is None:
            return
        now = self.monotonic()
        if now - max(self._loaded_mono, self._rebuild_tried_mono) < self.rebuild_s:
            return  # a failed rebuild is tried again rebuild_s later, not at every query
        if not self._rebuild_lock.acquire(blocking=False):
            return  # one under way
        self._rebuild_tried_mono = now

        def rebuild() -> None:
            try:
                self._load_logged(force=True)
            finally:
                self._rebuild_lock.release()
        self.spawn(rebuild, "map-index-rebuild")


def _daemon_thread(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread
