"""MongoUnitOfWork against a fake pymongo client that behaves like pymongo's session: leaving
`with session.start_transaction():` without an error commits whatever is still open."""
from contextlib import contextmanager
from unittest.mock import MagicMock

import pytest

from vitawin_actors.adapters import MongoUnitOfWork


class FakeSession:
    def __init__(self):
        self.in_transaction = False
        self.calls: list[str] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.calls.append("end_session")

    @contextmanager
    def start_transaction(self):
        self.in_transaction = True
        try:
            yield
        except BaseException:
            if self.in_transaction:
                self.abort_transaction()
            raise
        if self.in_transaction:
            self.commit_transaction()

    def commit_transaction(self):
        self.in_transaction = False
        self.calls.append("commit")

    def abort_transaction(self):
        self.in_transaction = False
        self.calls.append("abort")


@pytest.fixture
def session():
    return FakeSession()


@pytest.fixture
def uow(session):
    client = MagicMock()
    client.start_session.return_value = session
    return MongoUnitOfWork(client, MagicMock(), outbox=MagicMock())


def test_document_and_outbox_entry_are_written_in_the_same_transaction(uow, session):
    collection = uow.volunteers.collection
    event = object()
    with uow:
        uow.volunteers.add({"volunteer_id": "vol-1", "town": "94080"})
        uow.publish(event, "volunteers")
        uow.commit()
    collection.insert_one.assert_called_once_with({"_id": "vol-1", "volunteer_id": "vol-1", "town": "94080"},
                                                  session=session)
    uow.outbox.add.assert_called_once_with(event, "volunteers", session=session)
    assert session.calls == ["commit", "end_session"]


def test_leaving_without_commit_rolls_back(uow, session):
    with uow:
        uow.volunteers.add({"volunteer_id": "vol-1"})
    assert session.calls == ["abort", "end_session"]


def test_an_error_rolls_back_and_propagates(uow, session):
    with pytest.raises(RuntimeError), uow:
        uow.volunteers.add({"volunteer_id": "vol-1"})
        raise RuntimeError("outbox refused the event")
    assert session.calls == ["abort", "end_session"]


def test_reads_outside_a_unit_of_work_use_no_session(uow):
    uow.volunteers.get("vol-1")
    uow.volunteers.collection.find_one.assert_called_once_with({"_id": "vol-1"}, {"_id": False}, session=None)


def test_list_queries_town_and_action_type_newest_first(uow):
    cursor = uow.volunteers.collection.find.return_value
    cursor.sort.return_value.limit.return_value = iter([{"volunteer_id": "vol-1"}])
    assert uow.volunteers.list(town="94080", action_type="mentoring", limit=5) == [{"volunteer_id": "vol-1"}]
    uow.volunteers.collection.find.assert_called_once_with(
        {"town": "94080", "action_types": "mentoring"}, {"_id": False}, session=None)
    cursor.sort.assert_called_once_with([("created_at", -1), ("_id", -1)])
    cursor.sort.return_value.limit.assert_called_once_with(5)
