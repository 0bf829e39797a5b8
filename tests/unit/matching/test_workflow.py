"""A proposal's workflow: who answers, what each answer does, which event it publishes."""
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from vitawin_common.contracts import load

from vitawin_matching.workflow import (ACCEPTED, AWAITING_CONFIRMATION, DECLINED, EXPIRED, PENDING,
                                       PROPOSAL_ACCEPTED, PROPOSAL_DECLINED, PROPOSAL_EXPIRED, REQUESTER,
                                       VOLUNTEER, ProposalConflict, ProposalState)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
CONTRACTS = load(Path(__file__).resolve().parents[3] / "contracts")


def proposal(kind="school"):
    return ProposalState.new("prop-0123456789abcdef0123", "req-1", "vol-1", kind, NOW, answer_days=7)


def test_a_new_proposal_is_pending_with_a_deadline():
    p = proposal()
    assert (p.status, p.deadline, p.version) == (PENDING, NOW + timedelta(days=7), 1)


def test_a_professional_accepting_a_school_request_makes_the_placement_final():
    p, event = proposal().accept(VOLUNTEER, NOW + timedelta(hours=2))
    assert (p.status, event, p.version) == (ACCEPTED, PROPOSAL_ACCEPTED, 2)
    CONTRACTS.validate(event, p.event_data(event))


def test_a_pupil_placement_waits_for_the_referent_then_is_accepted():
    p, event = proposal("pupil").accept(VOLUNTEER, NOW)
    assert (p.status, event) == (AWAITING_CONFIRMATION, "fr.vitawin.proposal.confirmation_requested.v1")
    CONTRACTS.validate(event, p.event_data(event))  # notify asks the school's referent
    assert p.event_data(event)["answered_at"] == "2026-12-01T09:00:00.000Z"
    assert p.accept(VOLUNTEER, NOW + timedelta(minutes=1)) == (p, None)  # a second click asks nothing more
    p, event = p.accept(REQUESTER, NOW + timedelta(days=1))
    assert (p.status, event, p.version) == (ACCEPTED, PROPOSAL_ACCEPTED, 3)


def test_the_referent_cannot_confirm_before_the_professional_accepts():
    with pytest.raises(ProposalConflict, match="pas encore accepté"):
        proposal("pupil").accept(REQUESTER, NOW)


@pytest.mark.parametrize("side, reason", [(VOLUNTEER, "declined_by_volunteer"), (REQUESTER, "declined_by_requester")])
def test_either_side_declines_with_its_reason_in_the_event(side, reason):
    p, event = proposal("pupil").accept(VOLUNTEER, NOW)[0].decline(side, NOW)
    assert (p.status, event) == (DECLINED, PROPOSAL_DECLINED)
    data = p.event_data(event)
    CONTRACTS.validate(event, data)
    assert data["reason"] == reason


def test_answering_twice_the_same_way_changes_nothing():
    p, _ = proposal().accept(VOLUNTEER, NOW)
    assert p.accept(VOLUNTEER, NOW + timedelta(hours=1)) == (p, None)
    d, _ = proposal().decline(VOLUNTEER, NOW)
    assert d.decline(VOLUNTEER, NOW) == (d, None)


@pytest.mark.parametrize("first, then", [
    (lambda p: p.accept(VOLUNTEER, NOW)[0], lambda p: p.decline(VOLUNTEER, NOW)),
    (lambda p: p.decline(VOLUNTEER, NOW)[0], lambda p: p.accept(VOLUNTEER, NOW)),
    (lambda p: p.decline(VOLUNTEER, NOW)[0], lambda p: p.decline(REQUESTER, NOW)),
    (lambda p: p.expire(NOW + timedelta(days=8))[0], lambda p: p.accept(VOLUNTEER, NOW + timedelta(days=8))),
])
def test_a_final_proposal_refuses_a_contrary_answer_in_french(first, then):
    with pytest.raises(ProposalConflict, match="^Cette proposition est déjà"):
        then(first(proposal()))


def test_a_pending_proposal_expires_at_its_deadline_not_before():
    p = proposal()
    assert p.expire(NOW + timedelta(days=7) - timedelta(seconds=1)) == (p, None)
    expired, event = p.expire(NOW + timedelta(days=7))
    assert (expired.status, event) == (EXPIRED, PROPOSAL_EXPIRED)
    CONTRACTS.validate(event, expired.event_data(event))
    assert expired.expire(NOW + timedelta(days=9)) == (expired, None)


def test_a_placement_waiting_for_the_school_does_not_expire_on_the_professional():
    waiting, _ = proposal("pupil").accept(VOLUNTEER, NOW)
    assert waiting.expire(NOW + timedelta(days=30)) == (waiting, None)
