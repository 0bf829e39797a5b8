"""The search with the worker's in-memory index gives the proposals the MongoDB path gives, and
the index follower keeps it complete: loaded at start, caught up from the read model, and a
volunteer written after the index's watermark is still found."""
import random
from datetime import timedelta

from vitawin_matching import handlers
from vitawin_matching.index import VolunteerIndex
from vitawin_matching.search import IndexFollower, Search, candidates_for

from tests.unit.matching.conftest import request_v2_event, volunteer_event


def world_with(new_world, volunteers, requests, search=None):
    db, uow = new_world()
    for event in volunteers:
        handlers.on_volunteer_registered(event, uow(), k=3, search=search)
    return db, uow


def scenario(seed):
    rng = random.Random(seed)
    volunteers = [volunteer_event(f"vol-{i:03d}", lat_offset_km=rng.uniform(-12, 12),
                                  action_types=rng.sample(["testimony", "intervention", "internship"], 2),
                                  max_distance_km=rng.choice([3, 5, 10, 20]))
                  for i in range(60)]
    requests = [request_v2_event(f"req-{i}", lat_offset_km=rng.uniform(-10, 10),
                                 kind=rng.choice(["class_testimony", "class_intervention", "internship_hosting"]),
                                 max_distance_km=rng.choice([2, 5, 10]), professionals_wanted=1)
                for i in range(15)]
    return volunteers, requests


def proposals(db):
    return sorted((p.request_id, p.volunteer_id, p.rank) for p in db.proposals.values())


def test_the_index_path_proposes_exactly_what_the_database_path_proposes(new_world):
    for seed in range(5):
        volunteers, requests = scenario(seed)
        plain_db, plain_uow = world_with(new_world, volunteers, requests)
        indexed_db, indexed_uow = world_with(new_world, volunteers, requests)
        follower = IndexFollower(VolunteerIndex(), indexed_uow().volunteers)
        follower.load()
        search = Search(index=follower.index, fresh_since=follower.fresh_since)
        for event in requests:
            handlers.on_request_created(event, plain_uow(), k=3)
            handlers.on_request_created(event, indexed_uow(), k=3, search=search)
        assert proposals(indexed_db) == proposals(plain_db), seed
        assert proposals(plain_db), "the scenario makes proposals"


def test_a_volunteer_written_after_the_index_caught_up_is_found_from_the_read_model(new_world):
    db, uow = new_world()
    follower = IndexFollower(VolunteerIndex(), uow().volunteers, margin_s=0)
    follower.load()  # empty
    handlers.on_volunteer_registered(volunteer_event("vol-late", lat_offset_km=1), uow(), k=3)
    assert len(follower.index) == 0
    search = Search(index=follower.index, fresh_since=follower.fresh_since)
    request = request_v2_event("req-1", professionals_wanted=1)
    handlers.on_request_created(request, uow(), k=3, search=search)
    assert [p.volunteer_id for p in db.proposals.values()] == ["vol-late"]
    assert follower.catch_up() == 1 and len(follower.index) == 1


def test_the_follower_removes_a_withdrawn_volunteer_and_ignores_stale_states(new_world):
    db, uow = new_world()
    handlers.on_volunteer_registered(volunteer_event("vol-1"), uow(), k=3)
    follower = IndexFollower(VolunteerIndex(), uow().volunteers)
    assert follower.load() == 1
    uow().volunteers.withdraw("vol-1", 2)
    follower.watermark -= timedelta(seconds=10)
    follower.catch_up()
    assert len(follower.index) == 0 and follower.index.version_of("vol-1") == 2


def test_the_pool_keeps_the_nearest_eligible_offers(new_world):
    db, uow = new_world()
    for i in range(10):
        handlers.on_volunteer_registered(volunteer_event(f"vol-{i}", lat_offset_km=0.5 + i), uow(), k=3)
    follower = IndexFollower(VolunteerIndex(), uow().volunteers)
    follower.load()
    from vitawin_matching.domain import Request
    request = Request.from_event(request_v2_event("req-1", max_distance_km=20, professionals_wanted=1).data)
    found = candidates_for(uow(), request, Search(index=follower.index, pool=4))
    assert sorted(c.volunteer.volunteer_id for c in found) == ["vol-0", "vol-1", "vol-2", "vol-3"]


def test_the_search_widens_when_the_nearest_candidates_are_full(new_world):
    from vitawin_matching.domain import Request
    from vitawin_matching.rules import iso_week

    db, uow = new_world()
    for i in range(6):
        handlers.on_volunteer_registered(volunteer_event(f"vol-{i}", lat_offset_km=0.5 + i), uow(), k=3)
    follower = IndexFollower(VolunteerIndex(), uow().volunteers)
    follower.load()
    search = Search(index=follower.index, pool=2)
    week = iso_week(search.today())
    for full in ("vol-0", "vol-1", "vol-2"):  # their weekly contact cap (5 by default) is reached
        db.usage[(full, "testimony", f"proposed:{week}")] = 5
    request = Request.from_event(request_v2_event("req-1", max_distance_km=20, professionals_wanted=1).data)
    assert candidates_for(uow(), request, search) == [], "without a need, the first pool (all full) is the answer"
    found = candidates_for(uow(), request, search, needed=2)
    assert [c.volunteer.volunteer_id for c in found][:2] == ["vol-3", "vol-4"]
