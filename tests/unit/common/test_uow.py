"""vitawin_common.uow against a fake pymongo client whose session behaves like pymongo's: leaving
`with session.start_transaction():` without an error commits whatever is still open."""
from contextlib import contextmanager
from unittest.mock import MagicMock

import pytest

from vitawin_common.uow import MongoRepository, UnitOfWork


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


class ThingRepository(MongoRepository):
    id_field = "thing_id"
    indexes = ([("colour", 1)], [("size", 1), ("created_at", -1)])


class ThingUnitOfWork(UnitOfWork):
    def __init__(self, client, db, outbox):
        super().__init__(client, db, outbox)
        self.things = self.attach(ThingRepository(db["things"]))
        self.plain = object()  # not attached: left alone


@pytest.fixture
def session():
    return FakeSession()


@pytest.fixture
def uow(session):
    client = MagicMock()
    client.start_session.return_value = session
    return ThingUnitOfWork(client, MagicMock(), outbox=MagicMock())


def test_document_and_outbox_entry_are_written_in_the_same_transaction(uow, session):
    event = object()
    with uow:
        uow.things.add({"thing_id": "t-1", "colour": "vert"})
        uow.publish(event, "things")
        uow.commit()
    uow.things.collection.insert_one.assert_called_once_with({"_id": "t-1", "thing_id": "t-1", "colour": "vert"},
                                                             session=session)
    uow.outbox.add.assert_called_once_with(event, "things", session=session)
    assert session.calls == ["commit", "end_session"]


def test_leaving_without_commit_rolls_back(uow, session):
    with uow:
        uow.things.add({"thing_id": "t-1"})
    assert session.calls == ["abort", "end_session"]


def test_an_error_rolls_back_and_propagates(uow, session):
    with pytest.raises(RuntimeError), uow:
        uow.things.add({"thing_id": "t-1"})
        raise RuntimeError("outbox refused the event")
    assert session.calls == ["abort", "end_session"]


def test_attached_repositories_use_the_session_inside_the_block_only(uow, session):
    assert uow.things.session is None and uow.session is None
    with uow:
        assert uow.things.session is session and uow.session is session
    assert uow.things.session is None and uow.session is None
    assert not hasattr(uow.plain, "session")


def test_blocks_follow_one_another_each_with_its_own_transaction(uow):
    sessions = [FakeSession(), FakeSession()]
    uow.client.start_session.side_effect = sessions
    with uow:
        uow.commit()
    with uow:
        uow.things.add({"thing_id": "t-2"})
    assert [s.calls for s in sessions] == [["commit", "end_session"], ["abort", "end_session"]]
    uow.things.collection.insert_one.assert_called_once_with({"_id": "t-2", "thing_id": "t-2"},
                                                             session=sessions[1])


def test_blocks_do_not_nest(uow, session):
    with uow:
        with pytest.raises(RuntimeError, match="do not nest"), uow:
            pass
        assert uow.session is session
    assert session.calls == ["abort", "end_session"]


def test_an_event_is_published_only_inside_a_block_before_commit(uow):
    with pytest.raises(RuntimeError, match="publish"):
        uow.publish(object(), "things")
    with uow:
        uow.commit()
        with pytest.raises(RuntimeError, match="publish"):
            uow.publish(object(), "things")
    uow.outbox.add.assert_not_called()
    with pytest.raises(RuntimeError, match="commit"):
        uow.commit()


def test_ensure_indexes_covers_the_outbox_and_the_attached_repositories(uow):
    uow.ensure_indexes()
    uow.outbox.ensure_indexes.assert_called_once_with()
    keys = [call.args[0] for call in uow.things.collection.create_index.call_args_list]
    assert keys == [[("colour", 1)], [("size", 1), ("created_at", -1)]]


# --- MongoRepository ---------------------------------------------------------------------------

def test_reads_outside_a_unit_of_work_use_no_session_and_hide_the_mongo_id(uow):
    uow.things.get("t-1")
    uow.things.collection.find_one.assert_called_once_with({"_id": "t-1"}, {"_id": False}, session=None)


def test_reads_inside_a_unit_of_work_use_its_session(uow, session):
    with uow:
        uow.things.get("t-1")
        uow.things.newest({}, 1)
    uow.things.collection.find_one.assert_called_once_with({"_id": "t-1"}, {"_id": False}, session=session)
    uow.things.collection.find.assert_called_once_with({}, {"_id": False}, session=session)


def test_newest_lists_the_matching_documents_newest_first_up_to_the_limit(uow):
    cursor = uow.things.collection.find.return_value
    cursor.sort.return_value.limit.return_value = iter([{"thing_id": "t-2"}, {"thing_id": "t-1"}])
    assert uow.things.newest({"colour": "vert"}, 5) == [{"thing_id": "t-2"}, {"thing_id": "t-1"}]
    uow.things.collection.find.assert_called_once_with({"colour": "vert"}, {"_id": False}, session=None)
    cursor.sort.assert_called_once_with([("created_at", -1), ("_id", -1)])
    cursor.sort.return_value.limit.assert_called_once_with(5)
