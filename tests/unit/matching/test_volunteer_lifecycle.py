"""Matching follows a pledge's lifecycle: updates replace the read model only when newer, a paused
or withdrawn volunteer is proposed to no new request, a resumed one is again, a withdrawal is final
and idempotent, and proposals already made stay."""
import pytest

from vitawin_matching import bootstrap, domain
from vitawin_matching.handlers import (on_request_created, on_volunteer_registered, on_volunteer_updated,
                                       on_volunteer_withdrawn)

HANDLERS = {"fr.vitawin.volunteer.registered.v1": on_volunteer_registered,
            "fr.vitawin.volunteer.updated.v1": on_volunteer_updated,
            "fr.vitawin.volunteer.withdrawn.v1": on_volunteer_withdrawn,
            "fr.vitawin.request.created.v1": on_request_created}


def apply(events, uow, k=3):
    """Handle each event with its own unit of work, as the worker does."""
    for event in events:
        HANDLERS[event.type](event, uow(), k=k)


def proposed(db, request_id):
    return sorted(p.volunteer_id for p in db.proposals.values() if p.request_id == request_id)


def test_the_test_events_follow_their_contracts(events, contracts):
    for event in (events.volunteer_updated("vol-a", 2, status="paused", action_types=["internship", "job_fair"]),
                  events.volunteer_withdrawn("vol-a", 3)):
        contracts.validate(event.type, event.data)


def test_a_registered_event_without_version_is_stored_as_version_1_and_active(db, uow, events):
    registered = events.volunteer("vol-a")
    assert "version" not in registered.data and "status" not in registered.data
    apply([registered], uow)
    assert (db.volunteers["vol-a"].version, db.volunteers["vol-a"].status) == (1, "active")


def test_a_newer_update_replaces_the_stored_volunteer(db, uow, events):
    apply([events.volunteer("vol-a"),
           events.volunteer_updated("vol-a", 2, lat_offset_km=3, action_types=["mentoring"], max_distance_km=25)],
          uow)
    stored = db.volunteers["vol-a"]
    assert (stored.version, stored.action_types, stored.max_distance_km) == (2, ("mentoring",), 25.0)
    assert stored.location.lat == pytest.approx(domain.Location(48.8475 + 3 / 111.195, 0).lat)


def test_an_update_with_an_older_version_changes_nothing(db, uow, events):
    apply([events.volunteer("vol-a"), events.volunteer_updated("vol-a", 3, action_types=["mentoring"])], uow)
    before = (dict(db.volunteers), dict(db.proposals), list(db.outbox))
    apply([events.volunteer_updated("vol-a", 2, action_types=["testimony"], status="paused"),
           events.volunteer_updated("vol-a", 3, action_types=["testimony"])], uow)  # stale, then same version
    assert (dict(db.volunteers), dict(db.proposals), list(db.outbox)) == before
    assert db.volunteers["vol-a"].action_types == ("mentoring",)


def test_a_stale_update_does_not_propose_the_volunteer(db, uow, events):
    apply([events.volunteer("vol-a", action_types=["mentoring"]),
           events.volunteer_updated("vol-a", 3, status="paused"),
           events.request("req-1"),
           events.volunteer_updated("vol-a", 2)], uow)  # an active state, but older than the pause
    assert db.volunteers["vol-a"].status == "paused"
    assert db.proposals == {} and db.outbox == []


def test_a_paused_volunteer_is_not_proposed_to_a_new_request(db, uow, events):
    apply([events.volunteer("vol-paused", lat_offset_km=1), events.volunteer("vol-active", lat_offset_km=2),
           events.volunteer_updated("vol-paused", 2, lat_offset_km=1, status="paused"),
           events.request("req-1")], uow)
    assert proposed(db, "req-1") == ["vol-active"]


def test_a_resumed_volunteer_is_proposed_to_a_new_request(db, uow, events):
    apply([events.volunteer("vol-a", lat_offset_km=1),
           events.volunteer_updated("vol-a", 2, lat_offset_km=1, status="paused"),
           events.request("req-while-paused", lat_offset_km=2),
           events.volunteer_updated("vol-a", 3, lat_offset_km=1, status="active"),
           events.request("req-after", lat_offset_km=-2)], uow)
    assert proposed(db, "req-after") == ["vol-a"]
    # and, active again, it is proposed to the open request that came while it was paused
    assert proposed(db, "req-while-paused") == ["vol-a"]


def test_an_active_update_proposes_the_volunteer_to_open_requests_it_now_suits(db, uow, events):
    apply([events.volunteer("vol-a", lat_offset_km=40), events.request("req-1"),
           events.volunteer_updated("vol-a", 2, lat_offset_km=1)], uow)  # moved near the request
    assert proposed(db, "req-1") == ["vol-a"]
    [(event, _)] = db.outbox
    assert event.data["volunteer_id"] == "vol-a"


def test_a_withdrawn_volunteer_is_never_a_candidate_again(db, uow, events):
    apply([events.volunteer("vol-a", lat_offset_km=1),
           events.volunteer_withdrawn("vol-a", 2),
           events.request("req-1"),
           events.volunteer_updated("vol-a", 3, lat_offset_km=1, status="active"),  # must not bring it back
           events.volunteer("vol-a", lat_offset_km=1),  # an old registration replayed
           events.request("req-2", lat_offset_km=0.5)], uow)
    assert db.volunteers["vol-a"].status == "withdrawn"
    assert db.proposals == {} and db.outbox == []


def test_a_withdrawal_is_idempotent(db, uow, events):
    apply([events.volunteer("vol-a"), events.volunteer_withdrawn("vol-a", 2)], uow)
    before = dict(db.volunteers)
    apply([events.volunteer_withdrawn("vol-a", 2), events.volunteer_withdrawn("vol-a", 2)], uow)
    assert dict(db.volunteers) == before
    assert (db.volunteers["vol-a"].status, db.volunteers["vol-a"].version) == ("withdrawn", 2)


def test_a_withdrawal_that_arrives_first_still_holds(db, uow, events):
    apply([events.volunteer_withdrawn("vol-a", 4), events.request("req-1"),
           events.volunteer("vol-a"), events.volunteer_updated("vol-a", 3)], uow)
    assert db.volunteers["vol-a"].status == "withdrawn"
    assert db.proposals == {}


@pytest.mark.parametrize("change", ["paused", "withdrawn"])
def test_proposals_already_made_stay(db, uow, events, change):
    apply([events.volunteer("vol-a", lat_offset_km=1), events.request("req-1")], uow)
    made = dict(db.proposals)
    assert len(made) == 1
    later = (events.volunteer_updated("vol-a", 2, lat_offset_km=1, status="paused") if change == "paused"
             else events.volunteer_withdrawn("vol-a", 2))
    apply([later, events.request("req-2")], uow)
    assert db.proposals == made
    assert proposed(db, "req-2") == []


def test_a_replayed_update_finishes_its_searches(db, uow, events):
    """The update stored, then the process died before searching: the redelivery searches."""
    apply([events.volunteer("vol-a", lat_offset_km=40), events.request("req-1")], uow)
    update = events.volunteer_updated("vol-a", 2, lat_offset_km=1)
    uow().volunteers.replace(domain.Volunteer.from_event(update.data))  # stored, no search yet
    apply([update], uow)
    assert proposed(db, "req-1") == ["vol-a"]
    apply([update], uow)  # once more: nothing new
    assert len(db.outbox) == 1


def test_match_refuses_a_volunteer_that_is_not_active(events):
    request = domain.Request.from_event(events.request("req-1").data)
    for status, expected in (("active", True), ("paused", False), ("withdrawn", False)):
        volunteer = domain.Volunteer.from_event(events.volunteer_updated("vol-a", 2, status=status).data)
        assert (domain.match(request, volunteer) is not None) is expected


def test_is_newer_counts_a_missing_version_as_1():
    assert domain.is_newer(2, None) and not domain.is_newer(1, None)
    assert domain.is_newer(4, 3) and not domain.is_newer(3, 3) and not domain.is_newer(2, 3)


def test_the_worker_handles_every_volunteer_event_each_with_a_contract(contracts):
    wrapped = bootstrap.event_handlers(lambda handler: ("wrapped", handler))
    volunteer_events = {event_type: handler for event_type, handler in wrapped.items()
                        if event_type.startswith("fr.vitawin.volunteer.")}
    assert volunteer_events == {
        "fr.vitawin.volunteer.registered.v1": ("wrapped", on_volunteer_registered),
        "fr.vitawin.volunteer.updated.v1": ("wrapped", on_volunteer_updated),
        "fr.vitawin.volunteer.withdrawn.v1": ("wrapped", on_volunteer_withdrawn)}
    assert all(contracts.knows(event_type) for event_type in volunteer_events)
    channels = {name for name, spec in contracts.asyncapi["channels"].items()
                if any(m["$ref"].endswith(("volunteerUpdated", "volunteerWithdrawn"))
                       for m in (spec.get("messages") or {}).values())}
    assert channels == {"volunteers"} and "volunteers" in bootstrap.CONSUMED_CHANNELS
