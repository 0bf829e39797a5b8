"""The actors repository against a mocked pymongo collection: the queries it sends for the
directory list (never an erased actor) and the map's in-memory index (never a pupil, never a
contact), and that the unit of work writes an actor and
its event together, and an erasure (tombstone, linked pledges, event) in one transaction."""
from datetime import datetime, timezone
from unittest.mock import MagicMock

import pytest

from vitawin_actors.adapters import MongoUnitOfWork
from vitawin_actors.domain import MAPPED_KINDS, BoundingBox


@pytest.fixture
def uow():
    db = MagicMock()
    collections = {}
    db.__getitem__.side_effect = lambda name: collections.setdefault(name, MagicMock(name=name))
    return MongoUnitOfWork(MagicMock(), db, outbox=MagicMock())


def test_actors_live_in_the_actors_collection(uow):
    uow.db.__getitem__.assert_any_call("actors")
    assert uow.actors.collection is uow.db["actors"]
    assert uow.actors.collection is not uow.volunteers.collection


def test_the_actor_and_its_event_are_written_in_the_same_transaction(uow):
    event = object()
    with uow:
        uow.actors.add({"actor_id": "act-1", "kind": "pupil"})
        uow.publish(event, "actors")
        uow.commit()
    session = uow.client.start_session.return_value.__enter__.return_value
    uow.actors.collection.insert_one.assert_called_once_with(
        {"_id": "act-1", "actor_id": "act-1", "kind": "pupil"}, session=session)
    uow.outbox.add.assert_called_once_with(event, "actors", session=session)
    session.commit_transaction.assert_called_once_with()


def test_page_counts_then_skips_and_limits_newest_first(uow):
    collection = uow.actors.collection
    collection.count_documents.return_value = 7
    cursor = collection.find.return_value
    cursor.sort.return_value.skip.return_value.limit.return_value = iter([{"actor_id": "act-1"}])

    items, total = uow.actors.page(kinds=["company", "school"], town="94080", page=3, page_size=2)

    assert (items, total) == ([{"actor_id": "act-1"}], 7)
    query = {"status": {"$ne": "erased"}, "kind": {"$in": ["company", "school"]}, "town": "94080"}
    collection.count_documents.assert_called_once_with(query, session=None)
    collection.find.assert_called_once_with(query, {"_id": False}, session=None)
    cursor.sort.assert_called_once_with([("created_at", -1), ("_id", -1)])
    cursor.sort.return_value.skip.assert_called_once_with(4)
    cursor.sort.return_value.skip.return_value.limit.assert_called_once_with(2)


def test_page_without_filters_queries_everything(uow):
    uow.actors.collection.count_documents.return_value = 0
    uow.actors.page()
    uow.actors.collection.count_documents.assert_called_once_with({"status": {"$ne": "erased"}}, session=None)


def test_page_with_a_box_asks_for_a_location_inside_it(uow):
    uow.actors.collection.count_documents.return_value = 0
    uow.actors.page(kinds=["school"], bbox=BoundingBox(2.40, 48.79, 2.56, 48.86))
    query = uow.actors.collection.count_documents.call_args.args[0]
    assert query == {"status": {"$ne": "erased"}, "kind": {"$in": ["school"]},
                     "location.lon": {"$gte": 2.40, "$lte": 2.56}, "location.lat": {"$gte": 48.79, "$lte": 48.86}}
    assert uow.actors.collection.find.call_args.args[0] == query


MAP_FIELDS = {"_id": False, "actor_id": True, "kind": True, "name": True, "town": True, "location": True,
              "status": True}


def test_the_map_index_loads_organisations_and_schools_with_the_map_fields_only(uow):
    collection = uow.actors.collection
    uow.actors.map_documents()
    [call] = collection.find.call_args_list
    query, projection = call.args
    assert query == {"kind": {"$in": list(MAPPED_KINDS)}}  # tombstones too: the index keeps their ids
    assert "pupil" not in query["kind"]["$in"] and "territory_manager" not in query["kind"]["$in"]
    assert projection == MAP_FIELDS  # never a contact e-mail


def test_the_map_index_catches_up_with_two_indexed_queries_never_an_or(uow):
    collection = uow.actors.collection
    collection.find.side_effect = [iter([{"actor_id": "act-new"}]), iter([{"actor_id": "act-gone"}])]
    since = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
    assert uow.actors.map_changes(since) == [{"actor_id": "act-new"}, {"actor_id": "act-gone"}]
    created, erased = collection.find.call_args_list
    kinds = {"$in": list(MAPPED_KINDS)}
    assert created.args == ({"created_at": {"$gte": since}, "kind": kinds}, MAP_FIELDS)
    assert erased.args == ({"erased_at": {"$gte": since}, "kind": kinds},
                           {"_id": False, "actor_id": True, "kind": True, "status": True})


def test_ensure_indexes_indexes_the_actors(uow):
    uow.ensure_indexes()
    keys = [call.args[0] for call in uow.actors.collection.create_index.call_args_list]
    assert keys == [[("kind", 1), ("town", 1)], [("town", 1)], [("created_at", -1)], [("erased_at", 1)],
                    [("town", 1), ("created_at", 1)]]


def test_an_erasure_writes_the_tombstone_the_linked_pledges_and_the_event_in_one_transaction(uow):
    from vitawin_actors import handlers

    uow.actors.collection.find_one.return_value = {
        "actor_id": "act-1", "kind": "company", "name": "Boulangerie", "contact_email": "a@b.example.fr"}
    uow.volunteers.collection.find.return_value = [{"volunteer_id": "vol-1", "actor_id": "act-1",
                                                     "status": "withdrawn", "version": 3, "town": "94080",
                                                     "organisation_name": "Boulangerie",
                                                     "contact_email": "a@b.example.fr"}]
    uow.volunteers.collection.replace_one.return_value.matched_count = 1

    tomb = handlers.erase_actor("act-1", uow)

    session = uow.client.start_session.return_value.__enter__.return_value
    uow.actors.collection.find_one.assert_called_once_with({"_id": "act-1"}, {"_id": False}, session=session)
    uow.actors.collection.replace_one.assert_called_once_with({"_id": "act-1"}, {"_id": "act-1", **tomb},
                                                              session=session)
    uow.volunteers.collection.find.assert_called_once_with({"actor_id": "act-1"}, {"_id": False}, session=session)
    uow.volunteers.collection.replace_one.assert_called_once_with(
        {"_id": "vol-1", "version": 3},
        {"_id": "vol-1", "volunteer_id": "vol-1", "actor_id": "act-1", "status": "withdrawn", "version": 3,
         "town": "94080"}, session=session)
    [call] = uow.outbox.add.call_args_list
    assert (call.args[0].type, call.args[1], call.kwargs) == (
        "fr.vitawin.actor.erased.v1", "actors", {"session": session})
    session.commit_transaction.assert_called_once_with()
