"""Finding and ranking the candidates of a request (and the requests of a volunteer), with the
hard rules of vitawin_matching.rules and the ranking of vitawin_matching.ranking.

Where the volunteers come from:
- with an in-memory `VolunteerIndex` (the worker): the offers near the request (and the remote
  ones when the request's kind accepts remote), plus the volunteers written to MongoDB since the
  index last caught up (`Search.fresh_since()`): so a volunteer stored before this search is
  never missed, whatever the index's lag (handlers.py explains why that matters);
- without an index (unit tests, tools): the MongoDB read model's bounding-box pre-filter.

The counters the usage rules read (weekly contacts, capacity) are fetched in one query for all
the candidates; they are checked again, atomically, inside the transaction of each proposal."""
from __future__ import annotations

import hashlib

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from vitawin_common import worker
from vitawin_common.territory import distance_km

from vitawin_matching import domain, rules
from vitawin_matching.domain import Request, Volunteer
from vitawin_matching.index import Offer, VolunteerIndex
from vitawin_matching.ranking import Ranked, RankingWeights, VolunteerStats, rank

PARIS = ZoneInfo("Europe/Paris")
REMOTE_OK = {kind for kind, modalities in rules.MODALITIES_BY_KIND.items() if rules.REMOTE in modalities}
WORLD = domain.BoundingBox(-90.0, 90.0, -180.0, 180.0)


def paris_today() -> date:
    return datetime.now(PARIS).date()


@dataclass
class Search:
    """How one process searches: its index (None: MongoDB only), the ranking weights, the
    territory's priorities (school UAIs, town INSEE codes) and its clock."""
    index: VolunteerIndex | None = None
    weights: RankingWeights = field(default_factory=RankingWeights)
    priorities: frozenset[str] = frozenset()
    today: Callable[[], date] = paris_today
    fresh_since: Callable[[], datetime | None] = lambda: None  # noqa: E731 - the index's watermark
    pool: int = 50  # candidates ranked per request, from the index (MATCHING_POOL)

    @classmethod
    def from_env(cls, environ=os.environ, **kwargs) -> "Search":
        raw = environ.get("MATCHING_PRIORITIES", "")
        return cls(weights=RankingWeights.from_env(environ), pool=int(environ.get("MATCHING_POOL", "50")),
                   priorities=frozenset(item.strip() for item in raw.split(",") if item.strip()), **kwargs)


DEFAULT_SEARCH = Search()


@dataclass(frozen=True)
class Candidate:
    request: Request
    volunteer: Volunteer
    distance_km: float
    ranked: Ranked

    def as_match(self) -> domain.Match:
        return domain.Match(self.request, self.volunteer, self.distance_km)


def index_offers(volunteer: Volunteer) -> list[Offer]:
    """The index entries of an active volunteer: one per pledged action."""
    return [Offer(action_type, volunteer.location.lat, volunteer.location.lon, offer.limit_km(volunteer),
                  remote=offer.modality == rules.REMOTE)
            for action_type, offer in volunteer.actions.items()]


def buckets(request: Request, today: date) -> list[str]:
    week = rules.iso_week(today)
    return [f"proposed:{week}", *(f"accepted:{w}" for w in request.period), "accepted:total",
            "stats:received", "stats:answered"]


def usage_of(counts: dict[str, int], today: date) -> tuple[rules.Usage, VolunteerStats]:
    week = rules.iso_week(today)
    accepted = {b.split(":", 1)[1]: n for b, n in counts.items() if b.startswith("accepted:") and b != "accepted:total"}
    usage = rules.Usage(accepted_by_week=accepted, accepted_total=counts.get("accepted:total", 0),
                        proposed_by_week={week: counts.get(f"proposed:{week}", 0)})
    stats = VolunteerStats(proposals_received=counts.get("stats:received", 0),
                           answers=counts.get("stats:answered", 0),
                           outstanding=counts.get(f"proposed:{week}", 0))
    return usage, stats


def _volunteer_pool(uow, request: Request, search: Search, size: int) -> tuple[dict[str, Volunteer], bool]:
    """The candidates to evaluate, and whether there may be more beyond `size` (the index gave a
    full batch of near or remote offers)."""
    pool: dict[str, Volunteer] = {}
    more = False
    if search.index is None:
        box = domain.bounding_box(request.location, request.max_distance_km)
        for volunteer in uow.volunteers.candidates(request.action_type, box):
            pool[volunteer.volunteer_id] = volunteer
        if rules.kind_of(request) in REMOTE_OK:
            for volunteer in uow.volunteers.candidates(request.action_type, WORLD):
                offer = volunteer.offer(request.action_type)
                if offer is not None and offer.modality == rules.REMOTE:
                    pool[volunteer.volunteer_id] = volunteer
        return pool, False
    loc, today = request.location, search.today()

    def eligible(volunteer_id, distance, volunteer) -> bool:  # the rules that need no counter
        return not rules.check(request, volunteer, rules.Usage(), today, distance=distance)
    # The ranking sees the `pool` nearest eligible offers, not every offer in reach: at the scale
    # of a region a 10 km disc holds up to 200,000 offers (bench/README.md).
    hits = search.index.nearest(request.action_type, loc.lat, loc.lon, request.max_distance_km, size,
                                accept=eligible)
    more = len(hits) >= size
    for volunteer_id, _, volunteer in hits:
        pool[volunteer_id] = volunteer
    if rules.kind_of(request) in REMOTE_OK:
        remote = 0
        # From a place that depends on the request (not always the lowest ids: the same remote
        # professionals would get every request), deterministic for replays.
        start = int(hashlib.sha256(request.request_id.encode()).hexdigest()[:8], 16)
        for volunteer_id, volunteer in search.index.iter_remote(request.action_type, start=start):
            if remote >= size:
                more = True
                break
            if eligible(volunteer_id, None, volunteer):
                pool[volunteer_id] = volunteer
                remote += 1
    since = search.fresh_since()
    if since is not None:  # written since the index caught up: newer than what it holds
        for volunteer_id, version, volunteer in uow.volunteers.changed_since(since):
            if volunteer is None or volunteer.status != domain.ACTIVE or request.action_type not in volunteer.action_types:
                pool.pop(volunteer_id, None)  # withdrawn, paused, or no longer pledging this action
            else:
                pool[volunteer_id] = volunteer
    return pool, more


MAX_POOL = 20_000  # how far a search widens when the nearest candidates are full


def candidates_for(uow, request: Request, search: Search = DEFAULT_SEARCH, needed: int = 0) -> list[Candidate]:
    """The volunteers `request` may be proposed to, best first (score, then id). The index gives
    the `search.pool` nearest offers that pass the rules needing no counter; when fewer than
    `needed` of them pass the counters too (hosts already full, weekly caps reached: a busy
    area), the search widens, four times larger each round, up to MAX_POOL."""
    if not request.is_open or request.hidden:
        return []
    size = search.pool
    while True:
        found, more = _evaluate(uow, request, search, size)
        if len(found) >= needed or not more or size >= MAX_POOL:
            return found
        size = min(size * 4, MAX_POOL)


def _evaluate(uow, request: Request, search: Search, size: int) -> tuple[list[Candidate], bool]:
    today = search.today()
    pool, more = _volunteer_pool(uow, request, search, size)
    near = []
    for volunteer in pool.values():
        distance = distance_km(request.location, volunteer.location)
        static = rules.check(request, volunteer, rules.Usage(), today, distance=distance)
        if not static:
            near.append((volunteer, distance))
    if not near:
        return [], more
    counts = uow.usage.counts_many([v.volunteer_id for v, _ in near], request.action_type, buckets(request, today))
    found = []
    for volunteer, distance in near:
        usage, stats = usage_of(counts.get(volunteer.volunteer_id, {}), today)
        if rules.check(request, volunteer, usage, today, distance=distance):
            continue
        ranked = rank(request, volunteer, distance, stats, search.priorities, search.weights)
        found.append(Candidate(request, volunteer, distance, ranked))
    found.sort(key=lambda c: (-c.ranked.score, c.volunteer.volunteer_id))
    return found, more


def requests_for(uow, volunteer: Volunteer, k: int, search: Search = DEFAULT_SEARCH) -> list[Candidate]:
    """The open requests `volunteer` may be proposed to, nearest first (then id)."""
    if not volunteer.is_candidate:
        return []
    today = search.today()
    found = []
    for action_type, offer in volunteer.actions.items():
        remote = offer.modality == rules.REMOTE
        box = WORLD if remote else domain.bounding_box(volunteer.location, offer.limit_km(volunteer))
        requests = list(uow.requests.open_candidates([action_type], box, k))
        if not requests:
            continue
        counts = uow.usage.counts_many([volunteer.volunteer_id], action_type, _all_buckets(requests, today))
        for request in requests:
            distance = distance_km(request.location, volunteer.location)
            usage, stats = usage_of(counts.get(volunteer.volunteer_id, {}), today)
            if rules.check(request, volunteer, usage, today, distance=distance):
                continue
            found.append(Candidate(request, volunteer, distance,
                                   rank(request, volunteer, distance, stats, search.priorities, search.weights)))
    found.sort(key=lambda c: (c.distance_km, c.request.request_id))
    return found


def _all_buckets(requests: Iterable[Request], today: date) -> list[str]:
    names: dict[str, None] = {}
    for request in requests:
        names.update(dict.fromkeys(buckets(request, today)))
    return list(names)


class IndexFollower:
    """Keeps a worker's VolunteerIndex complete from the MongoDB read model: `load()` at start
    (every active volunteer), then `catch_up()` every `interval_s` (the volunteers written since
    the last round, minus `margin_s` for clock skew and transactions committing late: replaying a
    volunteer twice is harmless, the newest version wins). `fresh_since()` tells the search where
    the index may be behind, so that it asks MongoDB for those volunteers itself.

    Why MongoDB and not the `volunteers` topic: the read model is written by whichever worker of
    the group reads a volunteer's partition; following it from MongoDB gives every worker every
    volunteer, in the state the proposals' transactions are checked against, and a restarted
    worker rebuilds from the same place."""

    def __init__(self, index: VolunteerIndex, volunteers, *, margin_s: float = 5.0, interval_s: float = 1.0,
                 now: Callable[[], datetime] = lambda: datetime.now(PARIS)):
        self.index, self.volunteers = index, volunteers
        self.margin = timedelta(seconds=margin_s)
        self.interval_s = interval_s
        self.now = now
        self.watermark: datetime | None = None

    def load(self) -> int:
        started = self.now()
        loaded = self.index.bulk_load((v.volunteer_id, v.version, index_offers(v), v)
                                      for v in self.volunteers.all_active())
        self.watermark = started
        return loaded

    def catch_up(self) -> int:
        if self.watermark is None:
            return self.load()
        started = self.now()
        applied = 0
        for volunteer_id, version, volunteer in self.volunteers.changed_since(self.watermark - self.margin):
            if volunteer is not None and volunteer.is_candidate:
                applied += self.index.upsert(volunteer_id, version, index_offers(volunteer), volunteer)
            else:
                applied += self.index.remove(volunteer_id, version)
        self.watermark = started
        return applied

    def fresh_since(self) -> datetime | None:
        return None if self.watermark is None else self.watermark - self.margin

    def run(self, stop) -> None:
        """Background task of the worker: catch up until `stop` is set (a failed round is logged;
        searches read the volunteers written since the watermark from MongoDB meanwhile)."""
        worker.periodic(self.catch_up, self.interval_s, "index catch-up", at_start=False)(stop)
