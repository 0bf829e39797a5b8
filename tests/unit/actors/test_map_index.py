"""The map's in-memory index (vitawin_actors.domain.mapindex), plain Python: what a box query
selects (bounds included, kinds, town), never a pupil, erased actors gone for good, changes applied
twice harmless, and the grid clustering (counts that add up to the actors matching, cells of the
configured size in screen pixels, never more features than the cap, the same bytes whatever the
order the points came in)."""
from __future__ import annotations

import json
import math
import random
import threading

import pytest

from vitawin_actors.domain import (MAPPED_KINDS, Actor, Address, BoundingBox, MapIndex, MapPoint, MapSettings,
                                   RegisterOrganisation, RegisterPupil, RegisterSchool, fit_zoom, to_feature, tombstone)
from vitawin_common.territory import Location

BOX = BoundingBox(2.40, 48.80, 2.50, 48.90)


def point(n: int, lon: float, lat: float, kind: str = "company", town: str = "94080") -> MapPoint:
    return MapPoint(f"act-{n:04d}", kind, f"Organisation {n}", town, lon, lat)


def ids(points) -> list[str]:
    return [p.actor_id for p in points]


def loaded(points, **kwargs) -> MapIndex:
    index = MapIndex(**kwargs)
    index.replace_all(points)
    return index


def members_total(collection: dict) -> int:
    return sum(f["properties"]["count"] if f["properties"].get("cluster") else 1 for f in collection["features"])


def world_px(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    world = 256 * 2 ** zoom
    s = math.sin(math.radians(lat))
    return (lon + 180) / 360 * world, (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * world


def grid(count: int, seed: int = 1, kinds=MAPPED_KINDS, towns=("94080", "94033", "94079")) -> list[MapPoint]:
    rng = random.Random(seed)
    return [point(n, 2.40 + rng.random() * 0.1, 48.80 + rng.random() * 0.1, rng.choice(kinds), rng.choice(towns))
            for n in range(count)]


# --- what a query selects ----------------------------------------------------------------------------

def test_a_box_keeps_the_points_on_its_edges_and_leaves_out_those_just_outside():
    inside = [point(1, 2.40, 48.80), point(2, 2.50, 48.90), point(3, 2.40, 48.90), point(4, 2.45, 48.85)]
    outside = [point(5, 2.3999999, 48.85), point(6, 2.5000001, 48.85), point(7, 2.45, 48.7999999),
               point(8, 2.45, 48.9000001)]
    index = loaded(inside + outside)
    assert ids(index.select(BOX)) == ["act-0001", "act-0002", "act-0003", "act-0004"]
    assert index.count(BOX) == 4
    assert len(index.select()) == 8  # no box: every point


def test_kinds_and_town_filter_and_combine():
    index = loaded([point(1, 2.41, 48.81, "company", "94080"), point(2, 2.42, 48.82, "school", "94080"),
                    point(3, 2.43, 48.83, "school", "94033"), point(4, 2.44, 48.84, "association", "94033")])
    assert ids(index.select(BOX, kinds=["school"])) == ["act-0002", "act-0003"]
    assert ids(index.select(BOX, kinds=["school", "association"])) == ["act-0002", "act-0003", "act-0004"]
    assert ids(index.select(BOX, town="94033")) == ["act-0003", "act-0004"]
    assert ids(index.select(BOX, kinds=["school"], town="94033")) == ["act-0003"]
    assert index.select(BOX, town="75112") == []  # a town nobody is in
    assert index.select(BOX, kinds=["pupil"]) == []  # not a kind of the map: nothing
    assert len(index.select(BOX, kinds=[])) == 4  # no kind given: all of them


def test_a_pupil_a_manager_a_tombstone_or_an_actor_without_a_position_is_never_a_point():
    address = Address("1 rue de Fontenay", "94300")
    company = Actor.register(RegisterOrganisation("company", "Boulangerie", "b@example.fr", "12345678200010",
                                                  "10.71C", address, "94080", Location(48.8478, 2.4385))).to_document()
    school = Actor.register(RegisterSchool("Lycée", "r@example.fr", "0940120V", "college", ["3e"], address, "94080",
                                           Location(48.8470, 2.4400))).to_document()
    pupil = Actor.register(RegisterPupil("Léa", "3e", "0940120V", "94080",
                                         guardian_contact_email="g@example.fr")).to_document()
    assert MapPoint.from_document(pupil) is None
    assert MapPoint.from_document({"actor_id": "act-m", "kind": "territory_manager", "name": "Camille"}) is None
    assert MapPoint.from_document(tombstone(company)) is None
    assert MapPoint.from_document({**company, "location": None}) is None
    assert MapPoint.from_document({**company, "location": {"lat": float("nan"), "lon": 2.4}}) is None
    index = MapIndex()
    assert index.upsert(MapPoint(pupil["actor_id"], "pupil", "Léa", "94080", 2.44, 48.85)) is False
    index.replace_all([MapPoint(pupil["actor_id"], "pupil", "Léa", "94080", 2.44, 48.85),
                       MapPoint.from_document(company), MapPoint.from_document(school)])
    assert sorted(ids(index.select())) == sorted([company["actor_id"], school["actor_id"]])
    text = json.dumps(index.feature_collection(zoom=16), ensure_ascii=False)
    assert pupil["actor_id"] not in text and "Léa" not in text and "@" not in text


def test_a_point_feature_keeps_the_shape_the_map_always_served():
    doc = Actor.register(RegisterOrganisation("craftsman", "Plomberie", "p@example.fr", "73282932000074", "43.22A",
                                              Address("2 rue X", "94350"), "94079", Location(48.8270, 2.5440))
                         ).to_document()
    assert MapPoint.from_document(doc).to_feature() == to_feature(doc)
    index = loaded([MapPoint.from_document(doc)])
    assert index.feature_collection(zoom=16) == {"type": "FeatureCollection", "features": [to_feature(doc)],
                                                 "total": 1, "clustered": False}


# --- changes -----------------------------------------------------------------------------------------

def test_an_erased_actor_leaves_the_map_and_never_comes_back():
    index = loaded([point(1, 2.41, 48.81), point(2, 2.42, 48.82)])
    assert index.erase("act-0001") is True
    assert ids(index.select()) == ["act-0002"]
    assert index.upsert(point(1, 2.41, 48.81)) is False  # an older batch replayed: stays erased
    index.replace_all([point(1, 2.41, 48.81), point(2, 2.42, 48.82)])  # a scan read before the erasure
    assert ids(index.select()) == ["act-0002"]
    assert index.erase("act-0001") is False  # twice: nothing more to remove
    assert index.is_erased("act-0001")


def test_changes_applied_twice_leave_the_index_as_applied_once():
    changes = [point(3, 2.43, 48.83), point(4, 2.44, 48.84, "school"), point(1, 2.415, 48.815)]  # 1 moved
    once, twice = loaded([point(1, 2.41, 48.81), point(2, 2.42, 48.82)]), loaded([point(1, 2.41, 48.81),
                                                                                 point(2, 2.42, 48.82)])
    for p in changes:
        once.upsert(p)
        twice.upsert(p)
    once.erase("act-0002")
    twice.erase("act-0002")
    assert [twice.upsert(p) for p in changes] == [False, False, False]
    assert twice.erase("act-0002") is False
    assert once.select() == twice.select()
    assert len(twice) == 3 and twice.get("act-0001") == point(1, 2.415, 48.815)
    assert once.feature_collection(BOX, zoom=16) == twice.feature_collection(BOX, zoom=16)


def test_many_changes_compact_into_the_same_answers_as_a_fresh_index():
    start = grid(300)
    index = loaded(start, compact_min=20, compact_share=0.05)
    current = {p.actor_id: p for p in start}
    rng = random.Random(7)
    for n in range(300, 500):
        if rng.random() < 0.3:
            gone = rng.choice(sorted(current))
            index.erase(gone)
            del current[gone]
        else:
            p = point(n, 2.40 + rng.random() * 0.1, 48.80 + rng.random() * 0.1)
            index.upsert(p)
            current[p.actor_id] = p
    assert index.compactions > 0
    fresh = loaded(current.values())
    assert index.select() == fresh.select()
    for zoom in (11, 14, 17):
        assert index.feature_collection(BOX, zoom=zoom) == fresh.feature_collection(BOX, zoom=zoom)


def test_queries_and_changes_from_several_threads_keep_every_point():
    index = loaded(grid(2000), compact_min=50)
    errors = []

    def write(offset):
        try:
            for n in range(offset, offset + 500):
                index.upsert(point(n, 2.45, 48.85))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    def read():
        try:
            for _ in range(50):
                collection = index.feature_collection(BOX, zoom=15, settings=MapSettings(max_points=100))
                assert members_total(collection) == collection["total"]
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(10_000 + 1000 * k,)) for k in range(3)]
    threads += [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(index) == 2000 + 1500 and index.count(BOX) == 3500


# --- clustering --------------------------------------------------------------------------------------

def test_under_the_cap_and_at_a_large_zoom_the_answer_is_the_points_sorted_by_id():
    points = grid(50)
    collection = loaded(reversed(points)).feature_collection(BOX, zoom=14, settings=MapSettings(max_points=50))
    assert collection["clustered"] is False and collection["total"] == 50
    assert [f["id"] for f in collection["features"]] == sorted(p.actor_id for p in points)


@pytest.mark.parametrize("zoom", [11, 13, 15, 17])
def test_over_the_cap_clusters_count_every_matching_actor_once(zoom):
    index = loaded(grid(3000))
    settings = MapSettings(max_points=500, cluster_below_zoom=0)
    for kinds, town in ((None, None), (["school", "company"], None), (None, "94033")):
        collection = index.feature_collection(BOX, zoom=zoom, kinds=kinds, town=town, settings=settings)
        matching = index.count(BOX, kinds, town)
        assert collection["total"] == matching and members_total(collection) == matching
        assert len(collection["features"]) <= settings.max_points
        clusters = [f for f in collection["features"] if f["properties"].get("cluster")]
        assert clusters and collection["clustered"] is True
        for feature in clusters:
            props = feature["properties"]
            assert set(props) == {"cluster", "count", "kinds", "bbox"} and props["count"] >= 2
            assert sum(props["kinds"].values()) == props["count"]
            assert set(props["kinds"]) <= set(kinds or MAPPED_KINDS)
            min_lon, min_lat, max_lon, max_lat = props["bbox"]
            lon, lat = feature["geometry"]["coordinates"]
            assert min_lon - 1e-6 <= lon <= max_lon + 1e-6 and min_lat - 1e-6 <= lat <= max_lat + 1e-6


def test_a_cluster_holds_exactly_the_points_of_its_cell_and_its_bbox_is_theirs():
    zoom, cell = 15, 80
    # Points placed by pixel at zoom 15: two cells of three, one of one (it stays a point).
    def at(px, py):
        world = 256 * 2 ** zoom
        lon = px / world * 360 - 180
        lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * py / world))))
        return lon, lat
    x0, y0 = (int(v) // cell * cell for v in world_px(2.44, 48.85, zoom))
    spots = {1: (x0 + 5, y0 + 5), 2: (x0 + 70, y0 + 10), 3: (x0 + 40, y0 + 75),  # cell A
             4: (x0 + 85, y0 + 5), 5: (x0 + 155, y0 + 75), 6: (x0 + 120, y0 + 40),  # cell B, east of A
             7: (x0 + 5, y0 + 85)}  # alone, south of A
    points = [point(n, *at(*xy), kind="school" if n in (1, 4) else "company") for n, xy in spots.items()]
    collection = loaded(points).feature_collection(zoom=zoom, settings=MapSettings(max_points=3, cell_px=cell,
                                                                                   cluster_below_zoom=0))
    a, b, alone = collection["features"]  # rows north to south, each west to east
    assert a["properties"]["count"] == 3 and a["properties"]["kinds"] == {"company": 2, "school": 1}
    assert b["properties"]["count"] == 3 and b["properties"]["kinds"] == {"company": 2, "school": 1}
    assert alone["id"] == "act-0007" and alone["properties"]["actor_id"] == "act-0007"
    members = {p.actor_id: p for p in points}
    for feature, group in ((a, (1, 2, 3)), (b, (4, 5, 6))):
        lons = [members[f"act-{n:04d}"].lon for n in group]
        lats = [members[f"act-{n:04d}"].lat for n in group]
        assert feature["properties"]["bbox"] == [min(lons), min(lats), max(lons), max(lats)]
        assert feature["geometry"]["coordinates"] == pytest.approx([sum(lons) / 3, sum(lats) / 3], abs=1e-6)
    assert collection["total"] == 7 and members_total(collection) == 7


def test_below_the_zoom_threshold_even_a_few_actors_are_clustered():
    points = [point(1, 2.4400, 48.8500), point(2, 2.4401, 48.8501), point(3, 2.60, 48.70)]
    index = loaded(points)
    settings = MapSettings(max_points=1500, cluster_below_zoom=12)
    low = index.feature_collection(zoom=11, settings=settings)
    assert low["clustered"] is True
    assert [f["properties"].get("count", 1) for f in low["features"]] == [2, 1]
    high = index.feature_collection(zoom=12, settings=settings)
    assert high["clustered"] is False and len(high["features"]) == 3


def test_a_huge_box_at_the_largest_zoom_still_gives_no_more_features_than_the_cap():
    index = loaded(grid(5000))
    collection = index.feature_collection(BoundingBox(-180, -85, 180, 85), zoom=20,
                                          settings=MapSettings(max_points=200))
    assert len(collection["features"]) <= 200
    assert members_total(collection) == collection["total"] == 5000


def test_the_same_points_give_the_same_bytes_whatever_their_order_and_history():
    points = grid(2000)
    first = loaded(points)
    second = MapIndex(compact_min=100)
    second.replace_all(points[1000:])
    for p in reversed(points[:1000]):  # the rest arrive one by one, in another order
        second.upsert(p)
    settings = MapSettings(max_points=300)
    for zoom in (12, 14, 16):
        assert (json.dumps(first.feature_collection(BOX, zoom=zoom, settings=settings), sort_keys=True)
                == json.dumps(second.feature_collection(BOX, zoom=zoom, settings=settings), sort_keys=True))


def test_without_a_zoom_only_the_cap_clusters_with_the_cells_of_the_zoom_that_fits_the_box():
    territory = BoundingBox(2.40, 48.78, 2.60, 48.87)  # about 15 x 10 km
    assert fit_zoom(territory) == 12  # 1024 x 768 px: 12 fits, 13 does not
    assert fit_zoom(BoundingBox(-180, -85, 180, 85)) == 1  # 768 px high: the world is 512 at zoom 1
    assert fit_zoom(BoundingBox(2.44, 48.85, 2.44, 48.85)) == 20
    index = loaded(grid(100))
    assert index.feature_collection(territory, settings=MapSettings(cluster_below_zoom=20))["clustered"] is False
    capped = index.feature_collection(territory, settings=MapSettings(max_points=50))
    at_12 = index.feature_collection(territory, zoom=12, settings=MapSettings(max_points=50))
    assert capped == at_12 and capped["clustered"] is True
    no_box = index.feature_collection(settings=MapSettings(max_points=50))  # the points' extent decides
    assert members_total(no_box) == 100 and no_box["clustered"] is True


def test_an_empty_answer_is_an_empty_collection():
    for index in (MapIndex(), loaded(grid(10))):
        assert index.feature_collection(BoundingBox(5.0, 43.0, 5.5, 43.5), zoom=3) == {
            "type": "FeatureCollection", "features": [], "total": 0, "clustered": False}


def test_settings_refuse_nonsense():
    for bad in ({"max_points": 0}, {"cell_px": 0}, {"cluster_below_zoom": 22}):
        with pytest.raises(ValueError):
            MapSettings(**bad)
