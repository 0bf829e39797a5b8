"""Answers to proposals on the in-memory unit of work: the professional accepts or declines, the
school's referent confirms a pupil's placement, the clock expires the unanswered; capacity is
taken at acceptance and never exceeded; a decline or an expiry frees the slot and the next
candidate is proposed."""
from datetime import datetime, timedelta, timezone

import pytest

from vitawin_common.events import new_event

from vitawin_matching import answers, handlers
from vitawin_matching.workflow import (ACCEPTED, AWAITING_CONFIRMATION, DECLINED, EXPIRED, PENDING, REQUESTER,
                                       VOLUNTEER, ProposalConflict)

from tests.unit.matching.conftest import request_v2_event, volunteer_event

LATER = datetime.now(timezone.utc) + timedelta(hours=1)


def proposals_of(db, request_id):
    return sorted((p for p in db.proposals.values() if p.request_id == request_id), key=lambda p: p.rank)


def outbox_types(db):
    return [event.type for event, _ in db.outbox]


def setup(db, uow, volunteers=3, k=1, **request_state):
    for i in range(volunteers):
        handlers.on_volunteer_registered(volunteer_event(f"vol-{i}", lat_offset_km=i + 1,
                                                         action_types=[request_state.get("action", "testimony")]),
                                         uow(), k=k)
    state = {"professionals_wanted": 1, **{key: value for key, value in request_state.items() if key != "action"}}
    handlers.on_request_created(request_v2_event("req-1", **state), uow(), k=k)
    return proposals_of(db, "req-1")


def test_a_professional_accepts_a_school_request_once(db, uow):
    [proposal] = setup(db, uow)
    state = answers.answer(uow(), proposal.proposal_id, VOLUNTEER, accept=True, now=LATER)
    assert state.status == ACCEPTED
    again = answers.answer(uow(), proposal.proposal_id, VOLUNTEER, accept=True, now=LATER)
    assert again == state
    assert outbox_types(db).count("fr.vitawin.proposal.accepted.v1") == 1


def test_a_pupil_placement_is_accepted_only_when_the_referent_confirms(db, uow):
    [proposal] = setup(db, uow, kind="job_information")
    first = answers.answer(uow(), proposal.proposal_id, VOLUNTEER, accept=True, now=LATER)
    assert first.status == AWAITING_CONFIRMATION
    assert "fr.vitawin.proposal.accepted.v1" not in outbox_types(db)
    confirmed = answers.answer(uow(), proposal.proposal_id, REQUESTER, accept=True, now=LATER)
    assert confirmed.status == ACCEPTED
    assert outbox_types(db).count("fr.vitawin.proposal.accepted.v1") == 1


def test_a_decline_frees_the_slot_and_the_next_candidate_is_proposed(db, uow):
    [first] = setup(db, uow)
    assert first.volunteer_id == "vol-0"
    answers.answer(uow(), first.proposal_id, VOLUNTEER, accept=False, now=LATER)
    assert db.requests["req-1"]["proposal_count"] == 0
    [(declined, _)] = [(e, c) for e, c in db.outbox if e.type == "fr.vitawin.proposal.declined.v1"]
    assert declined.data["reason"] == "declined_by_volunteer"
    handlers.on_proposal_freed(declined, uow(), k=1)
    made = proposals_of(db, "req-1")
    assert [(p.volunteer_id, p.rank) for p in made] == [("vol-0", 1), ("vol-1", 2)], "next candidate, new rank"
    handlers.on_proposal_freed(declined, uow(), k=1)  # replayed: the slot is taken again, nothing more
    assert len(proposals_of(db, "req-1")) == 2


def test_a_final_proposal_refuses_a_contrary_answer(db, uow):
    [proposal] = setup(db, uow)
    answers.answer(uow(), proposal.proposal_id, VOLUNTEER, accept=False, now=LATER)
    with pytest.raises(ProposalConflict):
        answers.answer(uow(), proposal.proposal_id, VOLUNTEER, accept=True, now=LATER)


def test_an_unknown_proposal_is_not_found(uow):
    with pytest.raises(answers.ProposalNotFound):
        answers.answer(uow(), "prop-unknown", VOLUNTEER, accept=True)


class Offer:
    def __init__(self, capacity):
        self.capacity_per_period = capacity


def test_two_acceptances_never_exceed_an_internship_capacity(db, uow):
    """One host with one place for the week, proposed to two schools' requests for that week."""
    handlers.on_volunteer_registered(volunteer_event("vol-host", lat_offset_km=1, action_types=["internship"]), uow(),
                                     k=1)
    for request_id in ("req-a", "req-b"):
        handlers.on_request_created(request_v2_event(request_id, kind="internship_hosting", professionals_wanted=1),
                                    uow(), k=1)
    ids = [p.proposal_id for p in db.proposals.values()]
    assert len(ids) == 2
    one_place = lambda doc: Offer(1)  # noqa: E731
    answers.answer(uow(), ids[0], VOLUNTEER, accept=True, now=LATER, offer_of=one_place)
    with pytest.raises(answers.CapacityReached, match="capacité"):
        answers.answer(uow(), ids[1], VOLUNTEER, accept=True, now=LATER, offer_of=one_place)
    statuses = sorted(db.proposal_docs[pid]["state"].status for pid in ids)
    assert statuses == [ACCEPTED, PENDING], "the refused acceptance wrote nothing"
    assert outbox_types(db).count("fr.vitawin.proposal.accepted.v1") == 1


def test_the_clock_expires_unanswered_proposals_and_frees_their_slots(db, uow, monkeypatch):
    monkeypatch.setenv("MATCHING_ANSWER_DAYS", "3")
    [proposal] = setup(db, uow)
    created = db.proposal_docs[proposal.proposal_id]["state"].created_at
    assert answers.expire_due(uow(), created + timedelta(days=2)) == 0
    assert answers.expire_due(uow(), created + timedelta(days=3)) == 1
    assert db.proposal_docs[proposal.proposal_id]["state"].status == EXPIRED
    assert db.requests["req-1"]["proposal_count"] == 0
    assert answers.expire_due(uow(), created + timedelta(days=4)) == 0
    assert outbox_types(db).count("fr.vitawin.proposal.expired.v1") == 1


def test_capacity_buckets_by_action():
    assert answers.capacity_buckets("internship", ["2027-W05", "2027-W06"], Offer(2)) == [
        ("accepted:2027-W05", 2), ("accepted:2027-W06", 2)]
    assert answers.capacity_buckets("testimony", [], None) == []
    assert answers.capacity_buckets("apprenticeship", [], None) == [("accepted:total", 1)]
