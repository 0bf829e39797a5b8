import uuid
from datetime import datetime, timezone

import pytest

from vitawin_matching import domain
from vitawin_matching.handlers import on_request_created, on_volunteer_registered

VOLUNTEER_REGISTERED = "fr.vitawin.volunteer.registered.v1"


def apply(events, uow, k=3):
    """Handle each event with its own unit of work, as the worker does."""
    for event in events:
        handler = on_volunteer_registered if event.type == VOLUNTEER_REGISTERED else on_request_created
        handler(event, uow(), k=k)


def by_rank(db, request_id):
    return sorted((p for p in db.proposals.values() if p.request_id == request_id), key=lambda p: p.rank)


def scenario(events):
    """Two requests and four volunteers; each request has at most k eligible volunteers."""
    volunteers = [events.volunteer("vol-a", lat_offset_km=1), events.volunteer("vol-b", lat_offset_km=4),
                  events.volunteer("vol-too-far", lat_offset_km=40),
                  events.volunteer("vol-mentor", lat_offset_km=1, action_types=["mentoring"])]
    requests = [events.request("req-1"), events.request("req-2", lat_offset_km=3, max_distance_km=2)]
    return volunteers, requests


def test_request_gets_the_k_nearest_volunteers_nearest_first(db, uow, events):
    volunteers = [events.volunteer(f"vol-{km}", lat_offset_km=km) for km in (4, 1, 5, 2, 3)]
    apply(volunteers + [events.request("req-1")], uow, k=3)
    made = by_rank(db, "req-1")
    assert [(p.volunteer_id, p.rank) for p in made] == [("vol-1", 1), ("vol-2", 2), ("vol-3", 3)]
    assert [p.distance_km for p in made] == [1.0, 2.0, 3.0]
    assert [channel for _, channel in db.outbox] == ["proposals"] * 3


def test_top_k_is_the_handler_argument(db, uow, events):
    apply([events.volunteer(f"vol-{km}", lat_offset_km=km) for km in (1, 2, 3)] + [events.request("req-1")],
          uow, k=2)
    assert [p.volunteer_id for p in by_rank(db, "req-1")] == ["vol-1", "vol-2"]


def test_distance_limit_uses_the_smaller_of_the_two_maxima(db, uow, events):
    apply([events.volunteer("vol-short-reach", lat_offset_km=6, max_distance_km=5),
           events.volunteer("vol-long-reach", lat_offset_km=6, max_distance_km=50),
           events.volunteer("vol-beyond-request", lat_offset_km=12, max_distance_km=50),
           events.request("req-1", max_distance_km=10),
           # and the other direction: the volunteer arrives after the request
           events.request("req-2", lat_offset_km=100, max_distance_km=5),
           events.volunteer("vol-late", lat_offset_km=106, max_distance_km=50)], uow)
    assert sorted(p.volunteer_id for p in db.proposals.values()) == ["vol-long-reach"]


def test_action_type_must_match(db, uow, events):
    apply([events.volunteer("vol-mentor", action_types=["mentoring"]),
           events.volunteer("vol-both", lat_offset_km=2, action_types=["mentoring", "internship"]),
           events.request("req-1", action_type="internship"),
           events.volunteer("vol-late-mentor", lat_offset_km=1, action_types=["mentoring"])], uow)
    assert [p.volunteer_id for p in db.proposals.values()] == ["vol-both"]
    assert db.outbox[0][0].data["action_type"] == "internship"


def test_new_volunteer_is_proposed_to_each_open_request_it_can_serve(db, uow, events):
    apply([events.request("req-near", lat_offset_km=1), events.request("req-also-near", lat_offset_km=-2),
           events.request("req-far", lat_offset_km=30), events.request("req-other-type", action_type="job_fair"),
           events.volunteer("vol-1", max_distance_km=10)], uow)
    assert sorted(p.request_id for p in db.proposals.values()) == ["req-also-near", "req-near"]


def test_new_volunteer_is_not_proposed_to_a_request_that_has_k_proposals(db, uow, events):
    apply([events.volunteer("vol-a", lat_offset_km=1), events.volunteer("vol-b", lat_offset_km=2),
           events.request("req-1"), events.volunteer("vol-c", lat_offset_km=0.5)], uow, k=2)
    assert sorted(p.volunteer_id for p in db.proposals.values()) == ["vol-a", "vol-b"]
    assert len(db.outbox) == 2


def test_a_volunteer_arriving_later_takes_the_next_rank(db, uow, events):
    apply([events.volunteer("vol-a", lat_offset_km=3), events.request("req-1"),
           events.volunteer("vol-b", lat_offset_km=1)], uow)
    assert [(p.volunteer_id, p.rank) for p in by_rank(db, "req-1")] == [("vol-a", 1), ("vol-b", 2)]


def test_both_arrival_orders_give_the_same_proposal_ids(new_world, events):
    volunteers, requests = scenario(events)
    (db_vf, uow_vf), (db_rf, uow_rf) = new_world(), new_world()
    apply(volunteers + requests, uow_vf)  # volunteers first, then requests
    apply(requests + volunteers, uow_rf)  # requests first, then volunteers
    expected = {domain.proposal_id("req-1", "vol-a"), domain.proposal_id("req-1", "vol-b"),
                domain.proposal_id("req-2", "vol-b")}
    assert set(db_vf.proposals) == set(db_rf.proposals) == expected
    assert {e.id for e, _ in db_vf.outbox} == {e.id for e, _ in db_rf.outbox}


def test_request_and_volunteer_stored_at_the_same_time_meet_once(db, uow, events):
    """Two workers each stored their entity before either searched: both searches find the pair."""
    vol, req = events.volunteer("vol-a", lat_offset_km=1), events.request("req-1")
    worker_1, worker_2 = uow(), uow()
    worker_1.volunteers.add(domain.Volunteer.from_event(vol.data))
    worker_2.requests.add(domain.Request.from_event(req.data))
    on_volunteer_registered(vol, worker_1)
    on_request_created(req, worker_2)
    assert list(db.proposals) == [domain.proposal_id("req-1", "vol-a")]
    assert len(db.outbox) == 1 and db.requests["req-1"]["proposal_count"] == 1


@pytest.mark.parametrize("replayed", ["request", "volunteer"])
def test_replaying_an_event_creates_and_publishes_nothing_new(db, uow, events, replayed):
    volunteers, requests = scenario(events)
    apply(volunteers + requests, uow)
    before = (dict(db.volunteers), {k: dict(v) for k, v in db.requests.items()}, dict(db.proposals),
              list(db.outbox))
    apply(requests if replayed == "request" else volunteers, uow)
    after = (dict(db.volunteers), {k: dict(v) for k, v in db.requests.items()}, dict(db.proposals),
             list(db.outbox))
    assert after == before


def crash_worlds(new_world, events):
    """Three volunteers and a request: the world where all went well, and one holding the volunteers
    only, for the request's event to crash in."""
    volunteers = [events.volunteer(f"vol-{km}", lat_offset_km=km) for km in (1, 2, 3)]
    request = events.request("req-1")
    db_ok, uow_ok = new_world()
    apply(volunteers + [request], uow_ok)
    db, uow = new_world()
    apply(volunteers, uow)
    return request, db_ok, db, uow


def test_a_crash_in_the_search_s_transaction_writes_nothing_and_the_replay_makes_all(new_world, events):
    request, db_ok, db, uow = crash_worlds(new_world, events)
    crashing = uow()

    def crash(events_, channel):
        raise ConnectionError("the process dies before the proposals commit")

    crashing.publish_many = crash
    with pytest.raises(ConnectionError):
        on_request_created(request, crashing)
    assert db.proposals == {} and db.outbox == []  # the three proposals were one transaction
    assert db.requests["req-1"]["proposal_count"] == 0 and db.usage == {}  # slots and counters with them

    apply([request], uow)  # redelivered: the offset was never committed
    assert set(db.proposals) == set(db_ok.proposals)
    assert [p.rank for p in by_rank(db, "req-1")] == [1, 2, 3]
    assert sorted(e.id for e, _ in db.outbox) == sorted(e.id for e, _ in db_ok.outbox)


def test_a_replay_after_a_crash_finishes_the_event_with_the_same_ids(new_world, events):
    """One proposal per transaction (the path after a conflict in the search's transaction): a
    crash between two leaves the first, and the replay makes the rest with the same ids."""
    request, db_ok, db, uow = crash_worlds(new_world, events)
    crashing = uow()
    crashing.usage.take_many = lambda takes, also=None: False  # a conflict: one transaction per proposal
    real_publish, calls = crashing.publish, []

    def publish_then_crash(event, channel):
        calls.append(event)
        if len(calls) == 2:
            raise ConnectionError("the process dies before its second proposal commits")
        real_publish(event, channel)

    crashing.publish = publish_then_crash
    with pytest.raises(ConnectionError):
        on_request_created(request, crashing)
    assert len(db.proposals) == 1 and len(db.outbox) == 1  # the second proposal rolled back
    assert db.requests["req-1"]["proposal_count"] == 1  # and its slot with it

    apply([request], uow)  # redelivered: the offset was never committed
    assert set(db.proposals) == set(db_ok.proposals)
    assert [p.rank for p in by_rank(db, "req-1")] == [1, 2, 3]
    assert sorted(e.id for e, _ in db.outbox) == sorted(e.id for e, _ in db_ok.outbox)


def test_a_pair_inserted_by_another_worker_in_between_is_skipped_with_its_slot(db, uow, events):
    """The cheap check said "absent", the keyed insert says "exists": nothing is written."""
    apply([events.volunteer("vol-a", lat_offset_km=1), events.request("req-1")], uow)
    racing = uow()
    racing.proposals.get = lambda proposal_id: None  # as if the other insert came just after the check
    on_request_created(events.request("req-1"), racing)
    assert len(db.proposals) == 1 and len(db.outbox) == 1
    assert db.requests["req-1"]["proposal_count"] == 1


def test_proposal_event_follows_the_contract(db, uow, events, contracts):
    apply([events.volunteer("vol-a", lat_offset_km=2.345), events.request("req-1", requester_kind="pupil")], uow)
    [(event, channel)] = db.outbox
    contracts.validate(event.type, event.data)
    pid = domain.proposal_id("req-1", "vol-a")
    assert channel == "proposals"
    assert (event.type, event.source, event.subject) == ("fr.vitawin.proposal.created.v1", "/vitawin/matching", pid)
    assert event.id == str(uuid.uuid5(uuid.NAMESPACE_URL, "vitawin:proposal:" + pid))
    assert event.data == {
        "proposal_id": pid, "request_id": "req-1", "volunteer_id": "vol-a", "action_type": "testimony",
        "distance_km": 2.3, "rank": 1,
        "volunteer": {"organisation_name": "Entreprise vol-a", "contact_email": "vol-a@entreprise.example.fr",
                      "town": "94080"},
        "request": {"requester_kind": "pupil", "contact_email": "referent-req-1@college.example.fr",
                    "town": "94033", **_asked(event)},
        "score": event.data["score"], "reasons": ["à 2,3 km"], "deadline": event.data["deadline"],
    }
    assert datetime.fromisoformat(event.data["deadline"].replace("Z", "+00:00")) > datetime.now(timezone.utc)
    assert 0 < event.data["score"] <= 1


def _asked(event) -> dict:
    """What is asked and when, as the request's event said: kind, school, levels, date/period/start."""
    return {k: v for k, v in event.data["request"].items() if k in ("kind", "school_uai", "levels", "date", "period", "start")}


@pytest.mark.parametrize("kind, asked", [
    ("class_testimony", {"kind": "class_testimony", "school_uai": "0940001A", "levels": ["3e"], "date": "2027-02-10"}),
    ("discovery_internship", {"kind": "discovery_internship", "school_uai": "0940001A", "levels": ["3e"],
                              "period": ["2027-W06"]}),
    ("apprenticeship_search", {"kind": "apprenticeship_search", "school_uai": "0940001A", "levels": ["3e"],
                               "start": "2027-09"}),
])
def test_a_proposal_says_what_is_asked_when_and_by_which_school(kind, asked, db, uow, events, contracts):
    """notify needs them: the school tells it whose referent to write to for a pupil's request."""
    from tests.unit.matching.conftest import request_v2_event
    action = {"class_testimony": "testimony", "discovery_internship": "internship",
              "apprenticeship_search": "apprenticeship"}[kind]
    apply([events.volunteer("vol-a", action_types=[action]), request_v2_event("req-1", kind=kind)], uow)
    [(event, _)] = [(e, c) for e, c in db.outbox if e.type == "fr.vitawin.proposal.created.v1"]
    contracts.validate(event.type, event.data)
    assert _asked(event) == asked


def test_proposal_keeps_ids_and_no_contact_data(db, uow, events):
    apply([events.volunteer("vol-a"), events.request("req-1")], uow)
    [proposal] = db.proposals.values()
    assert "@" not in repr(proposal)


# --- the search's transaction and its conflicts ------------------------------------------------
def _week():
    from vitawin_matching.rules import iso_week
    from vitawin_matching.search import paris_today
    return iso_week(paris_today())


def test_a_search_proposes_its_candidates_in_one_transaction(db, uow, events):
    apply([events.volunteer(f"vol-{km}", lat_offset_km=km) for km in (1, 2, 3, 4)], uow)
    unit, commits = uow(), []
    real_commit = unit.commit
    unit.commit = lambda: commits.append("commit") or real_commit()  # noqa: E731 - counts the transactions
    on_request_created(events.request("req-1"), unit, k=3)
    assert commits == ["commit"]
    assert [(p.volunteer_id, p.rank) for p in by_rank(db, "req-1")] == [("vol-1", 1), ("vol-2", 2), ("vol-3", 3)]
    assert db.usage[("vol-1", "testimony", f"proposed:{_week()}")] == 1
    assert db.usage[("vol-1", "testimony", "stats:received")] == 1


def test_a_volunteer_capped_since_the_search_read_its_counters_is_skipped(db, uow, events):
    apply([events.volunteer(f"vol-{km}", lat_offset_km=km) for km in (1, 2, 3, 4)], uow)
    db.usage[("vol-1", "testimony", f"proposed:{_week()}")] = 5  # its weekly cap, reached on another worker
    stale = uow()
    stale.usage.counts_many = lambda *args, **kwargs: {}  # the search read the counters before that
    on_request_created(events.request("req-1"), stale, k=3)
    assert [(p.volunteer_id, p.rank) for p in by_rank(db, "req-1")] == [("vol-2", 1), ("vol-3", 2), ("vol-4", 3)]
    assert db.usage[("vol-1", "testimony", f"proposed:{_week()}")] == 5
    assert db.requests["req-1"]["proposal_count"] == 3
    assert len(db.outbox) == 3


def test_a_pair_proposed_since_the_search_looked_is_skipped_once(db, uow, events):
    apply([events.volunteer(f"vol-{km}", lat_offset_km=km) for km in (1, 2, 3, 4)] + [events.request("req-1")],
          uow, k=3)
    db.requests["req-1"]["proposal_count"] -= 1  # a decline gave one slot back
    stale = uow()
    stale.proposals.existing = lambda ids: set()  # the search did not see the three proposals made
    on_request_created(events.request("req-1"), stale, k=3)
    assert [(p.volunteer_id, p.rank) for p in by_rank(db, "req-1")] == [
        ("vol-1", 1), ("vol-2", 2), ("vol-3", 3), ("vol-4", 4)]
    assert db.requests["req-1"]["proposal_count"] == 3
    assert sorted(e.data["volunteer_id"] for e, _ in db.outbox) == ["vol-1", "vol-2", "vol-3", "vol-4"]


def test_slots_moved_by_another_worker_fall_back_to_one_transaction_per_proposal(db, uow, events):
    apply([events.volunteer(f"vol-{km}", lat_offset_km=km) for km in (1, 2, 3)], uow)
    moved = uow()
    moved.requests.take_slots = lambda wants: None
    on_request_created(events.request("req-1"), moved, k=2)
    assert [(p.volunteer_id, p.rank) for p in by_rank(db, "req-1")] == [("vol-1", 1), ("vol-2", 2)]
    assert db.requests["req-1"]["proposal_count"] == 2
