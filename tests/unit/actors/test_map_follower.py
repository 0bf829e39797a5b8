"""The map index's follower (vitawin_actors.map_follower) against an in-memory source and clocks the
test moves: one scan to load, then before each answer the actors created or erased since the
watermark minus the margin (read-your-writes across processes); concurrent queries share a
catch-up only when it began after they arrived; a failed catch-up answers from the index as it
is; the periodic full rescan repairs what no watermark could see."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from vitawin_actors.domain import BoundingBox, MapIndex, MapPoint
from vitawin_actors.map_follower import MapIndexFollower, MapUnavailable

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
EVERYWHERE = BoundingBox(-180, -90, 180, 90)


def company(n: int, created_at: datetime, **extra) -> dict:
    return {"actor_id": f"act-{n:04d}", "kind": "company", "name": f"Organisation {n}", "town": "94080",
            "location": {"lat": 48.85, "lon": 2.44 + n / 10_000}, "created_at": created_at,
            "contact_email": f"contact{n}@example.fr", **extra}


class Clock:
    def __init__(self):
        self.at = T0
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.mono

    def tick(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
        self.mono += seconds


class Source:
    """map_documents / map_changes over `docs`, as ActorRepository answers them; counts the calls."""

    def __init__(self):
        self.docs: dict[str, dict] = {}
        self.scans = 0
        self.changes_asked: list[datetime] = []
        self.fail = False

    def add(self, doc):
        self.docs[doc["actor_id"]] = doc

    def erase(self, actor_id, at):
        self.docs[actor_id] = {"actor_id": actor_id, "kind": self.docs[actor_id]["kind"], "erased_at": at,
                               "status": "erased"}

    def map_documents(self):
        if self.fail:
            raise ConnectionError("MongoDB unreachable")
        self.scans += 1
        return [dict(doc) for doc in self.docs.values()]

    def map_changes(self, since):
        if self.fail:
            raise ConnectionError("MongoDB unreachable")
        self.changes_asked.append(since)
        created = [dict(d) for d in self.docs.values() if d.get("created_at") and d["created_at"] >= since]
        erased = [{"actor_id": d["actor_id"], "kind": d["kind"], "status": "erased"}
                  for d in self.docs.values() if d.get("erased_at") and d["erased_at"] >= since]
        return created + erased


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def source():
    return Source()


@pytest.fixture
def follower(source, clock):
    return MapIndexFollower(lambda: source, margin_s=15, rebuild_s=3600, now=clock.now, monotonic=clock.monotonic,
                            spawn=lambda target, name: target())  # background work runs at once, in the test


def on_map(follower) -> list[str]:
    return [p.actor_id for p in follower.fresh().select(EVERYWHERE)]


def test_the_first_query_loads_the_index_with_one_scan(follower, source, clock):
    source.add(company(1, T0 - timedelta(days=3)))
    source.add({"actor_id": "act-pupil", "kind": "pupil", "town": "94080", "created_at": T0})
    assert on_map(follower) == ["act-0001"]
    assert source.scans == 1 and follower.watermark == T0
    clock.tick(1)
    assert on_map(follower) == ["act-0001"]
    assert source.scans == 1  # then only the changes
    assert source.changes_asked == [T0 - timedelta(seconds=15)]


def test_an_actor_registered_by_another_process_is_on_the_next_answer(follower, source, clock):
    source.add(company(1, T0 - timedelta(days=3)))
    on_map(follower)
    clock.tick(5)
    source.add(company(2, clock.at - timedelta(milliseconds=3)))  # written just before the query
    assert on_map(follower) == ["act-0001", "act-0002"]


def test_the_margin_catches_a_write_that_committed_after_a_later_catch_up(follower, source, clock):
    on_map(follower)
    clock.tick(10)
    on_map(follower)  # watermark: T0 + 10 s
    clock.tick(1)
    # Given its created_at at T0 + 2 s, committed only now: older than the watermark, within the margin.
    source.add(company(3, T0 + timedelta(seconds=2)))
    assert on_map(follower) == ["act-0003"]
    assert source.changes_asked[-1] == T0 + timedelta(seconds=10) - timedelta(seconds=15)


def test_an_erasure_by_another_process_removes_the_actor_for_good(follower, source, clock):
    source.add(company(1, T0 - timedelta(days=3)))
    source.add(company(2, T0 - timedelta(days=2)))
    on_map(follower)
    clock.tick(2)
    source.erase("act-0001", clock.at)
    assert on_map(follower) == ["act-0002"]
    follower.index.upsert(follower.index.get("act-0002"))  # harmless
    assert follower.index.is_erased("act-0001")


def test_an_actor_created_and_erased_between_two_answers_never_shows(follower, source, clock):
    on_map(follower)
    clock.tick(2)
    source.add(company(5, clock.at))
    stale_batch = source.map_changes(T0)  # what a catch-up read just before the erasure
    source.erase("act-0005", clock.at)
    clock.tick(1)
    assert on_map(follower) == []
    for doc in stale_batch:  # that batch applied late, or again: harmless
        follower.index.upsert(MapPoint.from_document(doc))
    assert on_map(follower) == []


def test_a_query_shares_a_catch_up_that_began_after_it_arrived_and_no_other(follower, source, clock):
    on_map(follower)
    arrived = clock.monotonic()
    clock.tick(0.5)
    follower.catch_up()  # another thread's, begun after `arrived`
    asked = len(source.changes_asked)
    assert follower.catch_up(arrived) == 0 and len(source.changes_asked) == asked  # shared
    clock.tick(0.5)
    late = clock.monotonic()
    source.add(company(9, clock.at))
    clock.tick(0.1)
    assert follower.catch_up(late - 1) == 0  # arrived before the last catch-up began: ...
    assert len(source.changes_asked) == asked  # ...it was enough
    assert follower.catch_up(late) == 1  # arrived after it began: its own catch-up, which sees act-0009
    assert len(source.changes_asked) == asked + 1


def test_a_failed_catch_up_answers_from_the_index_as_it_is(follower, source, clock, caplog):
    source.add(company(1, T0 - timedelta(days=3), name="Boulangerie Dupont"))
    on_map(follower)
    clock.tick(1)
    source.fail = True
    assert on_map(follower) == ["act-0001"]
    assert "catch-up failed" in caplog.text and "Dupont" not in caplog.text and "@" not in caplog.text
    source.fail = False
    source.add(company(2, clock.at))
    clock.tick(1)
    assert on_map(follower) == ["act-0001", "act-0002"]


def test_without_an_index_a_failed_load_is_unavailable_then_the_next_query_loads(follower, source, clock):
    source.add(company(1, T0 - timedelta(days=3)))
    source.fail = True
    with pytest.raises(MapUnavailable):
        follower.fresh()
    source.fail = False
    assert on_map(follower) == ["act-0001"]


def test_a_started_follower_is_loaded_before_the_first_query(source, clock):
    source.add(company(1, T0 - timedelta(days=3)))
    follower = MapIndexFollower(lambda: source, now=clock.now, monotonic=clock.monotonic)
    follower.start().join(timeout=10)
    assert follower.watermark == T0 and len(follower.index) == 1
    assert on_map(follower) == ["act-0001"] and source.scans == 1


def test_the_periodic_rescan_repairs_what_the_watermark_missed(follower, source, clock):
    source.add(company(1, T0 - timedelta(days=3)))
    on_map(follower)
    clock.tick(60)
    source.add(company(2, T0 - timedelta(days=1)))  # an old created_at committed now: no catch-up sees it
    assert on_map(follower) == ["act-0001"]
    clock.tick(3600)
    on_map(follower)  # due: this query starts the rescan (here at once; a background thread in the service)
    assert source.scans == 2
    assert on_map(follower) == ["act-0001", "act-0002"]


def test_a_failed_rescan_is_tried_again_a_period_later_not_at_every_query(follower, source, clock):
    on_map(follower)
    clock.tick(3601)
    source.fail = True
    on_map(follower)
    on_map(follower)
    source.fail = False
    clock.tick(10)
    on_map(follower)
    assert source.scans == 1
    clock.tick(3600)
    on_map(follower)
    assert source.scans == 2


def test_a_follower_refuses_negative_durations(source):
    with pytest.raises(ValueError):
        MapIndexFollower(lambda: source, margin_s=-1)
    with pytest.raises(ValueError):
        MapIndexFollower(lambda: source, rebuild_s=-1)
    assert isinstance(MapIndexFollower(lambda: source).index, MapIndex)
