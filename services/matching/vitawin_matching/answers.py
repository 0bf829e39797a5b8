"""Use cases of a proposal's answers (vitawin_matching.workflow says which answer does what):
answer(...) for the professional and the school's referent, expire_due(...) for the clock.

Each answer is ONE transaction: the proposal's new state (over the version read), what it does
to the counters and its event. An acceptance that makes a placement takes the professional's
capacity there and then (`usage.take` refuses past the limit, atomically, so two acceptances
at the same moment can never exceed it: the second gets CapacityReached, a French 409). A
decline or an expiry gives the request's slot back; the worker, reading the decline or expiry
event, then proposes the next candidate (handlers.on_proposal_freed)."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Callable

from vitawin_common.events import new_event

from vitawin_matching.handlers import PROPOSALS_CHANNEL, SOURCE, ConcurrentAnswer
from vitawin_matching.workflow import (PROPOSAL_ACCEPTED, PROPOSAL_DECLINED, PROPOSAL_EXPIRED, VOLUNTEER,
                                       ProposalConflict, ProposalState)

log = logging.getLogger(__name__)


class ProposalNotFound(Exception):
    pass


class CapacityReached(ProposalConflict):
    """The professional has no room left for this placement (French message)."""


class RequestComplete(ProposalConflict):
    """The request is closed or has all the professionals it asked for (French message)."""


def capacity_buckets(action_type: str, period: list[str] | tuple[str, ...], offer) -> list[tuple[str, int]]:
    """The (usage bucket, limit) pairs a placement of `action_type` takes from the offer: one per
    week of an internship's period (capacity_per_period), the total for apprenticeship places
    and mentees; nothing for the other actions (a testimony has no capacity)."""
    if action_type == "internship":
        limit = int(getattr(offer, "capacity_per_period", 1) or 1)
        return [(f"accepted:{week}", limit) for week in period]
    if action_type == "apprenticeship":
        return [("accepted:total", int(getattr(offer, "places", 1) or 1))]
    if action_type == "mentoring":
        return [("accepted:total", int(getattr(offer, "mentees", 1) or 1))]
    return []


def answer(uow, proposal_id: str, side: str, accept: bool, now: datetime | None = None,
           offer_of: Callable[[dict], object] | None = None) -> ProposalState:
    """Record `side`'s answer (workflow.VOLUNTEER or workflow.REQUESTER). `offer_of(doc)` gives
    the professional's offer for the proposal's action (its capacity), from the stored proposal
    document; without it, a placement takes a capacity of 1. ProposalNotFound, ProposalConflict
    (CapacityReached included) or ConcurrentAnswer."""
    now = now or datetime.now(timezone.utc)
    with uow:
        loaded = uow.proposals.load(proposal_id)
        if loaded is None:
            raise ProposalNotFound(proposal_id)
        state, doc = loaded
        new, event_type = state.accept(side, now) if accept else state.decline(side, now)
        if new is state:
            return state  # the same answer again: nothing to write
        if event_type == PROPOSAL_ACCEPTED:
            request = uow.requests.get(doc["request_id"])
            if request is not None and request.professionals_wanted and not uow.requests.take_place(
                    doc["request_id"], request.professionals_wanted):
                raise RequestComplete("Cette demande a déjà tous les professionnels qu'il lui faut, ou elle est "
                                      "close : la proposition ne peut plus être acceptée.")
            # The request's weeks as they are now (its period may have moved since the proposal)
            period = list(request.period) if request is not None and request.period else doc.get("period") or []
            offer = offer_of(doc) if offer_of else None
            for bucket, limit in capacity_buckets(doc["action_type"], period, offer):
                if not uow.usage.take(doc["volunteer_id"], doc["action_type"], bucket, limit):
                    raise CapacityReached("Plus de place disponible : la capacité d'accueil de ce "
                                          "professionnel est atteinte pour cette période.")
        if side == VOLUNTEER and state.answered_at is None:
            uow.usage.add(doc["volunteer_id"], doc["action_type"], "stats:answered")
        if event_type in (PROPOSAL_DECLINED, PROPOSAL_EXPIRED):
            uow.requests.release_slot(doc["request_id"])
        uow.proposals.save_state(new, state.version)
        if event_type is not None:
            uow.publish(_event(new, event_type), PROPOSALS_CHANNEL)
        uow.commit()
    log.info("proposal answered", extra={"proposal_id": proposal_id, "side": side, "status": new.status})
    return new


def expire_due(uow, now: datetime, limit: int = 500) -> int:
    """Expire every pending proposal past its deadline at `now`, one transaction each; one
    answered meanwhile is left as it is. Returns how many expired."""
    expired = 0
    for proposal_id in uow.proposals.due_for_expiry(now, limit):
        try:
            with uow:
                loaded = uow.proposals.load(proposal_id)
                if loaded is None:
                    continue
                state, doc = loaded
                new, event_type = state.expire(now)
                if event_type is None:
                    continue
                uow.requests.release_slot(doc["request_id"])
                uow.proposals.save_state(new, state.version)
                uow.publish(_event(new, event_type), PROPOSALS_CHANNEL)
                uow.commit()
                expired += 1
        except ConcurrentAnswer:
            log.info("proposal answered while expiring: left", extra={"proposal_id": proposal_id})
    return expired


def _event(state: ProposalState, event_type: str):
    return new_event(event_type, SOURCE, state.proposal_id, state.event_data(event_type))

