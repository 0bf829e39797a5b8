"""VolunteerIndex (vitawin_matching.index) against a brute-force reference: the exact haversine
distance of vitawin_common.territory over every live offer, filtered by the radius and each
offer's own limit, sorted by (distance, volunteer id)."""
from __future__ import annotations

import random
import threading

import pytest

from vitawin_common.territory import Location, distance_km

from vitawin_matching.index import Offer, VolunteerIndex

ACTIONS = ("internship", "testimony", "apprenticeship", "job_fair", "intervention", "mentoring")
TERRITORY = ((48.76, 48.87), (2.38, 2.60))
FAR_POINTS = [(43.2965, 5.3698), (45.764, 4.8357), (51.5074, -0.1278), (-33.8688, 151.2093),
              (40.7128, -74.006), (64.1466, -21.9426), (-54.8019, -68.303), (48.8566, 2.3522)]


class Reference:
    """What the index must answer, computed the slow way from the last state of each volunteer."""

    def __init__(self):
        self.volunteers: dict[str, tuple[int, list[Offer], object]] = {}  # live ones
        self.versions: dict[str, int] = {}

    def upsert(self, volunteer_id, version, offers, payload) -> bool:
        if volunteer_id in self.versions and version <= self.versions[volunteer_id]:
            return False
        self.versions[volunteer_id] = version
        self.volunteers[volunteer_id] = (version, list(offers), payload)
        return True

    def remove(self, volunteer_id, version) -> bool:
        if volunteer_id in self.versions and version <= self.versions[volunteer_id]:
            return False
        self.versions[volunteer_id] = version
        self.volunteers.pop(volunteer_id, None)
        return True

    def nearby(self, action_type, lat, lon, radius_km):
        found = []
        for volunteer_id, (_, offers, payload) in self.volunteers.items():
            for offer in offers:
                if offer.action_type == action_type and not offer.remote:
                    d = distance_km(Location(lat, lon), Location(offer.lat, offer.lon))
                    if d <= radius_km and d <= offer.limit_km:
                        found.append((volunteer_id, d, payload))
        return sorted(found, key=lambda hit: (hit[1], hit[0]))

    def remote(self, action_type):
        return sorted((volunteer_id, payload) for volunteer_id, (_, offers, payload) in self.volunteers.items()
                      if any(o.action_type == action_type and o.remote for o in offers))

    def entries(self):
        return sum(len(offers) for _, offers, _ in self.volunteers.values())


def random_point(rng: random.Random) -> tuple[float, float]:
    if rng.random() < 0.9:
        return rng.uniform(*TERRITORY[0]), rng.uniform(*TERRITORY[1])
    if rng.random() < 0.5:
        return rng.choice(FAR_POINTS)
    return rng.uniform(-80, 80), rng.uniform(-180, 180)


def random_offers(rng: random.Random) -> list[Offer]:
    offers = []
    for action in rng.sample(ACTIONS, rng.choice([1, 1, 2, 2, 3])):
        lat, lon = random_point(rng)
        offers.append(Offer(action, lat, lon, rng.uniform(1, 30), remote=rng.random() < 0.1))
    return offers


def assert_same(got, expected):
    assert [hit[0] for hit in got] == [hit[0] for hit in expected]
    assert [hit[1] for hit in got] == pytest.approx([hit[1] for hit in expected], abs=1e-9)
    assert [hit[2] for hit in got] == [hit[2] for hit in expected]


def assert_answers_like(index: VolunteerIndex, reference: Reference, rng: random.Random, queries: int = 60):
    assert len(index) == reference.entries()
    for _ in range(queries):
        action = rng.choice(ACTIONS)
        lat, lon = random_point(rng)
        radius = rng.choice([0.5, 2.0, 5.0, 10.0, 20.0, 40.0])
        expected = reference.nearby(action, lat, lon, radius)
        assert_same(index.nearby(action, lat, lon, radius), expected)
        assert_same(list(index.iter_nearby(action, lat, lon, radius, batch=4)), expected)
    for action in ACTIONS:
        assert index.remote(action) == reference.remote(action)


def loaded(rng: random.Random, volunteers: int, **options) -> tuple[VolunteerIndex, Reference]:
    index, reference = VolunteerIndex(**options), Reference()
    rows = [(f"vol-{i:05d}", 1, random_offers(rng), f"payload-{i}") for i in range(volunteers)]
    rng.shuffle(rows)
    for row in rows:
        reference.upsert(*row)
    assert index.bulk_load(rows) == volunteers
    return index, reference


def test_nearby_matches_brute_force_on_random_points():
    rng = random.Random(1)
    index, reference = loaded(rng, 3000)
    assert sum(s["tree"] for s in index.stats().values()) > 0  # answered from trees, not a scan
    assert_answers_like(index, reference, rng, queries=200)


def test_results_stay_exact_through_upserts_removes_and_rebuilds():
    rng = random.Random(2)
    index, reference = loaded(rng, 1500, rebuild_min=50, rebuild_share=0.05)
    next_id = 1500
    for step in range(1500):
        roll = rng.random()
        if roll < 0.35:  # a new volunteer
            row = (f"vol-{next_id:05d}", 1, random_offers(rng), f"payload-{next_id}")
            next_id += 1
            assert index.upsert(*row) == reference.upsert(*row)
        elif roll < 0.7:  # an update of a known one, sometimes stale
            volunteer_id = f"vol-{rng.randrange(next_id):05d}"
            version = reference.versions[volunteer_id] + rng.choice([-1, 0, 1, 2])
            row = (volunteer_id, version, random_offers(rng), f"payload-{volunteer_id}-{version}")
            assert index.upsert(*row) == reference.upsert(*row)
        else:  # a withdrawal or a pause, sometimes stale
            volunteer_id = f"vol-{rng.randrange(next_id):05d}"
            version = reference.versions[volunteer_id] + rng.choice([-1, 0, 1])
            assert index.remove(volunteer_id, version) == reference.remove(volunteer_id, version)
        if step % 100 == 0:
            assert_answers_like(index, reference, rng, queries=20)
    assert index.rebuilds > 0
    assert_answers_like(index, reference, rng, queries=100)
    index.rebuild()
    assert all(s["pending"] == 0 for s in index.stats().values())
    assert_answers_like(index, reference, rng, queries=100)


def test_a_tree_is_rebuilt_when_its_delta_exceeds_the_threshold():
    index = VolunteerIndex(rebuild_min=10, rebuild_share=0.05)
    index.bulk_load([(f"v{i:03d}", 1, [Offer("internship", 48.8 + i / 1000, 2.4, 30)], None) for i in range(400)])
    assert index.stats()["internship"] == {"tree": 400, "pending": 0, "located": 400, "remote": 0}
    for i in range(10):  # threshold: max(10, 5% of 400) = 20 pending changes
        index.upsert(f"v{i:03d}", 2, [Offer("internship", 48.9, 2.5, 30)], None)
    assert index.rebuilds == 0
    assert index.stats()["internship"]["pending"] == 20  # 10 masked in the tree, 10 in the delta
    index.remove("v399", 2)
    assert index.rebuilds == 1
    assert index.stats()["internship"] == {"tree": 399, "pending": 0, "located": 399, "remote": 0}


def test_an_older_or_equal_version_is_ignored_and_a_newer_one_replaces():
    index = VolunteerIndex()
    assert index.version_of("v1") is None
    assert index.upsert("v1", 3, [Offer("internship", 48.80, 2.45, 10)], "third")
    assert not index.upsert("v1", 2, [Offer("internship", 48.81, 2.45, 10)], "second")
    assert not index.upsert("v1", 3, [Offer("internship", 48.81, 2.45, 10)], "third again")
    assert [hit[2] for hit in index.nearby("internship", 48.80, 2.45, 1)] == ["third"]
    assert index.upsert("v1", 4, [Offer("testimony", 48.82, 2.45, 10)], "fourth")
    assert index.nearby("internship", 48.80, 2.45, 50) == []  # every entry replaced
    assert [hit[2] for hit in index.nearby("testimony", 48.82, 2.45, 1)] == ["fourth"]
    assert index.version_of("v1") == 4 and len(index) == 1


def test_remove_then_only_a_newer_upsert_brings_the_volunteer_back():
    index = VolunteerIndex()
    index.upsert("v1", 1, [Offer("internship", 48.80, 2.45, 10), Offer("internship", 0, 0, 0, remote=True)], "p")
    assert not index.remove("v1", 1)  # not newer
    assert index.remove("v1", 2)
    assert index.nearby("internship", 48.80, 2.45, 10) == [] and index.remote("internship") == []
    assert len(index) == 0 and index.version_of("v1") == 2
    assert not index.upsert("v1", 1, [Offer("internship", 48.80, 2.45, 10)], "replayed")
    assert not index.upsert("v1", 2, [Offer("internship", 48.80, 2.45, 10)], "same version")
    assert index.nearby("internship", 48.80, 2.45, 10) == []
    assert not index.remove("v1", 1)  # an older removal after a newer state changes nothing
    assert index.upsert("v1", 3, [Offer("internship", 48.80, 2.45, 10)], "back")
    assert [hit[2] for hit in index.nearby("internship", 48.80, 2.45, 10)] == ["back"]
    assert not index.remove("v1", 3)
    assert len(index.nearby("internship", 48.80, 2.45, 10)) == 1


def test_a_removal_before_any_upsert_holds_against_older_states():
    index = VolunteerIndex()
    assert index.remove("v1", 5)
    assert not index.upsert("v1", 4, [Offer("internship", 48.80, 2.45, 10)], "older")
    assert index.nearby("internship", 48.80, 2.45, 10) == []
    index.bulk_load([("v1", 4, [Offer("internship", 48.80, 2.45, 10)], "older")])
    assert index.nearby("internship", 48.80, 2.45, 10) == []


def test_each_entry_is_limited_by_its_own_distance_limit():
    index = VolunteerIndex()
    here = (48.80, 2.45)
    three_km_north = (48.80 + 3 / 111.2, 2.45)
    index.upsert("near-limit", 1, [Offer("internship", *three_km_north, limit_km=2.0)], None)
    index.upsert("far-limit", 1, [Offer("internship", *three_km_north, limit_km=20.0)], None)
    assert [hit[0] for hit in index.nearby("internship", *here, 10)] == ["far-limit"]
    assert [hit[0] for hit in index.nearby("internship", *three_km_north, 10)] == ["far-limit", "near-limit"]
    assert index.nearby("internship", *here, 2.9) == []  # and the request's radius


def test_remote_offers_are_listed_by_id_and_not_searched_by_distance():
    index = VolunteerIndex()
    index.upsert("v2", 1, [Offer("testimony", 10.0, 10.0, 1, remote=True)], "two")
    index.upsert("v1", 1, [Offer("testimony", 48.8, 2.4, 5), Offer("testimony", 0, 0, 0, remote=True)], "one")
    index.upsert("v3", 1, [Offer("mentoring", 0, 0, 0, remote=True)], "three")
    assert index.remote("testimony") == [("v1", "one"), ("v2", "two")]
    assert index.remote("mentoring") == [("v3", "three")]
    assert [hit[0] for hit in index.nearby("testimony", 10.0, 10.0, 100)] == []
    assert [hit[0] for hit in index.nearby("testimony", 48.8, 2.4, 1)] == ["v1"]
    assert len(index) == 4
    index.upsert("v1", 2, [Offer("testimony", 48.8, 2.4, 5)], "one")
    assert index.remote("testimony") == [("v2", "two")]
    index.remove("v2", 2)
    assert index.remote("testimony") == [] and len(index) == 2


def test_radius_zero_finds_only_the_point_itself_with_ties_by_id():
    index = VolunteerIndex()
    index.bulk_load([("b", 1, [Offer("job_fair", 48.8, 2.4, 10)], None),
                     ("c", 1, [Offer("job_fair", 48.8, 2.4001, 10)], None)])
    index.upsert("a", 1, [Offer("job_fair", 48.8, 2.4, 0)], None)  # in the delta, limit 0
    assert index.nearby("job_fair", 48.8, 2.4, 0) == [("a", 0.0, None), ("b", 0.0, None)]
    assert list(index.iter_nearby("job_fair", 48.8, 2.4, 0)) == [("a", 0.0, None), ("b", 0.0, None)]
    assert [hit[0] for hit in index.nearby("job_fair", 48.8, 2.4, 1)] == ["a", "b", "c"]


def test_equal_distances_are_ordered_by_volunteer_id():
    index = VolunteerIndex()
    ids = [f"v{i}" for i in (5, 3, 9, 1, 7)]
    index.bulk_load([(i, 1, [Offer("internship", 48.81, 2.45, 30)], i) for i in ids[:3]])
    for i in ids[3:]:
        index.upsert(i, 1, [Offer("internship", 48.81, 2.45, 30)], i)
    index.upsert("v0", 1, [Offer("internship", 48.85, 2.45, 30)], "v0")
    got = index.nearby("internship", 48.80, 2.45, 10)
    assert [hit[0] for hit in got] == ["v1", "v3", "v5", "v7", "v9", "v0"]


def test_an_empty_index_answers_nothing():
    index = VolunteerIndex()
    assert len(index) == 0 and index.version_of("x") is None
    assert index.nearby("internship", 48.8, 2.4, 10) == []
    assert list(index.iter_nearby("internship", 48.8, 2.4, 10)) == []
    assert index.nearest("internship", 48.8, 2.4, 10, 3) == []
    assert index.remote("internship") == []
    assert index.bulk_load([]) == 0 and len(index) == 0
    index.upsert("v1", 1, [Offer("internship", 48.8, 2.4, 10)], None)
    assert index.nearby("testimony", 48.8, 2.4, 10) == []  # another action type
    index.remove("v1", 2)
    index.rebuild()
    assert index.nearby("internship", 48.8, 2.4, 10) == [] and len(index) == 0


def test_antimeridian_and_poles_do_not_break_the_search():
    rng = random.Random(7)
    rows = []
    for i in range(400):
        lat = rng.choice([rng.uniform(89.5, 90), rng.uniform(-90, -89.5), rng.uniform(-60, 60)])
        lon = rng.choice([rng.uniform(179.5, 180), rng.uniform(-180, -179.5), rng.uniform(-180, 180)])
        rows.append((f"v{i:03d}", 1, [Offer("internship", lat, lon, rng.uniform(1, 200))], i))
    index, reference = VolunteerIndex(rebuild_min=10), Reference()
    index.bulk_load(rows[:300])
    for row in rows:
        reference.upsert(*row)
    for row in rows[300:]:
        index.upsert(*row)
    for lat, lon in [(90, 0), (-90, 45), (89.9, 180), (0, 180), (0, -180), (10, 179.99), (-10, -179.99)]:
        for radius in (0, 50, 150, 20_000):
            expected = reference.nearby("internship", lat, lon, radius)
            assert_same(index.nearby("internship", lat, lon, radius), expected)
            assert_same(list(index.iter_nearby("internship", lat, lon, radius, batch=2)), expected)


def test_near_the_antimeridian_both_sides_are_found():
    index = VolunteerIndex()
    index.upsert("east", 1, [Offer("internship", 0.0, 179.99, 50)], None)
    index.upsert("west", 1, [Offer("internship", 0.0, -179.99, 50)], None)
    got = index.nearby("internship", 0.0, 180.0, 5)
    assert [hit[0] for hit in got] == ["east", "west"]
    assert got[0][1] == pytest.approx(1.112, abs=0.001)


def test_nearest_takes_the_first_accepted_in_distance_order():
    rng = random.Random(3)
    index, reference = loaded(rng, 2000)
    for i in range(50):  # a few in the delta too
        row = (f"new-{i}", 1, random_offers(rng), f"new-{i}")
        index.upsert(*row)
        reference.upsert(*row)
    for _ in range(50):
        action, (lat, lon) = rng.choice(ACTIONS), random_point(rng)
        everything = reference.nearby(action, lat, lon, 15)
        accept = lambda volunteer_id, distance, payload: volunteer_id.endswith(("1", "4", "7"))  # noqa: E731
        expected = [hit for hit in everything if accept(*hit)][:5]
        assert_same(index.nearest(action, lat, lon, 15, 5, accept), expected)
        assert_same(index.nearest(action, lat, lon, 15, 5, accept, batch=2), expected)
        assert_same(index.nearest(action, lat, lon, 15, 3), everything[:3])


def test_invalid_offers_are_refused_and_change_nothing():
    index = VolunteerIndex()
    index.upsert("v1", 1, [Offer("internship", 48.8, 2.4, 10)], "kept")
    bad = [[Offer("internship", 91.0, 2.4, 10)], [Offer("internship", 48.8, float("nan"), 10)],
           [Offer("internship", 48.8, 2.4, -1)], [Offer("", 48.8, 2.4, 10)],
           [Offer("internship", 48.8, 2.4, 10), Offer("internship", 48.9, 2.4, 10)]]
    for offers in bad:
        with pytest.raises(ValueError):
            index.upsert("v1", 2, offers, "bad")
        with pytest.raises(ValueError):
            index.bulk_load([("v2", 1, [Offer("testimony", 48.8, 2.4, 10)], None), ("v1", 2, offers, "bad")])
    assert index.version_of("v1") == 1 and index.version_of("v2") is None and len(index) == 1
    assert [hit[2] for hit in index.nearby("internship", 48.8, 2.4, 1)] == ["kept"]
    with pytest.raises(ValueError):
        index.nearby("internship", 48.8, 2.4, -1)
    with pytest.raises(ValueError):
        index.nearby("internship", 95, 2.4, 1)


def test_bulk_load_keeps_what_it_does_not_replace_and_takes_the_newest():
    index = VolunteerIndex()
    index.upsert("kept", 1, [Offer("internship", 48.80, 2.45, 10)], "kept")
    index.upsert("replaced", 5, [Offer("internship", 48.80, 2.46, 10)], "old")
    index.upsert("stale", 5, [Offer("internship", 48.80, 2.47, 10)], "held")
    applied = index.bulk_load([("replaced", 6, [Offer("testimony", 48.80, 2.46, 10)], "new"),
                               ("stale", 4, [Offer("testimony", 48.80, 2.47, 10)], "stale"),
                               ("twice", 1, [Offer("testimony", 48.81, 2.45, 10)], "first"),
                               ("twice", 2, [Offer("testimony", 48.82, 2.45, 10)], "second")])
    assert applied == 2
    assert [hit[2] for hit in index.nearby("internship", 48.80, 2.45, 5)] == ["kept", "held"]
    assert [hit[2] for hit in index.nearby("testimony", 48.80, 2.45, 5)] == ["new", "second"]
    assert index.version_of("twice") == 2 and index.version_of("stale") == 5 and len(index) == 4


def test_queries_while_a_writer_changes_the_index():
    rng = random.Random(5)
    index, reference = loaded(rng, 2000, rebuild_min=20)
    updates = []
    for i in range(1500):
        volunteer_id = f"vol-{rng.randrange(2000):05d}"
        updates.append((volunteer_id, 2 + i, random_offers(rng), f"w{i}") if rng.random() < 0.7
                       else (volunteer_id, 2 + i))
    errors = []

    def write():
        for update in updates:
            index.upsert(*update) if len(update) == 4 else index.remove(*update)

    def read():
        query_rng = random.Random(6)
        try:
            while writer.is_alive():
                action, (lat, lon) = query_rng.choice(ACTIONS), random_point(query_rng)
                hits = index.nearby(action, lat, lon, 10)
                assert len({hit[0] for hit in hits}) == len(hits)
                assert [hit[1] for hit in hits] == sorted(hit[1] for hit in hits)
                index.nearest(action, lat, lon, 10, 3)
                index.remote(action)
        except Exception as error:  # reported to the main thread
            errors.append(error)

    writer = threading.Thread(target=write)
    readers = [threading.Thread(target=read) for _ in range(2)]
    writer.start()
    for reader in readers:
        reader.start()
    writer.join()
    for reader in readers:
        reader.join()
    assert errors == []
    for update in updates:
        reference.upsert(*update) if len(update) == 4 else reference.remove(*update)
    assert index.rebuilds > 0
    assert_answers_like(index, reference, rng, queries=100)


def test_remote_offers_are_listed_lazily_from_any_start_and_wrap_around_once():
    index = VolunteerIndex()
    for n in range(10):
        index.upsert(f"v{n}", 1, [Offer("testimony", 0.0, 0.0, 0.0, remote=True)], n)
    everyone = index.remote("testimony")
    assert list(index.iter_remote("testimony", chunk=3)) == everyone
    assert list(index.iter_remote("testimony", start=7, chunk=3)) == everyone[7:] + everyone[:7]
    assert list(index.iter_remote("testimony", start=27)) == everyone[7:] + everyone[:7]  # modulo their number
    lazy = index.iter_remote("testimony", chunk=2)
    assert [next(lazy) for _ in range(3)] == everyone[:3]
    assert list(index.iter_remote("mentoring")) == []
