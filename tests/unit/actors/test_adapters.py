"""The volunteers repository and its unit of work, against a mocked pymongo client. What they
inherit from vitawin_common.uow (transaction rules: commit, roll back, abort unless committed;
documents keyed by id, read without a session outside a block) is tested in
tests/unit/common/test_uow.py."""
from unittest.mock import MagicMock

import pytest

from vitawin_actors.adapters import MongoUnitOfWork
from vitawin_actors.domain import PledgeFilter


@pytest.fixture
def uow():
    db = MagicMock()
    collections = {}  # one mock per collection name, so volunteers and actors stay apart
    db.__getitem__.side_effect = lambda name: collections.setdefault(name, MagicMock(name=name))
    return MongoUnitOfWork(MagicMock(), db, outbox=MagicMock())


def test_the_volunteer_and_its_event_are_written_in_the_same_transaction(uow):
    event = object()
    with uow:
        uow.volunteers.add({"volunteer_id": "vol-1", "town": "94080"})
        uow.publish(event, "volunteers")
        uow.commit()
    session = uow.client.start_session.return_value.__enter__.return_value
    uow.volunteers.collection.insert_one.assert_called_once_with(
        {"_id": "vol-1", "volunteer_id": "vol-1", "town": "94080"}, session=session)
    uow.outbox.add.assert_called_once_with(event, "volunteers", session=session)
    session.commit_transaction.assert_called_once_with()


def test_page_sends_the_filter_query_counts_then_skips_and_limits_newest_first(uow):
    collection = uow.volunteers.collection
    collection.count_documents.return_value = 12
    cursor = collection.find.return_value
    cursor.sort.return_value.skip.return_value.limit.return_value = iter([{"volunteer_id": "vol-1"}])
    where = PledgeFilter(town="94080", action_type="mentoring")

    items, total = uow.volunteers.page(where, page=3, page_size=5)

    assert (items, total) == ([{"volunteer_id": "vol-1"}], 12)
    query = {"town": "94080", "action_types": "mentoring"}
    assert where.to_query() == query
    collection.count_documents.assert_called_once_with(query, session=None)
    collection.find.assert_called_once_with(query, {"_id": False}, session=None)
    cursor.sort.assert_called_once_with([("created_at", -1), ("_id", -1)])
    cursor.sort.return_value.skip.assert_called_once_with(10)
    cursor.sort.return_value.skip.return_value.limit.assert_called_once_with(5)


def test_page_without_a_filter_queries_everything(uow):
    uow.volunteers.collection.count_documents.return_value = 0
    uow.volunteers.page()
    uow.volunteers.collection.count_documents.assert_called_once_with({}, session=None)


def test_ensure_indexes_indexes_the_volunteers_and_the_outbox(uow):
    uow.ensure_indexes()
    uow.outbox.ensure_indexes.assert_called_once_with()
    keys = [call.args[0] for call in uow.volunteers.collection.create_index.call_args_list]
    assert keys == [[("town", 1)], [("action_types", 1)], [("created_at", -1)], [("actor_id", 1)],
                    [("town", 1), ("created_at", 1)]]
