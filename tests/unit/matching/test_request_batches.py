"""handlers.on_requests_created, the batch handler the worker gives the consumer loop for new
requests: the same proposals, ranks and event ids as one event at a time when the requests do not
compete for the same volunteers; all of them in one transaction; each proposal event with the
correlation id of its request's event; a conflict (a weekly cap reached by another worker since
the searches read the counters) handled request by request with nothing lost; a request twice
in a batch proposed once; a request already closed not searched."""
from __future__ import annotations

from vitawin_matching import bootstrap
from vitawin_matching.handlers import on_request_created, on_requests_created, on_volunteer_registered
from vitawin_matching.rules import iso_week
from vitawin_matching.search import paris_today


def volunteers(events, *offsets_km):
    return [events.volunteer(f"vol-{km}", lat_offset_km=km) for km in offsets_km]


def register(uow, found):
    for event in found:
        on_volunteer_registered(event, uow(), k=2)


def proposals(db):
    return sorted((p.request_id, p.volunteer_id, p.rank) for p in db.proposals.values())


def test_a_batch_makes_what_one_event_at_a_time_makes_in_one_transaction(new_world, events):
    # three areas 60 km apart, a request in each
    world = volunteers(events, 0.5, 1, 1.5, 60.5, 61, 61.5, 120.5, 121)
    batch = [events.request("req-a"), events.request("req-b", lat_offset_km=60),
             events.request("req-c", lat_offset_km=120)]
    db_one, uow_one = new_world()
    register(uow_one, world)
    for event in batch:
        on_request_created(event, uow_one(), k=2)

    db, uow = new_world()
    register(uow, world)
    unit, commits = uow(), []
    real_commit = unit.commit
    unit.commit = lambda: commits.append("commit") or real_commit()  # noqa: E731 - counts the transactions
    on_requests_created(batch, unit, k=2)
    assert commits == ["commit"]
    assert proposals(db) == proposals(db_one)
    assert ("req-b", "vol-60.5", 1) in proposals(db) and ("req-c", "vol-120.5", 1) in proposals(db)
    assert sorted(e.id for e, _ in db.outbox) == sorted(e.id for e, _ in db_one.outbox)
    assert {k: (r["proposal_count"], r["proposal_seq"]) for k, r in db.requests.items()} == {
        k: (r["proposal_count"], r["proposal_seq"]) for k, r in db_one.requests.items()}
    assert db.usage == db_one.usage


def test_each_proposal_carries_the_correlation_id_of_its_request_s_event(db, uow, events):
    register(uow, volunteers(events, 0.5, 1, 60.5))
    batch = [events.request("req-a"), events.request("req-b", lat_offset_km=60)]
    assert batch[0].correlation_id != batch[1].correlation_id
    on_requests_created(batch, uow(), k=2)
    by_request = {e.data["request_id"]: set() for e, _ in db.outbox}
    for event, _ in db.outbox:
        by_request[event.data["request_id"]].add(event.correlation_id)
    assert by_request == {"req-a": {batch[0].correlation_id}, "req-b": {batch[1].correlation_id}}


def test_a_volunteer_capped_by_another_worker_meanwhile_is_skipped_request_by_request(db, uow, events):
    register(uow, volunteers(events, 0.5, 1, 1.5))
    db.usage[("vol-0.5", "testimony", f"proposed:{iso_week(paris_today())}")] = 5  # its cap, on another worker
    stale = uow()
    stale.usage.counts_many = lambda *args, **kwargs: {}  # the searches read the counters before that
    on_requests_created([events.request("req-a"), events.request("req-b", lat_offset_km=0.2)], stale, k=2)
    assert proposals(db) == [("req-a", "vol-1", 1), ("req-a", "vol-1.5", 2),
                             ("req-b", "vol-1", 1), ("req-b", "vol-1.5", 2)]
    assert db.usage[("vol-0.5", "testimony", f"proposed:{iso_week(paris_today())}")] == 5
    assert len(db.outbox) == 4


def test_a_request_twice_in_a_batch_is_proposed_once(db, uow, events):
    register(uow, volunteers(events, 0.5, 1, 1.5))
    created = events.request("req-a")
    on_requests_created([created, created, events.request("req-b", lat_offset_km=0.2)], uow(), k=2)
    assert [p for p in proposals(db) if p[0] == "req-a"] == [("req-a", "vol-0.5", 1), ("req-a", "vol-1", 2)]
    assert len(db.outbox) == 4
    on_requests_created([created, events.request("req-b", lat_offset_km=0.2)], uow(), k=2)  # redelivered
    assert len(db.outbox) == 4 and len(db.proposals) == 4


def test_a_request_closed_before_its_created_event_is_not_searched(db, uow, events):
    register(uow, volunteers(events, 0.5, 1))
    handlers = bootstrap.event_handlers(lambda handler: handler)
    closing = events.request_closed("req-a", 2)
    handlers[closing.type](closing, uow(), k=2)
    on_requests_created([events.request("req-a"), events.request("req-b")], uow(), k=2)
    assert {p[0] for p in proposals(db)} == {"req-b"}
    assert db.requests["req-a"]["status"] == "closed"


def test_the_worker_batches_both_versions_of_request_created_with_one_handler():
    made = bootstrap.batch_handlers(lambda handler: ("wrapped", handler))
    assert set(made) == {"fr.vitawin.request.created.v1", "fr.vitawin.request.created.v2"}
    assert made["fr.vitawin.request.created.v1"] is made["fr.vitawin.request.created.v2"]
    assert made["fr.vitawin.request.created.v1"] == ("wrapped", on_requests_created)
    assert set(made) <= set(bootstrap.event_handlers(lambda handler: handler))


def test_an_empty_batch_changes_nothing(db, uow):
    on_requests_created([], uow(), k=2)
    assert db.requests == {} and db.outbox == []
