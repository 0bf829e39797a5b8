"""vitawin_common.testing: the in-memory unit of work the services' unit tests use must keep the
rules of the real one (tests/unit/common/test_uow.py), or those tests would prove nothing."""
from datetime import datetime, timezone

import pytest

from vitawin_common.testing import InMemoryRepository, InMemoryUnitOfWork


class Things(InMemoryRepository):
    id_field = "thing_id"


def thing(thing_id, minute, colour="vert"):
    return {"thing_id": thing_id, "colour": colour, "created_at": datetime(2026, 1, 1, 9, minute, tzinfo=timezone.utc)}


@pytest.fixture
def uow():
    uow = InMemoryUnitOfWork()
    uow.things = uow.attach(Things())
    return uow


def test_committed_writes_and_events_are_kept(uow):
    with uow:
        uow.things.add(thing("t-1", 0))
        uow.publish("event", "things")
        uow.commit()
    assert list(uow.things.docs) == ["t-1"] and uow.published == [("event", "things")] and uow.committed


def test_leaving_without_commit_rolls_back_writes_and_events(uow):
    with uow:
        uow.things.add(thing("t-1", 0))
        uow.publish("event", "things")
    assert uow.things.docs == {} and uow.published == [] and not uow.committed


def test_an_error_rolls_back_and_propagates(uow):
    with uow:
        uow.things.add(thing("t-1", 0))
        uow.commit()
    with pytest.raises(RuntimeError, match="refused"), uow:
        uow.things.add(thing("t-2", 1))
        raise RuntimeError("outbox refused the event")
    assert list(uow.things.docs) == ["t-1"]


def test_events_are_published_only_inside_a_block_before_commit_and_blocks_do_not_nest(uow):
    with pytest.raises(RuntimeError, match="publish"):
        uow.publish("event", "things")
    with pytest.raises(RuntimeError, match="commit"):
        uow.commit()
    with uow:
        with pytest.raises(RuntimeError, match="do not nest"), uow:
            pass
        uow.commit()
        with pytest.raises(RuntimeError, match="publish"):
            uow.publish("event", "things")
    assert uow.published == []


def test_the_repository_gives_copies_and_lists_newest_first_up_to_the_limit(uow):
    for thing_id, minute, colour in (("t-1", 0, "vert"), ("t-2", 2, "bleu"), ("t-3", 1, "vert"), ("t-4", 3, "vert")):
        uow.things.add(thing(thing_id, minute, colour))
    uow.things.get("t-1")["colour"] = "rouge"
    assert uow.things.get("t-1")["colour"] == "vert"
    assert uow.things.get("t-9") is None
    green = uow.things.newest(lambda doc: doc["colour"] == "vert", 2)
    assert [doc["thing_id"] for doc in green] == ["t-4", "t-3"]
