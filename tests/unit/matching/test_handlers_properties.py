"""End-to-end property tests (hypothesis) of matching's handlers (issue 5: "no proposal ever breaks
a hard rule"), over the in-memory fakes of conftest.py.

Hypothesis draws a small world (3 to 8 volunteers; 3 to 6 requests of 1 to 3 kinds; points within
about 2 km of the centre; MATCHING_TOP_K 1 to 3) and a sequence of 5 to 40 steps: a volunteer
registered, updated (place, actions and their settings: audience, modality, limits, weekly cap,
capacity, levels, periods, diplomas, dates; active or paused) or withdrawn; a request created
(fr.vitawin.request.created.v2, every kind), updated, cancelled or expired, hidden or shown again;
a proposal accepted or declined by the professional or by the requester; the clock moved on
(hours) and the expiry round run; an event delivered earlier delivered again; the index caught
up. The steps are played as the actors and requests services would emit them (versions + 1, only
what they allow: no edit of a closed request, a withdrawal is final...), and applied through the
worker's dispatch table (bootstrap.event_handlers; half of the new requests through its batch
handler, bootstrap.batch_handlers), answers.answer and answers.expire_due.
Matching's own decline and expiry events go back to the worker (handlers.on_proposal_freed), and
each acceptance to a model of the requests service, which answers with request.updated
(partly_matched) or request.fulfilled: at once, or when a "flush" step comes (drawn per world).
The clock is injected: Search.today, the `now` of the answers and of the expiry round, and the
time handlers.propose dates a proposal with (MATCHING_ANSWER_DAYS=2, so that proposals expire
within a week). Searches use the worker's VolunteerIndex (followed from the read model as
bootstrap wires it, caught up on "catch_up" steps) or the read model's pre-filter, per world.

A model follows the same events: the latest state of each pledge and request (as the actors and
requests services hold them), and a ledger of the proposals read from the outbox. The properties,
checked after EVERY step (one test each, so that one broken property does not hide another):
- hard rules: a proposal, when it was made, satisfied rules.check for the request and the pledge
  as they were then, with the counters of the ledger (placements accepted, proposals of the ISO
  week, the request's outstanding proposals); its request was open and not hidden; the weekly
  contact cap held; no (request, volunteer) pair is proposed twice, and the proposal id and its
  event id are derived from the pair;
- an acceptance never takes a professional past the capacity of the offer (internship: interns
  per week, counted in the weeks the proposal was made for and in the weeks of the request when
  accepted; apprenticeship: places), nor a request past its professionals_wanted;
- docs/matching.md, "Slots": "A decline or an expiry frees a slot: the next candidate is
  proposed". Precisely: once the worker has handled a proposal.declined or proposal.expired event
  of request R, no volunteer is left that was never proposed to R and that rules.check accepts for
  R now (rules.check's request_open rule says whether R still has a free slot);
- completeness (docs/matching.md, "Scale out": a request and a volunteer stored one after the
  other meet in a search): while the clock stays in the ISO week the run started in (a weekly cap
  that resets in a new week triggers no search, and the design does not say it should) and no
  event waits for a flush, no open request has an eligible volunteer never proposed to it;
- replay: the same inputs applied to a fresh state give the same proposals, states, counters and
  events (the CloudEvent ids of proposal.created are derived, those of the answers are not), with
  the same search and with the other one (index / read model);
- a redelivered event changes nothing: each step's inputs applied again right after it, and a
  late redelivery of an event that no longer carries its entity's latest state (or a closing,
  hiding or withdrawal event at the current version).

A failing example is reduced by `falsify` (steps dropped while the property stays broken), and
the message shows the inputs of the smallest one, step by step. Statistics of the worlds drawn:
--hypothesis-show-statistics.

The fakes: one unit of work per world, used for every message as bench/matching_quality.py does,
with FakeUnitOfWork's all-or-nothing transactions but a shallow snapshot (QuickUnitOfWork)."""
from __future__ import annotations

import logging
import math
import os
import random
import zlib
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from unittest import mock

from hypothesis import HealthCheck, Phase, event as tally, given, settings, strategies as st
from hypothesis.control import current_build_context, currently_in_test_context

from vitawin_common.events import Event, new_event

from vitawin_matching import answers, bootstrap, domain, handlers, rules
from vitawin_matching.domain import WITHDRAWN, Request, Volunteer
from vitawin_matching.index import VolunteerIndex
from vitawin_matching.search import PARIS, IndexFollower, Search
from vitawin_matching.workflow import (ANSWERABLE, PROPOSAL_ACCEPTED, PROPOSAL_DECLINED, PROPOSAL_EXPIRED, REQUESTER,
                                       VOLUNTEER, ProposalConflict)

from tests.unit.matching.conftest import FakeDatabase, FakeUnitOfWork

# Hypothesis' own shrinking is replaced by `falsify` below: dropping runs of steps finds a small
# failing sequence in seconds, where the shrinker (every change of a step changes what the
# following ones mean) took its 5 minutes and stopped half-way.
SETTINGS = settings(max_examples=400, deadline=None, database=None, print_blob=True,
                    phases=(Phase.explicit, Phase.reuse, Phase.generate),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

MINIMISE_S = 10  # at most, to drop the steps a failure does not need

START = datetime(2027, 1, 4, 7, 0, tzinfo=timezone.utc)  # Monday 4 January 2027, 08:00 in Paris (2027-W01)
ANSWER_DAYS = 2
CENTRE = (48.8475, 2.4392)  # Vincennes
ACTORS, REQUESTS = "/vitawin/actors", "/vitawin/requests"
VOLUNTEER_REGISTERED = "fr.vitawin.volunteer.registered.v1"
VOLUNTEER_UPDATED = "fr.vitawin.volunteer.updated.v1"
VOLUNTEER_WITHDRAWN = "fr.vitawin.volunteer.withdrawn.v1"
REQUEST_CREATED = "fr.vitawin.request.created.v2"
REQUEST_UPDATED = "fr.vitawin.request.updated.v1"
REQUEST_CANCELLED = "fr.vitawin.request.cancelled.v1"
REQUEST_EXPIRED = "fr.vitawin.request.expired.v1"
REQUEST_FULFILLED = "fr.vitawin.request.fulfilled.v1"
REQUEST_HIDDEN = "fr.vitawin.request.hidden.v1"
REQUEST_UNHIDDEN = "fr.vitawin.request.unhidden.v1"
FREED = (PROPOSAL_DECLINED, PROPOSAL_EXPIRED)
ACTIVE = ("open", "partly_matched")  # the requests service's statuses that still take proposals

# --- the world's vocabulary (small, so that pairs meet, caps bind and periods overlap) ----------
ACTIONS = ("testimony", "intervention", "internship", "apprenticeship", "job_fair")  # mentoring: no v2 kind asks it
KINDS = {"class_testimony": ("school", "testimony"), "class_intervention": ("school", "intervention"),
         "job_fair": ("school", "job_fair"), "internship_hosting": ("school", "internship"),
         "job_information": ("pupil", "testimony"), "discovery_internship": ("pupil", "internship"),
         "apprenticeship_search": ("pupil", "apprenticeship")}
MODALITIES = {"testimony": ("in_class",) * 4 + ("remote", "remote", "on_site"), "intervention": ("in_class", "remote"),
              "internship": ("on_site",) * 5 + ("in_class",), "apprenticeship": ("on_site",) * 5 + ("remote",),
              "job_fair": ("in_class",) * 5 + ("on_site",)}
WEEKS = ("2027-W05", "2027-W06", "2027-W07")
DATES = ("2027-03-18", "2027-03-19")
DIPLOMAS = ("CAP", "BTS")
LEVELS = ("4e", "3e", "2nde")
COLLEGE = {"4e", "3e"}
ROME = {"D1102": "Boulanger / Boulangère", "M1805": "Études et développement informatique"}


# --- strategies ------------------------------------------------------------------------------------
# Hypothesis draws a seed for the world and one for each step; each is decoded with random.Random
# into the states and choices below. Drawing every field with hypothesis cost more than running
# the services (about 1 ms a step); its shrinking is replaced by `falsify` (dropping steps), so
# little is lost. The weights are chosen so that pairs meet, caps and capacities bind, and
# requests compete for the same volunteers.
def point(rng: random.Random) -> dict:
    """Within about 2 km north or south and 1.8 km east or west of the centre."""
    return {"lat": round(CENTRE[0] + rng.randint(-18, 18) / 1000, 6),
            "lon": round(CENTRE[1] + rng.randint(-25, 25) / 1000, 6)}


def rome(rng: random.Random) -> dict:
    codes = [code for code in ROME if rng.random() < 0.4]
    return {"rome_codes": codes, "rome_jobs": [{"code": c, "label": ROME[c]} for c in codes]}


def offer_settings(rng: random.Random, action: str) -> dict:
    """One action's settings: mostly open to all, a weekly cap of 1 to 3 (mostly 1), often no
    limit of its own, a capacity of 1 or 2, sometimes levels, periods, diplomas or dates."""
    settings_ = {**rome(rng), "audience": rng.choice(("all",) * 6 + ("college", "lycee")),
                 "modality": rng.choice(MODALITIES[action]), "weekly_contact_cap": rng.choice((1, 1, 2, 3))}
    if rng.random() < 0.4:
        settings_["max_distance_km"] = rng.randint(3, 9)
    if action == "intervention":
        settings_["topics"] = []
    elif action == "internship":
        settings_.update(capacity_per_period=rng.choice((1, 1, 2)),
                         levels=rng.choice(([], [], ["4e", "3e"], ["2nde"])),
                         periods=rng.choice(([], [], list(WEEKS), list(WEEKS[:2]), list(WEEKS[1:]))))
    elif action == "apprenticeship":
        settings_.update(diplomas=rng.choice(([], [], ["CAP"], ["BTS"])), places=rng.randint(1, 2))
    elif action == "job_fair":
        dates = rng.choice(([], [], [DATES[0]], [DATES[1]], list(DATES)))
        settings_.update(dates=dates, on_request=not dates)
    return settings_


def pledge(rng: random.Random, vid: str, with_actions: bool | None, asked, all_asked: float = 0.6) -> dict:
    """The state a volunteer event carries (without status and version): its place and limit, its
    actions (with probability `all_asked` every one the world's requests ask for, `asked`, else
    some of them) and their settings (`with_actions` None: a quarter without, each action then
    taking the default settings)."""
    pool = list(asked) if rng.random() < 0.9 else list(ACTIONS)
    types = pool if rng.random() < all_asked else sorted(rng.sample(pool, rng.randint(1, len(pool))),
                                                          key=ACTIONS.index)
    data = {"volunteer_id": vid, "organisation_name": f"Entreprise {vid}",
            "contact_email": f"{vid}@entreprise.example.fr", "town": "94080", "location": point(rng),
            "action_types": types, "max_distance_km": rng.randint(3, 10), "actor_id": f"act-{vid}"}
    if with_actions or (with_actions is None and rng.random() < 0.75):
        data["actions"] = {action: offer_settings(rng, action) for action in types}
    return data


def request_state(rng: random.Random, rid: str, kind: str) -> dict:
    """The state a request event carries (without status, version and accepted_count)."""
    requester, action = KINDS[kind]
    if kind == "job_fair":
        levels = [level for level in LEVELS if rng.random() < 0.5] or ["3e"]
    else:
        levels = [rng.choice(("3e", "4e", "2nde", "3e"))]
    audience = "college" if set(levels) <= COLLEGE else "lycee" if not set(levels) & COLLEGE else "all"
    wanted = 1 if requester == "pupil" else rng.randint(1, 4)
    data = {"request_id": rid, "kind": kind, "requester_kind": requester, "action_type": action,
            "school_uai": "0940585A", "levels": levels, "audience": audience, "town": "94033",
            "location": point(rng), **rome(rng), "professionals_wanted": wanted,
            "max_distance_km": rng.randint(3, 10), "created_at": "2027-01-04T08:00:00.000Z",
            "updated_at": "2027-01-04T08:00:00.000Z", "expires_at": "2027-06-30T22:00:00.000Z"}
    if kind != "job_fair":
        data["level"] = levels[0]
    if requester == "school":
        data["contact_email"] = f"referent-{rid}@college.example.fr"
    if kind in ("class_testimony", "class_intervention", "job_fair"):
        data.update(date=rng.choice(DATES), start_time="09:00", end_time="11:00")
    if kind in ("class_testimony", "class_intervention"):
        data["class_size"] = 25
    if kind == "class_intervention":
        data["topic"] = "Les métiers de bouche"
    if kind in ("internship_hosting", "discovery_internship"):
        first = rng.randrange(len(WEEKS))
        data["period"] = list(WEEKS[first:first + rng.randint(1, 2)])
    if kind == "internship_hosting":
        data["pupils"] = wanted
    if kind == "discovery_internship":
        data["around"] = "school"
    if kind == "apprenticeship_search":
        data.update(diploma=rng.choice(DIPLOMAS), start="2027-09")
    return data


# What a step does, with its weight (catch_up: in the worlds that search with the index only).
STEP_WEIGHTS = {"register": 4, "create": 6, "answer": 9, "update_volunteer": 3, "update_request": 3, "advance": 2,
                "expire": 2, "redeliver": 2, "flush": 2, "withdraw": 1, "close": 1, "hide": 1, "unhide": 1,
                "catch_up": 8}


def step(rng: random.Random, volunteers: int, kinds, index: bool) -> tuple:
    weights = {what: weight for what, weight in STEP_WEIGHTS.items() if index or what != "catch_up"}
    what = rng.choices(list(weights), list(weights.values()))[0]
    vi, ri = rng.randrange(volunteers), rng.randrange(len(kinds))
    asked = [action for action in ACTIONS if action in {KINDS[kind][1] for kind in kinds}]
    if what == "register":
        return what, vi, pledge(rng, f"vol-{vi}", None, asked)
    if what == "update_volunteer":
        status = rng.choice(("active", "active", "active", "paused"))
        return what, vi, pledge(rng, f"vol-{vi}", True, asked, 0.3), status
    if what in ("create", "update_request"):
        return what, ri, request_state(rng, f"req-{ri}", kinds[ri])
    if what == "withdraw":
        return what, vi
    if what == "close":
        return what, ri, rng.choice(("cancelled", "expired"))
    if what in ("hide", "unhide"):
        return what, ri
    if what == "answer":
        return what, rng.randrange(1000), rng.choice((VOLUNTEER, VOLUNTEER, REQUESTER)), rng.random() < 0.75
    if what == "advance":
        return what, rng.randint(1, 60)
    if what == "redeliver":
        return what, rng.randrange(1000)
    return (what,)


@dataclass(frozen=True)
class Scenario:
    volunteers: int
    kinds: tuple[str, ...]  # the kind of req-0, req-1...
    k: int  # MATCHING_TOP_K
    index: bool  # search with the worker's VolunteerIndex (else the read model's pre-filter)
    deferred: bool  # the worker's own events and the requests service's answers wait for a "flush" step
    steps: tuple

    def _repr_pretty_(self, printer, cycle):  # hypothesis prints a failing example with it
        printer.text(repr(self))

    def __repr__(self):  # the states summed up
        return (f"Scenario(volunteers={self.volunteers}, kinds={self.kinds}, k={self.k}, index={self.index}, "
                f"deferred={self.deferred}, steps=[\n" + "".join(f"    {describe_step(s)},\n" for s in self.steps)
                + "])")


SEEDS = st.integers(0, 2 ** 32 - 1)


@st.composite
def scenarios(draw):
    """3 to 8 volunteers; 3 to 6 requests of 1 to 3 kinds (so that they compete for the same
    volunteers); MATCHING_TOP_K 1 to 3; the index or the read model; internal events at once or
    on a "flush" step; 5 to 40 steps."""
    world = draw(SEEDS)
    rng = random.Random(world)
    volunteers = rng.randint(3, 8)
    palette = rng.sample(sorted(KINDS), rng.randint(1, 3))
    kinds = tuple(rng.choice(palette) for _ in range(rng.randint(3, 6)))
    k, index, deferred = rng.choice((3, 3, 1, 2)), rng.random() < 0.5, rng.random() < 0.5
    seeds = draw(st.lists(SEEDS, min_size=(length := rng.randint(5, 40)), max_size=length))
    return Scenario(volunteers, kinds, k, index, deferred,
                    tuple(step(random.Random(f"{world}:{i}:{seed}"), volunteers, kinds, index)
                          for i, seed in enumerate(seeds)))


# --- the service, over the fakes, with an injected clock --------------------------------------------
class QuickUnitOfWork(FakeUnitOfWork):
    """FakeUnitOfWork's all-or-nothing transaction (requests, proposals, outbox, proposal states and
    counters restored unless commit() was called), with a shallow snapshot: the fakes replace the
    values of a row or a document, never mutate them in place, and the outbox only grows."""

    def __enter__(self):
        assert not self.in_transaction, "transactions do not nest"
        db = self.db
        self._saved = ({key: dict(row) for key, row in db.requests.items()}, dict(db.proposals), len(db.outbox),
                       {key: dict(doc) for key, doc in db.proposal_docs.items()}, dict(db.usage))
        self.in_transaction = True
        return self

    def __exit__(self, *exc_info):
        if self.in_transaction:  # not committed: roll back
            db = self.db
            db.requests, db.proposals, outbox_length, db.proposal_docs, db.usage = self._saved
            del db.outbox[outbox_length:]
        self.in_transaction = False


class Clock:
    """Stands for `datetime` in vitawin_matching.handlers, which dates a proposal (and its answer
    deadline) with datetime.now(timezone.utc): the world's clock instead."""
    current = START

    @classmethod
    def now(cls, tz=None):
        return cls.current if tz is None else cls.current.astimezone(tz)


@contextmanager
def injected_clock():
    """The world's clock in handlers, MATCHING_ANSWER_DAYS, and the matching loggers at WARNING
    (thousands of "proposal created" per test would bury a failure's report)."""
    logger = logging.getLogger("vitawin_matching")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with mock.patch.object(handlers, "datetime", Clock), \
                mock.patch.dict(os.environ, {"MATCHING_ANSWER_DAYS": str(ANSWER_DAYS)}):
            yield
    finally:
        logger.setLevel(level)


class World:
    """Matching's state and how one input reaches it: an event through the worker's dispatch table,
    an answer through the API's use case, an expiry round through the timer's, a tick of the
    clock, a catch-up of the index."""

    def __init__(self, k: int, use_index: bool):
        self.db = FakeDatabase()
        self.uow = QuickUnitOfWork(self.db)
        self.k = k
        self.clock = START
        self.follower = None
        if use_index:
            self.follower = IndexFollower(VolunteerIndex(), self.uow.volunteers, margin_s=0.0)
            self.follower.load()
        self.search = Search(index=self.follower.index if self.follower else None, today=self.today,
                             fresh_since=self.follower.fresh_since if self.follower else (lambda: None))
        self.handlers = bootstrap.event_handlers(lambda handler: handler)
        self.batch_handlers = bootstrap.batch_handlers(lambda handler: handler)

    def today(self):
        return self.clock.astimezone(PARIS).date()

    def offer_of(self, doc):
        """bootstrap.offer_of over the fake read model."""
        volunteer = self.db.volunteers.get(doc["volunteer_id"])
        return None if volunteer is None else volunteer.offer(doc["action_type"])

    def apply(self, item) -> list[Event]:
        """Apply one input; the events it published."""
        before = len(self.db.outbox)
        Clock.current = self.clock
        kind = item[0]
        if kind == "event":
            event = item[1]
            if event.type in self.batch_handlers and zlib.crc32(event.id.encode()) % 2:
                # half of the new requests through the worker's batch handler (a batch of one here:
                # batches of several are tests/unit/matching/test_request_batches.py's)
                self.batch_handlers[event.type]([event], self.uow, k=self.k, search=self.search)
            else:
                self.handlers[event.type](event, self.uow, k=self.k, search=self.search)
        elif kind == "answer":
            _, proposal_id, side, accept = item
            try:
                answers.answer(self.uow, proposal_id, side, accept, now=self.clock, offer_of=self.offer_of)
            except (ProposalConflict, answers.ProposalNotFound):  # the API's 409 (CapacityReached included)
                pass  # or 404 (a replay with the other search may not have made the proposal): nothing written
        elif kind == "expire":
            answers.expire_due(self.uow, self.clock)
        elif kind == "clock":
            self.clock = item[1]
        elif kind == "catch_up":
            if self.follower:
                self.follower.catch_up()
        else:
            raise ValueError(kind)
        return [event for event, _ in self.db.outbox[before:]]


def replay(inputs, k: int, use_index: bool) -> World:
    world = World(k, use_index)
    for item in inputs:
        world.apply(item)
    return world


def snapshot(db: FakeDatabase):
    """Everything matching stores (volunteer_changes aside: a time, which a repeat may refresh)."""
    return (dict(db.volunteers), {key: dict(row) for key, row in db.requests.items()}, dict(db.proposals),
            {key: dict(doc) for key, doc in db.proposal_docs.items()}, dict(db.usage),
            [(e.id, e.type, e.subject, e.data) for e, _ in db.outbox])


def outcome(db: FakeDatabase):
    """snapshot() without the CloudEvent ids that are not derived (those of the answers)."""
    *state, outbox = snapshot(db)
    return (*state, [(i if t == handlers.PROPOSAL_CREATED else None, t, s, d) for i, t, s, d in outbox])


# --- the model: what the other services hold, and the ledger of the proposals -----------------------
class Broken(AssertionError):
    """A property does not hold (the message says which, where, and the inputs up to there)."""


class Run:
    """Plays a scenario: the actors and requests services' side (their state, the events they
    emit), the worker's and the API's side (World), and the ledger of the proposals read from the
    outbox, against which the properties are checked."""

    def __init__(self, scenario: Scenario, checks=(), validate=False):
        self.scenario, self.checks, self.validate = scenario, set(checks), validate
        self.world = World(scenario.k, scenario.index)
        self.vols: dict[str, dict] = {}  # vid -> {"data", "version", "withdrawn"}
        self.reqs: dict[str, dict] = {}  # rid -> {"data", "status", "version", "hidden", "accepted"}
        self.props: dict[str, dict] = {}  # pid -> the ledger's line
        self.queue: list[tuple[str, Event]] = []  # ("matching" | "requests", event) waiting for delivery
        self.delivered: list[Event] = []  # every event matching received (for redeliveries)
        self.inputs: list[tuple] = []  # every input, for a replay
        self.step_inputs: list[tuple] = []
        self.log: list[tuple[tuple, bool]] = []  # every input and whether it was a repeat, for the trace
        self.violations: dict[str, list[str]] = defaultdict(list)
        self.start_week = rules.iso_week(self.world.today())

    # -- playing ------------------------------------------------------------------------------------
    def play(self, *properties, report: bool = True) -> "Run":
        """Play every step; after each, raise if one of `properties` was broken. `report`: tell
        hypothesis how busy the world was (--hypothesis-show-statistics)."""
        report = report and currently_in_test_context()
        for number, step in enumerate(self.scenario.steps, 1):
            self.step_inputs = []
            getattr(self, "step_" + step[0])(*step[1:])
            if not self.scenario.deferred:
                self.flush()
            self.after_step()
            broken = [line for name in properties for line in self.violations.get(name, ())]
            if broken:
                if report:
                    tally(f"broken: {', '.join(name for name in properties if self.violations.get(name))}")
                raise Broken(f"after step {number} of {len(self.scenario.steps)} ({step[0]}):\n  "
                             + "\n  ".join(broken) + "\ninputs:\n" + self.trace())
        if report:
            accepted = sum(p["status"] == "accepted" for p in self.props.values())
            freed = sum(p["status"] in ("declined", "expired") for p in self.props.values())
            tally(f"proposals made: {bucket(len(self.props))}")
            tally(f"accepted: {bucket(accepted)}")
            tally(f"declined or expired: {bucket(freed)}")
        return self

    def apply(self, item, again: bool = False) -> None:
        """Apply one input (`again`: a repeat of this step's inputs, for the duplicate check, which
        the trace shows but a replay leaves out)."""
        self.log.append((item, again))
        if not again:
            self.inputs.append(item)
            self.step_inputs.append(item)
        for event in self.world.apply(item):
            self.absorb(event)

    def emit(self, event: Event) -> None:
        """An event of the actors or requests service, delivered (and checked against its contract
        when `validate`: test_the_scenarios_emit_events_that_satisfy_their_contracts)."""
        if self.validate:
            self.world.uow.contracts.validate(event.type, event.data)
        self.deliver(event)

    def deliver(self, event: Event, late: bool = False) -> None:
        if not late:
            self.delivered.append(event)
        self.apply(("event", event))
        if event.type in FREED and "freed" in self.checks:
            self.check_freed(event.data["request_id"])

    def flush(self) -> None:
        while self.queue:
            target, event = self.queue.pop(0)
            if target == "matching":
                self.deliver(event)
            else:
                self.requests_service_accepts(event)

    def after_step(self) -> None:
        if "complete" in self.checks and not self.queue and rules.iso_week(self.world.today()) == self.start_week:
            for rid in sorted(self.reqs):
                missed = self.missed(rid)
                if missed:
                    self.violate("complete", f"{rid} ({self.summary(rid)}) has a free slot and eligible volunteers "
                                             f"never proposed: {', '.join(missed)}")
        if "duplicate" in self.checks and self.step_inputs:
            before = snapshot(self.world.db)
            for item in self.step_inputs:
                self.apply(item, again=True)
            if snapshot(self.world.db) != before:
                self.violate("duplicate", "applying this step's inputs again changed the state: "
                                          + difference(before, snapshot(self.world.db)))

    # -- the steps: what the actors and requests services emit --------------------------------------
    def step_register(self, vi, data):
        vid = f"vol-{vi}"
        pledge = self.vols.get(vid)
        if pledge is None:
            data = {**data, "version": 1} if "actions" in data else data
            self.vols[vid] = {"data": data, "version": 1, "withdrawn": False}
            self.emit(new_event(VOLUNTEER_REGISTERED, ACTORS, vid, data))
        elif "actions" in data:
            self.step_update_volunteer(vi, data, "active")

    def step_update_volunteer(self, vi, data, status):
        vid = f"vol-{vi}"
        pledge = self.vols.get(vid)
        if pledge is None:
            return self.step_register(vi, data)
        if pledge["withdrawn"]:
            return  # final
        pledge["version"] += 1
        pledge["data"] = {**data, "status": status, "version": pledge["version"]}
        self.emit(new_event(VOLUNTEER_UPDATED, ACTORS, vid, pledge["data"]))

    def step_withdraw(self, vi):
        vid = f"vol-{vi}"
        pledge = self.vols.get(vid)
        if pledge is None or pledge["withdrawn"]:
            return
        pledge["version"] += 1
        pledge["withdrawn"] = True
        self.emit(new_event(VOLUNTEER_WITHDRAWN, ACTORS, vid, {"volunteer_id": vid, "withdrawn_at": self.at(),
                                                               "version": pledge["version"]}))

    def step_create(self, ri, data):
        rid = f"req-{ri}"
        if rid in self.reqs:
            return self.step_update_request(ri, data)
        data = {**data, "status": "open", "version": 1, "accepted_count": 0}
        self.reqs[rid] = {"data": data, "status": "open", "version": 1, "hidden": False, "accepted": []}
        self.emit(new_event(REQUEST_CREATED, REQUESTS, rid, data))

    def step_update_request(self, ri, data):
        rid = f"req-{ri}"
        request = self.reqs.get(rid)
        if request is None:
            return self.step_create(ri, data)
        if request["status"] not in ACTIVE:
            return  # the requests service refuses to edit a closed request
        accepted = len(request["accepted"])
        if accepted and data["professionals_wanted"] <= accepted:  # requests.domain.wanted_error
            data = {**data, "professionals_wanted": accepted + 1}
            if "pupils" in data:
                data["pupils"] = accepted + 1
        request["version"] += 1
        request["data"] = {**data, "status": request["status"], "version": request["version"],
                           "accepted_count": accepted}
        self.emit(new_event(REQUEST_UPDATED, REQUESTS, rid, request["data"]))

    def step_close(self, ri, status):
        rid = f"req-{ri}"
        request = self.reqs.get(rid)
        if request is None or request["status"] not in ACTIVE:
            return
        request["version"] += 1
        request["status"] = status
        if status == "cancelled":
            self.emit(new_event(REQUEST_CANCELLED, REQUESTS, rid, {"request_id": rid, "version": request["version"],
                                                                   "cancelled_at": self.at()}))
        else:
            self.emit(new_event(REQUEST_EXPIRED, REQUESTS, rid, {"request_id": rid, "version": request["version"],
                                                                 "at": self.at()}))

    def step_hide(self, ri):
        self.moderate(f"req-{ri}", True)

    def step_unhide(self, ri):
        self.moderate(f"req-{ri}", False)

    def moderate(self, rid, hidden):
        request = self.reqs.get(rid)
        if request is None or request["hidden"] == hidden:
            return
        request["version"] += 1
        request["hidden"] = hidden
        data = {"request_id": rid, "version": request["version"], "status": request["status"], "at": self.at()}
        if hidden:
            data.update(hidden_by_role="territory_manager", reason="Demande en double.")
        else:
            data["unhidden_by_role"] = "territory_manager"
        self.emit(new_event(REQUEST_HIDDEN if hidden else REQUEST_UNHIDDEN, REQUESTS, rid, data))

    def requests_service_accepts(self, accepted: Event) -> None:
        """vitawin_requests: a proposal accepted makes the request partly_matched, then fulfilled
        (once per proposal; a closed request ignores it)."""
        rid, pid = accepted.data["request_id"], accepted.data["proposal_id"]
        request = self.reqs[rid]
        if request["status"] not in ACTIVE or pid in request["accepted"]:
            return
        request["accepted"].append(pid)
        request["version"] += 1
        if len(request["accepted"]) >= request["data"]["professionals_wanted"]:
            request["status"] = "fulfilled"
            self.emit(new_event(REQUEST_FULFILLED, REQUESTS, rid, {
                "request_id": rid, "version": request["version"], "at": self.at(),
                "accepted_proposal_ids": list(request["accepted"])}))
        else:
            request["status"] = "partly_matched"
            request["data"] = {**request["data"], "status": "partly_matched", "version": request["version"],
                               "accepted_count": len(request["accepted"])}
            self.emit(new_event(REQUEST_UPDATED, REQUESTS, rid, request["data"]))

    # -- the steps: the API, the timer, the broker, the index ----------------------------------------
    def step_answer(self, pick, side, accept):
        docs = self.world.db.proposal_docs
        answerable = sorted(pid for pid, doc in docs.items() if doc["state"].status in ANSWERABLE)
        if answerable:
            self.apply(("answer", answerable[pick % len(answerable)], side, accept))

    def step_advance(self, hours):
        self.apply(("clock", self.world.clock + timedelta(hours=hours)))

    def step_expire(self):
        self.apply(("expire",))

    def step_flush(self):
        self.flush()

    def step_catch_up(self):
        self.apply(("catch_up",))

    def step_redeliver(self, pick):
        if not self.delivered:
            return
        event = self.delivered[pick % len(self.delivered)]
        if "stale" in self.checks and self.is_stale(event):
            before = snapshot(self.world.db)
            self.deliver(event, late=True)
            if snapshot(self.world.db) != before:
                self.violate("stale", f"a late redelivery of {describe_event(event)} (no longer the latest state) "
                                      "changed the state: " + difference(before, snapshot(self.world.db)))
        else:
            self.deliver(event, late=True)

    def is_stale(self, event: Event) -> bool:
        """Whether the event no longer carries its entity's latest state (or carries it, but
        starts no search: a closing, hiding or withdrawal event)."""
        version = int(event.data.get("version", 1))
        if event.type.startswith("fr.vitawin.volunteer."):
            pledge = self.vols[event.subject]
            return pledge["withdrawn"] or version < pledge["version"]
        if event.type.startswith("fr.vitawin.request."):
            request = self.reqs[event.subject]
            return version < request["version"] or (
                version == request["version"]
                and event.type in (REQUEST_CANCELLED, REQUEST_EXPIRED, REQUEST_FULFILLED, REQUEST_HIDDEN))
        return False  # matching's own decline and expiry events: the request's search runs again

    # -- the ledger and the properties ------------------------------------------------------------
    def absorb(self, event: Event) -> None:
        if event.type == handlers.PROPOSAL_CREATED:
            self.proposal_made(event)
        elif event.type == PROPOSAL_ACCEPTED:
            self.proposal_accepted(event)
            self.queue.append(("requests", event))
        elif event.type in FREED:
            status = "declined" if event.type == PROPOSAL_DECLINED else "expired"
            self.props[event.data["proposal_id"]]["status"] = status
            self.queue.append(("matching", event))

    def proposal_made(self, event: Event) -> None:
        data = event.data
        pid, rid, vid, action = data["proposal_id"], data["request_id"], data["volunteer_id"], data["action_type"]
        today = self.world.today()
        what = f"proposal ({rid}, {vid})"
        if pid in self.props:
            self.violate("unique_pair", f"{what} made a second time")
        if pid != domain.proposal_id(rid, vid) or event.id != domain.proposal_event_id(pid) or event.subject != pid:
            self.violate("unique_pair", f"{what}: id {pid} or event id {event.id} not derived from the pair")
        request, volunteer = self.request_now(rid), self.volunteer_now(vid)
        if request is None or volunteer is None or action != request.action_type:
            self.violate("hard_rules", f"{what} for {action}: unknown request or volunteer, or another action")
            return
        usage = self.usage(rid, vid, action, today)
        broken = rules.check(request, volunteer, usage, today, extra=self.scenario.k - 1)
        if broken:
            self.violate("hard_rules", f"{what} made on {today} though "
                         + "; ".join(f"{b.rule}: {b.reason}" for b in broken)
                         + f" (request {self.summary(rid)}; pledge {self.pledge_summary(vid)})")
        if not request.is_open or request.hidden:
            self.violate("request_open", f"{what} made while the request was {request.status}"
                                         + (", hidden" if request.hidden else ""))
        offer = volunteer.offer(action)
        made = usage.proposed_in_week_of(today)
        if offer is not None and made >= offer.weekly_contact_cap:
            self.violate("weekly_cap", f"{what}: proposal {made + 1} to {vid} for {action} in {rules.iso_week(today)}, "
                                       f"weekly contact cap {offer.weekly_contact_cap}")
        self.props[pid] = {"request_id": rid, "volunteer_id": vid, "action": action,
                           "week": rules.iso_week(today), "period": tuple(request.period), "status": "pending"}

    def proposal_accepted(self, event: Event) -> None:
        pid = event.data["proposal_id"]
        line = self.props[pid]
        line["status"] = "accepted"
        rid, vid, action = line["request_id"], line["volunteer_id"], line["action"]
        request = self.request_now(rid)
        line["placed_period"] = tuple(request.period)
        accepted = sum(1 for p in self.props.values() if p["request_id"] == rid and p["status"] == "accepted")
        if accepted > (request.professionals_wanted or 1):
            self.violate("wanted", f"acceptance of ({rid}, {vid}) is acceptance number {accepted} of {rid}, "
                                   f"which wants {request.professionals_wanted} professional(s) "
                                   f"(request {request.status}, accepted: "
                                   + ", ".join(p["volunteer_id"] for p in self.props.values()
                                               if p["request_id"] == rid and p["status"] == "accepted") + ")")
        offer = Volunteer.from_event(self.vols[vid]["data"]).offer(action)  # the last pledge, even withdrawn
        if offer is not None:
            # An intern is hosted in the request's weeks as they are when the placement is made
            # (a request's period may move after the proposal): capacity is counted there.
            self.check_capacity("capacity", line, offer, "placed_period")

    def check_capacity(self, name, line, offer, weeks_of) -> None:
        vid, action = line["volunteer_id"], line["action"]
        placed = [p for p in self.props.values()
                  if p["volunteer_id"] == vid and p["action"] == action and p["status"] == "accepted"]
        if action == "internship":
            for week in line[weeks_of]:
                taken = [p["request_id"] for p in placed if week in p[weeks_of]]
                if len(taken) > offer.capacity_per_period:
                    counted = "proposed for" if weeks_of == "period" else "of the requests at acceptance"
                    self.violate(name, f"{vid} hosts {len(taken)} interns in {week} ({', '.join(taken)}; weeks "
                                       f"{counted}), capacity_per_period {offer.capacity_per_period}")
        elif offer.capacity is not None and len(placed) > offer.capacity:
            self.violate(name, f"{vid} has {len(placed)} {action} placements, capacity {offer.capacity}")

    def usage(self, rid, vid, action, today) -> rules.Usage:
        """rules.Usage from the ledger: placements accepted (internship: in the weeks of the
        request when each was accepted), proposals of today's ISO week, the request's outstanding proposals."""
        week = rules.iso_week(today)
        by_week, total, proposed, outstanding = Counter(), 0, 0, 0
        for p in self.props.values():
            if p["volunteer_id"] == vid and p["action"] == action:
                if p["status"] == "accepted":
                    total += 1
                    by_week.update(p["placed_period"])
                proposed += p["week"] == week
            outstanding += p["request_id"] == rid and p["status"] in ("pending", "accepted")
        return rules.Usage(accepted_by_week=dict(by_week), accepted_total=total, proposed_by_week={week: proposed},
                           request_outstanding=outstanding)

    def request_now(self, rid) -> Request | None:
        request = self.reqs.get(rid)
        if request is None:
            return None
        state = Request.from_event({**request["data"], "status": request["status"], "version": request["version"]})
        return replace(state, hidden=request["hidden"])

    def volunteer_now(self, vid) -> Volunteer | None:
        pledge = self.vols.get(vid)
        if pledge is None:
            return None
        volunteer = Volunteer.from_event(pledge["data"])
        return replace(volunteer, status=WITHDRAWN) if pledge["withdrawn"] else volunteer

    def missed(self, rid) -> list[str]:
        """The volunteers never proposed to `rid` that rules.check accepts for it now."""
        request, today = self.request_now(rid), self.world.today()
        found = []
        for vid in sorted(self.vols):
            if domain.proposal_id(rid, vid) in self.props:
                continue
            usage = self.usage(rid, vid, request.action_type, today)
            if not rules.check(request, self.volunteer_now(vid), usage, today, extra=self.scenario.k - 1):
                found.append(f"{vid} ({self.pledge_summary(vid)})")
        return found

    def check_freed(self, rid) -> None:
        missed = self.missed(rid)
        if currently_in_test_context():
            tally("freed slot: " + ("candidate left (violation)" if missed else "no eligible candidate left"))
        if missed:
            outstanding = self.usage(rid, "-", "-", self.world.today()).request_outstanding
            slots = self.request_now(rid).slots(self.scenario.k - 1)
            self.violate("freed", f"the worker handled a freed slot of {rid} ({self.summary(rid)}; {outstanding} "
                                  f"outstanding of {slots} slots), yet never proposed it to: {', '.join(missed)}")

    def violate(self, name, text) -> None:
        self.violations[name].append(text)

    # -- words for the failures -------------------------------------------------------------------
    def at(self) -> str:
        return self.world.clock.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def summary(self, rid) -> str:
        request = self.reqs[rid]
        return (f"{request['status']}{', hidden' if request['hidden'] else ''}, v{request['version']}, "
                + describe_request(request["data"]))

    def pledge_summary(self, vid) -> str:
        pledge = self.vols[vid]
        return ("withdrawn, " if pledge["withdrawn"] else "") + describe_pledge(pledge["data"])

    def trace(self) -> str:
        pairs = {pid: f"({p['request_id']}, {p['volunteer_id']})" for pid, p in self.props.items()}
        lines = [f"  world: {self.scenario.volunteers} volunteers, requests {list(self.scenario.kinds)}, "
                 f"k={self.scenario.k}, {'index' if self.scenario.index else 'read-model'} search, "
                 f"{'deferred' if self.scenario.deferred else 'immediate'} delivery of internal events"]
        for number, (item, again) in enumerate(self.log, 1):
            lines.append(f"  {number}. {'again: ' if again else ''}{describe_input(item, pairs)}")
        return "\n".join(lines)


def bucket(n: int) -> str:
    return "0" if n == 0 else "1-2" if n <= 2 else "3-9" if n <= 9 else "10+"


def difference(before, after) -> str:
    names = ("volunteers", "requests", "proposals", "proposal states", "usage counters", "outbox")
    changed = [name for name, a, b in zip(names, before, after) if a != b]
    extra = [f"{t} {s}" for _, t, s, _ in after[5][len(before[5]):]]
    return ", ".join(changed) + (f" (new events: {', '.join(extra)})" if extra else "")


def offset_km(location) -> str:
    north = (location["lat"] - CENTRE[0]) * 111.195
    east = (location["lon"] - CENTRE[1]) * 111.195 * math.cos(math.radians(CENTRE[0]))
    return f"({east:+.1f} E, {north:+.1f} N km)"


def describe_pledge(data) -> str:
    parts = [f"at {offset_km(data['location'])} limit {data['max_distance_km']} km"]
    if data.get("status", "active") != "active":
        parts.insert(0, data["status"])
    for action in data["action_types"]:
        settings_ = (data.get("actions") or {}).get(action)
        if settings_ is None:
            parts.append(f"{action}[defaults]")
            continue
        bits = [settings_["audience"], settings_["modality"], f"cap {settings_['weekly_contact_cap']}/week"]
        if "max_distance_km" in settings_:
            bits.append(f"limit {settings_['max_distance_km']} km")
        for key in ("capacity_per_period", "places", "levels", "periods", "diplomas", "dates"):
            if settings_.get(key):
                bits.append(f"{key} {settings_[key]}")
        if settings_.get("on_request"):
            bits.append("on request")
        parts.append(f"{action}[{', '.join(bits)}]")
    return " ".join(parts)


def describe_request(data) -> str:
    bits = [data["kind"], f"at {offset_km(data['location'])}", f"max {data['max_distance_km']} km",
            f"wanted {data['professionals_wanted']}", f"audience {data['audience']}"]
    for key in ("level", "period", "date", "diploma"):
        if key in data:
            bits.append(f"{key} {data[key]}")
    return ", ".join(bits)


def describe_event(event: Event) -> str:
    name = event.type.removeprefix("fr.vitawin.")
    data = event.data
    if event.type in (VOLUNTEER_REGISTERED, VOLUNTEER_UPDATED):
        return f"{name} {event.subject} v{data.get('version', 1)}: {describe_pledge(data)}"
    if event.type in (REQUEST_CREATED, REQUEST_UPDATED):
        return f"{name} {event.subject} v{data['version']} {data['status']}: {describe_request(data)}"
    if event.type.startswith("fr.vitawin.proposal."):
        return f"{name} ({data['request_id']}, {data['volunteer_id']})"
    return f"{name} {event.subject} v{data['version']}"


def describe_step(step) -> str:
    what, *args = step
    if what in ("register", "update_volunteer"):
        return f"{what} vol-{args[0]}: " + describe_pledge({**args[1], **({"status": args[2]} if args[2:] else {})})
    if what in ("create", "update_request"):
        return f"{what} req-{args[0]}: " + describe_request(args[1])
    if what in ("withdraw",):
        return f"{what} vol-{args[0]}"
    if what in ("close", "hide", "unhide"):
        return f"{what} req-{args[0]}" + (f" ({args[1]})" if args[1:] else "")
    return what + "".join(f" {arg}" for arg in args)


def describe_input(item, pairs) -> str:
    kind = item[0]
    if kind == "event":
        return "deliver " + describe_event(item[1])
    if kind == "answer":
        _, pid, side, accept = item
        who = "professional" if side == VOLUNTEER else "requester"
        return f"{who} {'accepts' if accept else 'declines'} {pairs.get(pid, pid)}"
    if kind == "clock":
        return f"clock -> {item[1].astimezone(PARIS):%a %Y-%m-%d %H:%M} Paris"
    return {"expire": "expiry round", "catch_up": "index catch-up"}[kind]


def broken(*properties):
    """A probe: the scenario played, the message of the first of `properties` broken, else None."""
    def probe(scenario: Scenario, report: bool = False) -> str | None:
        with injected_clock():
            try:
                Run(scenario, properties).play(*properties, report=report)
            except Broken as failure:
                return str(failure)
        return None
    return probe


def falsify(scenario: Scenario, probe) -> None:
    """Fail when probe(scenario) says a property is broken (or the service raises), with the
    smallest failing scenario found in MINIMISE_S seconds by dropping runs of steps (halves,
    quarters... single steps) and trying simpler settings."""
    def outcome(candidate, report=False):
        try:
            return probe(candidate, report), None
        except Exception as error:  # the service raised: the same kind of error is the failure
            return None, error
    message, error = outcome(scenario, report=True)
    if message is None and error is None:
        return
    try:
        final = current_build_context().is_final
    except Exception:  # noqa: BLE001 - outside hypothesis
        final = True
    smallest = scenario
    if final:  # hypothesis replays the failing example once more at the end: minimise then only
        def fails(candidate):
            message_, error_ = outcome(candidate)
            return type(error_) is type(error) if error is not None else message_ is not None
        deadline = time.monotonic() + MINIMISE_S
        size = max(1, len(smallest.steps) // 2)
        while time.monotonic() < deadline:  # drop runs of `size` steps, from the end; then smaller runs
            progress, start = False, len(smallest.steps) - size
            while start >= 0 and time.monotonic() < deadline:
                candidate = replace(smallest, steps=smallest.steps[:start] + smallest.steps[start + size:])
                if fails(candidate):
                    smallest, progress = candidate, True
                start = min(start, len(smallest.steps)) - size
            if not progress:
                if size == 1:
                    break
                size = max(1, size // 2)
        for change in ({"deferred": False}, {"index": False}, {"k": 3}):
            candidate = replace(smallest, **change)
            if candidate != smallest and fails(candidate):
                smallest = candidate
    if error is not None:
        probe(smallest)  # raises the service's error, from the smallest scenario
        raise error
    raise AssertionError(f"{probe(smallest)}\n(the smallest failing scenario found: {len(smallest.steps)} of the "
                         f"{len(scenario.steps)} steps drawn)")


def play(scenario: Scenario, *properties) -> None:
    falsify(scenario, broken(*properties))


# --- the properties ----------------------------------------------------------------------------------
@settings(SETTINGS, max_examples=800)
@given(scenarios())
def test_every_proposal_satisfied_the_hard_rules_when_it_was_made(scenario):
    """rules.check with the state and counters of the moment, an open request not hidden, the
    weekly contact cap, one proposal per pair with derived ids."""
    play(scenario, "hard_rules", "request_open", "weekly_cap", "unique_pair")


@SETTINGS
@given(scenarios())
def test_acceptances_never_exceed_the_capacity_of_the_offer(scenario):
    """Internship: interns in each week, at most capacity_per_period, counting each placement in
    the weeks of its request when it is accepted (where the intern goes: a request's period can
    be edited while its proposals wait); apprenticeship: at most places. The offer as it is at the
    acceptance."""
    play(scenario, "capacity")


@SETTINGS
@given(scenarios())
def test_acceptances_never_exceed_the_professionals_wanted(scenario):
    """The request's professionals_wanted as it is at each acceptance."""
    play(scenario, "wanted")


@SETTINGS
@given(scenarios())
def test_a_decline_or_an_expiry_gets_the_next_eligible_candidate_proposed(scenario):
    """Once the worker has handled the decline or the expiry, no eligible volunteer is left
    unproposed to the request (Run.check_freed)."""
    play(scenario, "freed")


@SETTINGS
@given(scenarios())
def test_within_a_week_no_eligible_pair_is_left_unproposed(scenario):
    """While the clock stays in the first ISO week and no event waits for delivery, every open
    request with a free slot has been proposed to every volunteer rules.check accepts for it."""
    play(scenario, "complete")


@settings(SETTINGS, max_examples=250)
@given(scenarios())
def test_replaying_the_inputs_gives_the_same_proposals_and_events(scenario):
    """On a fresh state, with the same search and with the other one (index / read model)."""
    falsify(scenario, replay_differs)


def replay_differs(scenario: Scenario, report: bool = False) -> str | None:
    with injected_clock():
        run = Run(scenario).play(report=report)
        first = outcome(run.world.db)
        again = outcome(replay(run.inputs, scenario.k, scenario.index).db)
        other = outcome(replay(run.inputs, scenario.k, not scenario.index).db)
    if again != first:
        return "replay differs: " + difference(first, again) + "\ninputs:\n" + run.trace()
    if other != first:
        return (f"replay with{'out' if scenario.index else ''} the index differs: " + difference(first, other)
                + "\ninputs:\n" + run.trace())
    return None


@SETTINGS
@given(scenarios())
def test_a_redelivered_event_changes_nothing(scenario):
    """Each step's inputs (events, answers, expiry round) applied again right after it; and an
    event delivered again later when it no longer carries its entity's latest state."""
    play(scenario, "duplicate", "stale")


@settings(SETTINGS, max_examples=30)
@given(scenarios())
def test_the_scenarios_emit_events_that_satisfy_their_contracts(scenario):
    """The inputs of the tests above are events the actors and requests services could publish
    (each one checked against its contract; the other tests skip that check, which is slow)."""
    with injected_clock():
        Run(scenario, validate=True).play()
