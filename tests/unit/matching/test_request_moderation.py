"""Matching follows a request's moderation: fr.vitawin.request.hidden.v1 closes the request for
proposals whatever its status (proposals already made stay), fr.vitawin.request.unhidden.v1 opens
it again, and searches, if its status is still open or partly_matched. Newest version wins: a
stale or replayed moderation event changes nothing, an update of the request's state does not
undo a hiding, and a moderation event that comes before the request leaves a closed placeholder."""
import pytest

from vitawin_matching import bootstrap

HANDLERS = bootstrap.event_handlers(lambda handler: handler)


def apply(events, uow, k=3):
    """Handle each event with its own unit of work, as the worker does."""
    for event in events:
        HANDLERS[event.type](event, uow(), k=k)


def proposed(db, request_id):
    return sorted(p.volunteer_id for p in db.proposals.values() if p.request_id == request_id)


def snapshot(db):
    return ({key: dict(row) for key, row in db.requests.items()}, dict(db.proposals), list(db.outbox))


@pytest.mark.parametrize("event_type", ["fr.vitawin.request.hidden.v1", "fr.vitawin.request.unhidden.v1"])
def test_the_worker_handles_the_moderation_events_which_have_contracts(event_type, contracts):
    assert event_type in HANDLERS and contracts.knows(event_type)


def test_the_reported_event_is_not_read_by_matching():
    assert "fr.vitawin.request.reported.v1" not in HANDLERS  # the consumer loop ignores it


def test_the_test_moderation_events_follow_their_contracts(events, contracts):
    for event in (events.request_hidden("req-1", 2), events.request_unhidden("req-1", 3, status="fulfilled")):
        contracts.validate(event.type, event.data)


# --- hidden ----------------------------------------------------------------------------------------
def test_a_hidden_request_gets_no_new_proposal_and_keeps_those_made(db, uow, events):
    apply([events.volunteer("vol-a", lat_offset_km=1), events.request_v2("req-1"),
           events.request_hidden("req-1", 2),
           events.volunteer("vol-b", lat_offset_km=0.5),
           events.volunteer_updated("vol-a", 2, lat_offset_km=0.2)], uow)
    row = db.requests["req-1"]
    assert (row["status"], row["request_status"], row["version"], row["hidden"], row["proposal_count"]) == \
        ("open", "open", 2, True, 1)
    assert proposed(db, "req-1") == ["vol-a"] and len(db.outbox) == 1
    assert uow().requests.take_slot("req-1", 3) is None


def test_an_update_of_a_hidden_request_keeps_it_hidden_and_does_not_search(db, uow, events):
    """Edited or partly matched while hidden (versions 3 and 4): still no proposal."""
    apply([events.request_v2("req-1"), events.request_hidden("req-1", 2),
           events.volunteer("vol-a", lat_offset_km=1),
           events.request_updated("req-1", 3, lat_offset_km=0.5),
           events.request_updated("req-1", 4, status="partly_matched")], uow)
    row = db.requests["req-1"]
    assert (row["status"], row["request_status"], row["version"], row["hidden"]) == ("open", "partly_matched", 4, True)
    assert db.proposals == {}


def test_a_hidden_request_keeps_its_contact_email_for_when_it_comes_back(db, uow, events):
    apply([events.request_v2("req-1"), events.request_hidden("req-1", 2)], uow)
    assert db.requests["req-1"]["request"].contact_email == "referent-req-1@college.example.fr"


def test_a_replayed_or_stale_hidden_event_changes_nothing(db, uow, events):
    apply([events.volunteer("vol-a", lat_offset_km=1), events.request_v2("req-1"),
           events.request_hidden("req-1", 2), events.request_unhidden("req-1", 3)], uow)
    before = snapshot(db)
    apply([events.request_hidden("req-1", 2), events.request_v2("req-1"), events.request_unhidden("req-1", 3)], uow)
    assert snapshot(db) == before
    row = db.requests["req-1"]
    assert (row["status"], row["hidden"], row["version"]) == ("open", False, 3)


def test_a_hidden_event_that_comes_first_leaves_a_closed_placeholder(db, uow, events):
    apply([events.volunteer("vol-a", lat_offset_km=1), events.request_hidden("req-1", 2),
           events.request_v2("req-1")], uow)  # late: the created event does not open it
    row = db.requests["req-1"]
    assert (row["request"], row["status"], row["hidden"], row["version"]) == (None, "closed", True, 2)
    assert db.proposals == {}


# --- shown again --------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["open", "partly_matched"])
def test_a_request_shown_again_still_open_is_searched_again(db, uow, events, status):
    apply([events.request_v2("req-1"), events.request_hidden("req-1", 2),
           events.request_updated("req-1", 3, status=status),
           events.volunteer("vol-a", lat_offset_km=1), events.volunteer("vol-b", lat_offset_km=2)], uow)
    assert db.proposals == {}
    apply([events.request_unhidden("req-1", 4, status=status)], uow)
    row = db.requests["req-1"]
    assert (row["status"], row["request_status"], row["hidden"], row["version"]) == ("open", status, False, 4)
    assert proposed(db, "req-1") == ["vol-a", "vol-b"]
    [first, second] = sorted((e for e, _ in db.outbox), key=lambda e: e.data["rank"])
    assert (first.data["volunteer_id"], first.data["rank"], second.data["rank"]) == ("vol-a", 1, 2)


@pytest.mark.parametrize("status", ["fulfilled", "cancelled", "expired"])
def test_a_request_closed_while_hidden_stays_closed_when_shown_again(db, uow, events, status):
    apply([events.volunteer("vol-a", lat_offset_km=1), events.request_v2("req-1", professionals_wanted=1),
           events.request_hidden("req-1", 2), events.request_closed("req-1", 3, status),
           events.request_unhidden("req-1", 4, status=status),
           events.volunteer("vol-b", lat_offset_km=0.5)], uow)
    row = db.requests["req-1"]
    assert (row["status"], row["request_status"], row["hidden"], row["version"]) == ("closed", status, False, 4)
    assert proposed(db, "req-1") == ["vol-a"]  # made before the hiding: stays; none after


def test_the_slots_taken_before_the_hiding_still_count(db, uow, events):
    apply([events.volunteer("vol-a", lat_offset_km=1), events.volunteer("vol-b", lat_offset_km=2),
           events.request_v2("req-1"), events.request_hidden("req-1", 2),
           events.volunteer("vol-c", lat_offset_km=3), events.request_unhidden("req-1", 3)], uow, k=3)
    assert proposed(db, "req-1") == ["vol-a", "vol-b", "vol-c"]
    assert sorted(p.rank for p in db.proposals.values()) == [1, 2, 3]


def test_a_replayed_unhidden_event_finishes_its_search_and_makes_nothing_twice(db, uow, events):
    """Shown again, then the process died before searching: the redelivery searches."""
    apply([events.volunteer("vol-a", lat_offset_km=1), events.request_v2("req-1"),
           events.request_hidden("req-1", 2)], uow)
    uow().requests.unhide("req-1", 3)  # stored, no search yet
    apply([events.request_unhidden("req-1", 3)], uow)
    assert proposed(db, "req-1") == ["vol-a"]
    apply([events.request_unhidden("req-1", 3)], uow)
    assert len(db.outbox) == 1


def test_an_unhidden_event_older_than_the_stored_state_does_not_search(db, uow, events):
    apply([events.request_v2("req-1"), events.request_hidden("req-1", 2), events.request_unhidden("req-1", 3),
           events.request_hidden("req-1", 4), events.volunteer("vol-a", lat_offset_km=1)], uow)
    before = snapshot(db)
    apply([events.request_unhidden("req-1", 3)], uow)  # replayed after a newer hiding
    assert snapshot(db) == before
    assert db.requests["req-1"]["hidden"] is True and db.proposals == {}


def test_a_hidden_pupil_request_shown_again_gets_proposals_without_any_requester_email(db, uow, events, contracts):
    apply([events.request_v2("req-1", kind="job_information"), events.request_hidden("req-1", 2),
           events.volunteer("vol-a", lat_offset_km=1), events.request_unhidden("req-1", 3)], uow)
    [(event, _)] = db.outbox
    contracts.validate(event.type, event.data)
    # No e-mail and nothing that names the pupil: only what is asked, where and when
    assert set(event.data["request"]) <= {"requester_kind", "town", "kind", "school_uai", "levels", "date", "period", "start"}
    assert event.data["request"]["requester_kind"] == "pupil" and event.data["request"]["town"] == "94033"


def test_an_unhidden_event_older_than_a_request_never_hidden_changes_nothing(db, uow, events):
    apply([events.request_v2("req-1"), events.request_updated("req-1", 3), events.volunteer("vol-a", lat_offset_km=1)],
          uow)
    before = snapshot(db)
    apply([events.request_unhidden("req-1", 2)], uow)
    assert snapshot(db) == before
