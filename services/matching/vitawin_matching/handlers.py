"""Service layer: what matching does with each event it reads.

Why a request and a volunteer that arrive at the same time still meet: each handler first STORES
its entity in the read model (a write committed on its own, before any search) and only then
SEARCHES the other side. With two workers, one handling request R and one handling volunteer V,
the store that commits second is followed by a search that sees the other one's committed store,
so at least one of the two searches finds the pair. Both may find it: the proposal id is derived
from the pair and the insert is keyed on it, so the second attempt hits a duplicate key and makes
nothing. (Searching inside the same transaction as the store would break this: two snapshot
transactions could each miss the other's uncommitted entity.)

Why a redelivered event (say, after a crash before the offset commit) has no second effect:
- the read-model store only inserts (first write wins), so a replay changes nothing;
- each proposal and its outbox entry are written in ONE transaction keyed on the derived proposal
  id: one that exists is skipped, and so is its event;
- the k slots of a request are a counter taken inside that same transaction, so a replay, or a
  volunteer handled at the same time on another worker, can never push a request past k nor
  give two proposals the same rank;
- a request's search writes all its proposals in one such transaction (`propose_together`); if
  one of them exists by then, or another worker capped one of its volunteers, the server aborts
  the whole transaction and the search proposes the same candidates one transaction each.
An event applied half-way before a crash is finished by its replay: the proposals already made
are skipped, the missing ones are made, with the same ids and CloudEvent ids.

A volunteer's pledge changes (fr.vitawin.volunteer.updated.v1) and may be withdrawn
(fr.vitawin.volunteer.withdrawn.v1). Each of its events carries the pledge's version, and the
read model keeps the newest state only: an update replaces the stored volunteer only if its
version is newer (a stale or repeated one changes nothing), and a withdrawal is final (no later
event brings the volunteer back, and it holds even if it arrives before the volunteer). Only an
active volunteer is a candidate, so a paused or withdrawn one is proposed to no new request;
proposals already made stay as they are. A handler searches only when the read model holds the
very state of its event (`add` and `replace` say so), which is what lets a replay finish its
searches, and keeps an old registered event replayed after a withdrawal from proposing anyone.

A request has a lifecycle too (fr.vitawin.request.created.v1/v2, then fr.vitawin.request.updated.v1
with the whole new state, and fr.vitawin.request.cancelled.v1 / fulfilled.v1 / expired.v1), each
event with the request's version; they come in order per request (Kafka key = request id), but a
redelivery can replay any of them. The newest version wins: an update replaces the stored request
only if its version is newer, a closing event applies only if its version is not older than the
stored one, and a replay changes nothing. The read model says "open" (the requester's status is
open or partly_matched) or "closed" (fulfilled, cancelled, expired); only an open request gets
proposals (`take_slot` takes a slot of an open request only, inside the proposal's transaction),
and the proposals already made stay. A closing event that comes before the request leaves a
closed placeholder that the late created event does not reopen (only a newer update can). As for
volunteers, a request handler searches only when the read model holds its very state, open.
Closing is not final here, unlike a withdrawal: if the requests service ever reopens a request
(say fulfilled, then partly_matched because a professional dropped out), it does so with a newer
version, and that update wins.

A request may also be hidden by a moderator (fr.vitawin.request.hidden.v1) and shown again
(fr.vitawin.request.unhidden.v1), each with the request's new version. Hidden, it gets no new
proposal whatever its status: the read model keeps a `hidden` flag beside `status`, and a request
is a candidate (`open_candidates`, `take_slot`, and the "holds" answers that start a search) only
when it is open and not hidden. The flag is moderation's own: an update of the request's state
(newer version) leaves it as it is, so a hidden request edited or partly matched meanwhile stays
hidden. A moderation event applies unless a newer version is stored (a replay changes nothing);
one that comes before the request leaves a closed placeholder, as a closing event does. Shown
again, the request is searched again if it is open (its status still open or partly_matched): a
replay of the unhidden event finishes that search. Proposals made before the hiding stay."""
from __future__ import annotations

import logging
import os
from datetime import date, datetime, timezone
from typing import Iterable, Protocol

from vitawin_common import correlation
from vitawin_common.events import Event, new_event

from vitawin_matching import domain
from vitawin_matching.domain import Match, Proposal, Request, Volunteer
from vitawin_matching.ranking import Ranked
from vitawin_matching.rules import iso_week
from vitawin_matching.search import DEFAULT_SEARCH, Candidate, Search, candidates_for, requests_for
from vitawin_matching.workflow import DEFAULT_ANSWER_DAYS, ProposalState

log = logging.getLogger(__name__)

PROPOSAL_CREATED = "fr.vitawin.proposal.created.v1"
SOURCE = "/vitawin/matching"
PROPOSALS_CHANNEL = "proposals"


class ProposalExists(Exception):
    """The pair was already proposed (by an earlier delivery or by another worker)."""


class ConcurrentAnswer(Exception):
    """The proposal changed between its read and the write of an answer (another answer, or the
    expiry): the caller tries again or reports a conflict."""


# --- ports -------------------------------------------------------------------------------------
# `candidates` and `open_candidates` pre-filter on the bounding box; the exact test is domain.match.
class Volunteers(Protocol):
    # add: insert if absent (a repeat changes nothing). add and replace return whether the read
    # model now holds this very state (this version, not withdrawn).
    def add(self, volunteer: Volunteer) -> bool: ...
    def replace(self, volunteer: Volunteer) -> bool: ...  # only over an older version, never a withdrawn one
    def withdraw(self, volunteer_id: str, version: int) -> None: ...  # final; idempotent
    def candidates(self, action_type: str, box: domain.BoundingBox) -> Iterable[Volunteer]: ...  # active only


class Requests(Protocol):
    # add: insert if absent, with no slot taken (a repeat changes nothing). add and replace return
    # whether the read model now holds this very state (this version) and it is open.
    def add(self, request: Request) -> bool: ...
    def add_many(self, requests: list[Request]) -> set[str]: ...  # `add` of each: the ids held open
    def replace(self, request: Request) -> bool: ...  # only over an older version; slots kept
    def close(self, request_id: str, request_status: str, version: int) -> None: ...  # unless newer stored
    def hide(self, request_id: str, version: int) -> None: ...  # unless newer stored; no candidate while hidden
    # unhide: unless newer stored; the stored request when it is now open, not hidden, at this version
    def unhide(self, request_id: str, version: int) -> Request | None: ...
    def open_candidates(self, action_types: Iterable[str], box: domain.BoundingBox,
                        k: int) -> Iterable[Request]: ...  # open, not hidden, not all slots taken (slots(extra=k - 1))
    def take_slot(self, request_id: str, slots: int) -> int | None: ...  # new rank, or None when full or hidden
    # take_slots: for each (request_id, slots, wanted), up to `wanted` slots: {request_id: their
    # ranks} (empty when full, closed or hidden), or None when a request's counters moved
    # meanwhile (a conflict: nothing taken)
    def take_slots(self, wants: list[tuple[str, int, int]]) -> dict[str, range] | None: ...
    def take_place(self, request_id: str, wanted: int) -> bool: ...  # an acceptance; False when complete or closed


class Proposals(Protocol):
    def get(self, proposal_id: str) -> Proposal | None: ...
    def add(self, proposal: Proposal) -> None: ...  # raises ProposalExists
    def add_many(self, items: list) -> None: ...  # (proposal, state, context) each; all or none: ProposalExists
    def existing(self, proposal_ids: Iterable[str]) -> set[str]: ...


class UnitOfWork(Protocol):
    """`with uow:` opens a transaction; only `commit()` makes its writes durable, leaving the block
    without it (or with an error) rolls them back."""
    volunteers: Volunteers
    requests: Requests
    proposals: Proposals

    def __enter__(self) -> "UnitOfWork": ...
    def __exit__(self, *exc_info) -> None: ...
    def publish(self, event: Event, channel: str) -> None: ...  # only inside `with uow:`
    def publish_many(self, events: list[Event], channel: str) -> None: ...  # only inside `with uow:`
    def commit(self) -> None: ...


# --- handlers ----------------------------------------------------------------------------------
def on_volunteer_registered(event: Event, uow: UnitOfWork, k: int = domain.DEFAULT_TOP_K, search: Search | None = None) -> None:
    volunteer = domain.Volunteer.from_event(event.data)
    if uow.volunteers.add(volunteer):  # store first, then search: see the module docstring
        propose_to_open_requests(uow, volunteer, k, search)


def on_volunteer_updated(event: Event, uow: UnitOfWork, k: int = domain.DEFAULT_TOP_K, search: Search | None = None) -> None:
    """The new state replaces the stored one if its version is newer. Still active, the volunteer
    may now suit open requests it did not (another place, another action, resumed...)."""
    volunteer = domain.Volunteer.from_event(event.data)
    if not uow.volunteers.replace(volunteer):
        log.info("volunteer update not newer than the stored state: dropped",
                 extra={"volunteer_id": volunteer.volunteer_id, "version": volunteer.version})
        return
    log.info("volunteer updated", extra={"volunteer_id": volunteer.volunteer_id, "version": volunteer.version,
                                         "status": volunteer.status})
    propose_to_open_requests(uow, volunteer, k, search)


def on_volunteer_withdrawn(event: Event, uow: UnitOfWork, k: int = domain.DEFAULT_TOP_K, search: Search | None = None) -> None:
    """Never a candidate again. Proposals already made stay (their workflow is not matching's)."""
    uow.volunteers.withdraw(event.data["volunteer_id"], int(event.data["version"]))
    log.info("volunteer withdrawn", extra={"volunteer_id": event.data["volunteer_id"]})


def propose_to_open_requests(uow: UnitOfWork, volunteer: Volunteer, k: int, search: Search | None = None) -> None:
    """A new or changed pledge: propose it to the open requests it can serve, best first, until
    the weekly contact cap of each action stops that action (the others go on)."""
    capped: set[str] = set()
    for candidate in requests_for(uow, volunteer, k, search or DEFAULT_SEARCH):
        action = candidate.request.action_type
        if action in capped:
            continue
        if propose(uow, candidate, k, (search or DEFAULT_SEARCH).today()) == "capped":
            capped.add(action)


REQUEST_CLOSING_EVENTS = {"fr.vitawin.request.cancelled.v1": "cancelled",
                          "fr.vitawin.request.fulfilled.v1": "fulfilled",
                          "fr.vitawin.request.expired.v1": "expired"}


def on_request_created(event: Event, uow: UnitOfWork, k: int = domain.DEFAULT_TOP_K, search: Search | None = None) -> None:
    """fr.vitawin.request.created.v1 or .v2: store the request, then search its volunteers."""
    request = domain.Request.from_event(event.data)
    if uow.requests.add(request):  # store first, then search: see the module docstring
        propose_volunteers(uow, request, k, search)
    else:
        log.info("request created but not held open: no search",
                 extra={"request_id": request.request_id, "version": request.version})


def on_request_updated(event: Event, uow: UnitOfWork, k: int = domain.DEFAULT_TOP_K, search: Search | None = None) -> None:
    """The new state replaces the stored one if its version is newer. Still open, the request may
    now suit volunteers it did not (another place, a longer distance, another action...)."""
    request = domain.Request.from_event(event.data)
    if not uow.requests.replace(request):
        log.info("request update not newer than the stored state, or request closed: no search",
                 extra={"request_id": request.request_id, "version": request.version,
                        "status": request.status})
        return
    log.info("request updated", extra={"request_id": request.request_id, "version": request.version,
                                       "status": request.status})
    propose_volunteers(uow, request, k, search)


def on_request_closed(event: Event, uow: UnitOfWork, k: int = domain.DEFAULT_TOP_K, search: Search | None = None) -> None:
    """fr.vitawin.request.cancelled.v1, fulfilled.v1 or expired.v1: no new proposal for the request.
    Proposals already made stay (their workflow is not matching's)."""
    request_status = REQUEST_CLOSING_EVENTS[event.type]
    uow.requests.close(event.data["request_id"], request_status, int(event.data["version"]))
    log.info("request closed", extra={"request_id": event.data["request_id"], "status": request_status,
                                      "version": int(event.data["version"])})


def on_request_hidden(event: Event, uow: UnitOfWork, k: int = domain.DEFAULT_TOP_K, search: Search | None = None) -> None:
    """fr.vitawin.request.hidden.v1: no new proposal for the request while it is hidden, whatever its
    status. Proposals already made stay."""
    request_id, version = event.data["request_id"], int(event.data["version"])
    uow.requests.hide(request_id, version)
    log.info("request hidden", extra={"request_id": request_id, "version": version})


def on_request_unhidden(event: Event, uow: UnitOfWork, k: int = domain.DEFAULT_TOP_K, search: Search | None = None) -> None:
    """fr.vitawin.request.unhidden.v1: a candidate again if its status is still open or
    partly_matched, and then searched again."""
    request_id, version = event.data["request_id"], int(event.data["version"])
    request = uow.requests.unhide(request_id, version)
    if request is None:
        log.info("request shown again but not held open: no search", extra={"request_id": request_id,
                                                                              "version": version})
        return
    log.info("request shown again", extra={"request_id": request_id, "version": version})
    propose_volunteers(uow, request, k, search)


def on_proposal_freed(event: Event, uow: UnitOfWork, k: int = domain.DEFAULT_TOP_K, search: Search | None = None) -> None:
    """fr.vitawin.proposal.declined.v1 or expired.v1 (matching's own): the answer gave the
    request's slot back, so the next candidate is proposed (the volunteers already proposed are
    skipped: their proposal ids exist). A replay finds the slot taken again and does nothing."""
    request = uow.requests.get(event.data["request_id"])
    if request is None:
        return
    log.info("proposal freed a slot: searching the next candidate",
             extra={"proposal_id": event.data["proposal_id"], "request_id": request.request_id})
    propose_volunteers(uow, request, k, search)


def on_requests_created(events: list[Event], uow: UnitOfWork, k: int = domain.DEFAULT_TOP_K,
                        search: Search | None = None) -> None:
    """Several fr.vitawin.request.created events at once (consecutive records of a partition, as
    the consumer loop batches them): the same effects as on_request_created for each, with the
    stores in one command, the searches one after the other, and all the proposals in ONE
    transaction (one per request after a conflict). The searches of a batch do not see each
    other's proposals in the counters they rank with (the weekly caps are still enforced, by the
    transaction): only the load-spread criterion may order candidates differently than one by one."""
    search = search or DEFAULT_SEARCH
    first: dict[str, tuple[Request, str | None]] = {}
    for event in events:  # a request twice in a batch (a replay): the second would make nothing
        request = domain.Request.from_event(event.data)
        first.setdefault(request.request_id, (request, event.correlation_id))
    held = uow.requests.add_many([request for request, _ in first.values()])  # store first, then search
    plans = []
    for request, correlation_id in first.values():
        if request.request_id not in held:
            log.info("request created but not held open: no search",
                     extra={"request_id": request.request_id, "version": request.version})
            continue
        plans.append((request, _fresh_candidates(uow, request, k, search), correlation_id))
    if propose_together(uow, plans, k, search.today()) is not None:
        return
    for request, _, correlation_id in plans:  # a conflict: request by request
        token = correlation.set(correlation_id)
        try:
            propose_volunteers(uow, request, k, search)
        finally:
            correlation.reset(token)


def propose_volunteers(uow: UnitOfWork, request: Request, k: int, search: Search | None = None) -> None:
    """Propose the best eligible volunteers to `request` until its slots are taken
    (professionals_wanted + k - 1 outstanding proposals; k for a request without that number):
    all together in one transaction, or, when that one meets a conflict, one by one."""
    search = search or DEFAULT_SEARCH
    today = search.today()
    fresh = _fresh_candidates(uow, request, k, search)
    if propose_together(uow, [(request, fresh, correlation.get())], k, today) is not None:
        return
    for candidate in fresh:  # a conflict: each pair in its own transaction, as a volunteer's search
        if propose(uow, candidate, k, today) == "full":
            break


def _fresh_candidates(uow: UnitOfWork, request: Request, k: int, search: Search) -> list[Candidate]:
    """The candidates of `request`, best first, without those already proposed to it."""
    found = candidates_for(uow, request, search, needed=request.slots(extra=k - 1))
    if not found:
        return []
    ids = [domain.proposal_id(request.request_id, c.volunteer.volunteer_id) for c in found]
    existing = uow.proposals.existing(ids)
    return [c for c, pid in zip(found, ids) if pid not in existing]


def propose_together(uow: UnitOfWork, plans: list[tuple[Request, list[Candidate], str | None]], k: int,
                     today: date) -> int | None:
    """For each (request, fresh candidates best first and none proposed yet, correlation id),
    propose the first candidates that the request's free slots allow, all in ONE transaction: the
    slots, each volunteer's weekly contact, the proposals and their events (with the correlation id
    of their request's event). The number made (0 when every request is full, closed or hidden),
    or None when nothing was written because of a conflict: a volunteer reached its weekly cap
    since the search read its counters, one of the pairs was proposed meanwhile, or a request's
    slots moved."""
    wanted = [(request.request_id, request.slots(extra=k - 1), len(fresh)) for request, fresh, _ in plans if fresh]
    if not wanted:
        return 0
    week = iso_week(today)
    with uow:
        ranks = uow.requests.take_slots(wanted)
        if ranks is None:
            return None
        chosen = [(found, rank, correlation_id) for request, fresh, correlation_id in plans if fresh
                  for found, rank in zip(fresh, ranks[request.request_id])]
        if not chosen:
            return 0
        takes = [(c.volunteer.volunteer_id, c.request.action_type, f"proposed:{week}",
                  c.volunteer.offer(c.request.action_type).weekly_contact_cap) for c, _, _ in chosen]
        if not uow.usage.take_many(takes, also="stats:received"):
            return None  # the transaction is lost: nothing written
        now = datetime.now(timezone.utc)
        items, events = [], []
        for found, rank, correlation_id in chosen:
            proposal, state = _new_proposal(found, rank, now)
            items.append((proposal, state, {"score": found.ranked.score, "reasons": list(found.ranked.reasons),
                                            **answer_context(found.as_match())}))
            token = correlation.set(correlation_id)
            try:
                events.append(proposal_event(proposal, found.as_match(), found.ranked, state.deadline))
            finally:
                correlation.reset(token)
        try:
            uow.proposals.add_many(items)
        except ProposalExists:
            return None  # the transaction is lost: nothing written
        uow.publish_many(events, PROPOSALS_CHANNEL)
        uow.commit()
    for (proposal, _, _), (found, rank, _) in zip(items, chosen):
        log.info("proposal created", extra={"proposal_id": proposal.proposal_id, "request_id": proposal.request_id,
                                            "volunteer_id": proposal.volunteer_id, "rank": rank,
                                            "score": round(found.ranked.score, 3)})
    return len(items)


def _new_proposal(found: Candidate, rank: int, now: datetime) -> tuple[Proposal, ProposalState]:
    request, volunteer = found.request, found.volunteer
    pid = domain.proposal_id(request.request_id, volunteer.volunteer_id)
    proposal = Proposal(proposal_id=pid, request_id=request.request_id, volunteer_id=volunteer.volunteer_id,
                        action_type=request.action_type, distance_km=round(found.distance_km, 1), rank=rank,
                        created_at=now)
    return proposal, ProposalState.new(pid, request.request_id, volunteer.volunteer_id, request.requester_kind, now,
                                       answer_days())


def propose(uow: UnitOfWork, found: Candidate, k: int, today: date) -> str:
    """Propose the pair once: "created", "exists", "full" (the request has all its slots taken)
    or "capped" (the volunteer reached its weekly contact cap for this action). The slot and the
    weekly contact are taken in the proposal's transaction: two workers can exceed neither."""
    request, volunteer = found.request, found.volunteer
    pid = domain.proposal_id(request.request_id, volunteer.volunteer_id)
    if uow.proposals.get(pid) is not None:
        return "exists"  # cheap check first; the keyed insert below is what guarantees it
    offer = volunteer.offer(request.action_type)
    try:
        with uow:
            rank = uow.requests.take_slot(request.request_id, request.slots(extra=k - 1))
            if rank is None:
                return "full"  # nothing written: leaving without commit() rolls back
            if not uow.usage.take(volunteer.volunteer_id, request.action_type, f"proposed:{iso_week(today)}",
                                  offer.weekly_contact_cap):
                return "capped"  # the transaction is lost: nothing written
            proposal, state = _new_proposal(found, rank, datetime.now(timezone.utc))
            # a duplicate aborts the transaction, slot included
            uow.proposals.add(proposal, state, score=found.ranked.score, reasons=list(found.ranked.reasons),
                              **answer_context(found.as_match()))
            uow.usage.add(volunteer.volunteer_id, request.action_type, "stats:received")
            uow.publish(proposal_event(proposal, found.as_match(), found.ranked, state.deadline), PROPOSALS_CHANNEL)
            uow.commit()
    except ProposalExists:
        return "exists"
    log.info("proposal created", extra={"proposal_id": pid, "request_id": proposal.request_id,
                                        "volunteer_id": proposal.volunteer_id, "rank": rank,
                                        "score": round(found.ranked.score, 3)})
    return "created"


def answer_days() -> int:
    """Days a professional has to answer a proposal (MATCHING_ANSWER_DAYS, 7 by default)."""
    return int(os.environ.get("MATCHING_ANSWER_DAYS", DEFAULT_ANSWER_DAYS))


def answer_context(found: Match) -> dict:
    """What the answers to a proposal need, stored with it: who may answer (the professional's
    organisation, the school) and what a placement takes (the weeks of an internship)."""
    request, volunteer = found.request, found.volunteer
    return {"requester_kind": request.requester_kind, "school_uai": request.school_uai,
            "volunteer_actor_id": volunteer.actor_id, "period": list(request.period)}


def proposal_event(proposal: Proposal, found: Match, ranked: Ranked | None = None,
                   deadline: datetime | None = None) -> Event:
    """The proposal's event: what notify needs to write to both parties (the professional's
    contact, the school's when the request has one, what is asked and when), never a pupil's."""
    request = found.request
    data = {
        "proposal_id": proposal.proposal_id,
        "request_id": proposal.request_id,
        "volunteer_id": proposal.volunteer_id,
        "action_type": proposal.action_type,
        "distance_km": proposal.distance_km,
        "rank": proposal.rank,
        "volunteer": {"organisation_name": found.volunteer.organisation_name,
                      "contact_email": found.volunteer.contact_email,
                      "town": found.volunteer.town},
        "request": {"requester_kind": request.requester_kind, "town": request.town},
    }
    if request.contact_email is not None:  # a pupil's request has none: the key is left out
        data["request"]["contact_email"] = request.contact_email
    # What is asked and when (optional: absent when the request did not say; absent from older events)
    extra = {"kind": request.kind, "school_uai": request.school_uai, "levels": list(request.levels) or None,
             "date": request.date.isoformat() if request.date else None, "period": list(request.period) or None,
             "start": request.start}
    data["request"].update({name: value for name, value in extra.items() if value is not None})
    if deadline is not None:
        data["deadline"] = deadline.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if ranked is not None:
        data["score"] = round(ranked.score, 4)
        data["reasons"] = list(ranked.reasons)
    return new_event(PROPOSAL_CREATED, SOURCE, proposal.proposal_id, data,
                     id=domain.proposal_event_id(proposal.proposal_id))
