"""The requests repository and its unit of work, against a mocked pymongo client. What they
inherit from vitawin_common.uow (transaction rules: commit, roll back, abort unless committed;
documents keyed by id, read without a session outside a block) is tested in
tests/unit/common/test_uow.py."""
from unittest.mock import MagicMock

import pytest

from vitawin_requests.adapters import MongoUnitOfWork


@pytest.fixture
def uow():
    return MongoUnitOfWork(MagicMock(), MagicMock(), outbox=MagicMock())


def test_the_request_and_its_event_are_written_in_the_same_transaction(uow):
    event = object()
    with uow:
        uow.requests.add({"request_id": "req-1", "town": "94080"})
        uow.publish(event, "requests")
        uow.commit()
    session = uow.client.start_session.return_value.__enter__.return_value
    uow.requests.collection.insert_one.assert_called_once_with(
        {"_id": "req-1", "request_id": "req-1", "town": "94080"}, session=session)
    uow.outbox.add.assert_called_once_with(event, "requests", session=session)
    session.commit_transaction.assert_called_once_with()


def test_list_queries_only_the_given_filters_newest_first(uow):
    cursor = uow.requests.collection.find.return_value
    cursor.sort.return_value.limit.return_value = iter([{"request_id": "req-1"}])
    assert uow.requests.list(town="94033", requester_kind="pupil", limit=5) == [{"request_id": "req-1"}]
    uow.requests.collection.find.assert_called_once_with(
        {"town": "94033", "requester_kind": "pupil"}, {"_id": False}, session=None)
    cursor.sort.assert_called_once_with([("created_at", -1), ("_id", -1)])
    cursor.sort.return_value.limit.assert_called_once_with(5)


def test_ensure_indexes_indexes_the_requests_and_the_outbox(uow):
    uow.ensure_indexes()
    uow.outbox.ensure_indexes.assert_called_once_with()
    keys = [call.args[0] for call in uow.requests.collection.create_index.call_args_list]
    assert keys == [[("town", 1)], [("action_type", 1), ("status", 1)], [("created_at", -1)]]
