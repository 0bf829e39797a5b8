"""Matching's writes on the real database server (SecantusDB), through pymongo, in the unit of
work's transactions: what one search's transaction relies on.

- MongoRequests.add_many: stores what is new, says which requests are held open.
- MongoRequests.take_slots: the ranks follow each request's sequence, never past its slots; a
  full, closed or hidden request gives none; another writer committing between its read and its
  write makes the server refuse the write (transient: the event is retried), nothing taken.
- MongoUsage (one document per volunteer and action): take and take_many stop at the limit, all
  or nothing, the transaction then lost; counts and counts_many read what they wrote.
- MongoProposals.add_many and existing; Outbox.add_many: a duplicate proposal loses the whole
  transaction, outbox entries included."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from vitawin_common import contracts
from vitawin_common.events import new_event
from vitawin_common.outbox import Outbox

from vitawin_matching.adapters import MongoUnitOfWork
from vitawin_matching.domain import OPEN, Proposal
from vitawin_matching.handlers import ProposalExists

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)


@pytest.fixture()
def uow(infrastructure):
    client = MongoClient(infrastructure.env["MONGODB_URI"], tz_aware=True)  # as vitawin_common.mongo.client
    db = client[f"matching_store_{uuid.uuid4().hex[:8]}"]
    unit = MongoUnitOfWork(client, db, Outbox(db, contracts.load(ROOT / "contracts")))
    unit.ensure_indexes()
    yield unit
    client.drop_database(db.name)
    client.close()


def _request(uow, request_id="req-1", **fields):
    uow.db["requests"].insert_one({"_id": request_id, "status": OPEN, "proposal_count": 0, **fields})


def _take_slots(uow, request_id, k, wanted, commit=True):
    with uow:
        ranks = uow.requests.take_slots([(request_id, k, wanted)])
        if commit:
            uow.commit()
    return ranks[request_id]


def test_take_slots_gives_ranks_in_sequence_up_to_the_slots(uow):
    _request(uow)
    assert list(_take_slots(uow, "req-1", 5, 3)) == [1, 2, 3]
    assert list(_take_slots(uow, "req-1", 5, 3)) == [4, 5]  # two slots left of five
    assert list(_take_slots(uow, "req-1", 5, 3)) == []
    doc = uow.db["requests"].find_one({"_id": "req-1"})
    assert (doc["proposal_count"], doc["proposal_seq"]) == (5, 5)
    uow.db["requests"].update_one({"_id": "req-1"}, {"$inc": {"proposal_count": -2}})  # two declines
    assert list(_take_slots(uow, "req-1", 5, 3)) == [6, 7]  # ranks are never reused


def test_take_slots_rolls_back_without_commit(uow):
    _request(uow)
    assert list(_take_slots(uow, "req-1", 3, 2, commit=False)) == [1, 2]
    doc = uow.db["requests"].find_one({"_id": "req-1"})
    assert doc["proposal_count"] == 0 and "proposal_seq" not in doc


@pytest.mark.parametrize("fields", [{"status": "closed"}, {"hidden": True}])
def test_a_closed_or_hidden_request_gives_no_slot(uow, fields):
    _request(uow, **fields)
    assert list(_take_slots(uow, "req-1", 3, 2)) == []
    assert list(_take_slots(uow, "unknown", 3, 2)) == []
    assert uow.db["requests"].find_one({"_id": "req-1"})["proposal_count"] == 0


def test_take_slots_takes_nothing_when_another_writer_commits_between_its_read_and_write(uow):
    """The server refuses the write (a write conflict, labelled transient: the consumer loop then
    retries the event from the same offset), so the ranks read can never be given twice."""
    _request(uow, proposal_seq=4, proposal_count=1)
    collection = uow.requests.collection
    real_find = collection.find

    def read_then_another_writer(*args, **kwargs):  # another worker commits between read and write
        docs = list(real_find(*args, **kwargs))
        uow.client[uow.db.name]["requests"].update_one({"_id": "req-1"}, {"$inc": {"proposal_seq": 1,
                                                                                   "proposal_count": 1}})
        return docs

    uow.requests.collection = type("Spy", (), {"find": staticmethod(read_then_another_writer),
                                               "bulk_write": collection.bulk_write})()
    try:
        with pytest.raises(OperationFailure) as refused:
            with uow:
                uow.requests.take_slots([("req-1", 5, 2)])
                uow.commit()
    finally:
        uow.requests.collection = collection
    assert refused.value.has_error_label("TransientTransactionError")
    doc = uow.db["requests"].find_one({"_id": "req-1"})
    assert (doc["proposal_count"], doc["proposal_seq"]) == (2, 5)  # the other writer's only


def test_take_slots_of_several_requests_in_one_call(uow):
    _request(uow, "req-1")
    _request(uow, "req-2", proposal_count=2, proposal_seq=3)
    _request(uow, "req-3", hidden=True)
    with uow:
        ranks = uow.requests.take_slots([("req-1", 3, 5), ("req-2", 4, 5), ("req-3", 3, 1), ("req-9", 3, 1)])
        uow.commit()
    assert {key: list(value) for key, value in ranks.items()} == {"req-1": [1, 2, 3], "req-2": [4, 5], "req-3": [],
                                                                  "req-9": []}
    counts = {d["_id"]: (d["proposal_count"], d.get("proposal_seq")) for d in uow.db["requests"].find()}
    assert counts == {"req-1": (3, 3), "req-2": (4, 5), "req-3": (0, None)}


def test_requests_add_many_stores_the_new_ones_and_says_which_are_held_open(uow):
    from vitawin_matching.domain import Request
    from vitawin_common.territory import Location

    def request(request_id, version=1, status="open"):
        return Request(request_id=request_id, requester_kind="school", contact_email=None, action_type="testimony",
                       town="Vincennes",
                       location=Location(48.8468, 2.4372), max_distance_km=10, status=status, version=version)

    uow.db["requests"].insert_one({"_id": "req-old", "status": "closed", "version": 3, "proposal_count": 2})
    uow.db["requests"].insert_one({"_id": "req-same", "status": OPEN, "version": 1, "proposal_count": 2})
    held = uow.requests.add_many([request("req-new"), request("req-old"), request("req-same"),
                                  request("req-closed", status="cancelled")])
    assert held == {"req-new", "req-same"}
    assert uow.db["requests"].find_one({"_id": "req-old"})["status"] == "closed"  # a replay reopens nothing
    assert uow.db["requests"].find_one({"_id": "req-same"})["proposal_count"] == 2  # nor resets its slots
    assert uow.db["requests"].find_one({"_id": "req-new"})["proposal_count"] == 0


def test_usage_take_many_is_all_or_nothing_at_the_limit(uow):
    with uow:
        assert uow.usage.take_many([("vol-1", "internship", "proposed:2026-W48", 2),
                                    ("vol-2", "internship", "proposed:2026-W48", 2)], also="stats:received")
        uow.commit()
    with uow:
        assert uow.usage.take("vol-1", "internship", "proposed:2026-W48", 2)
        uow.commit()
    with uow:  # vol-1 is at its limit: vol-3's and vol-2's takes are lost with the transaction
        assert not uow.usage.take_many([("vol-3", "internship", "proposed:2026-W48", 2),
                                        ("vol-1", "internship", "proposed:2026-W48", 2),
                                        ("vol-2", "internship", "proposed:2026-W48", 2)], also="stats:received")
    counts = uow.usage.counts_many(["vol-1", "vol-2", "vol-3"], "internship",
                                   ["proposed:2026-W48", "stats:received", "accepted:total"])
    assert counts == {"vol-1": {"proposed:2026-W48": 2, "stats:received": 1},
                      "vol-2": {"proposed:2026-W48": 1, "stats:received": 1}}
    assert uow.usage.counts("vol-1", "internship", ["proposed:2026-W48", "proposed:2026-W49"]) == {
        "proposed:2026-W48": 2, "proposed:2026-W49": 0}
    assert uow.usage.counts_many(["vol-1"], "mentoring", ["proposed:2026-W48"]) == {}  # another action


def test_usage_take_stops_at_the_limit_per_bucket(uow):
    for expected in (True, True, False):
        with uow:
            taken = uow.usage.take("vol-1", "internship", "accepted:2027-W03", 2)
            if taken:
                uow.commit()
        assert taken is expected
    with uow:
        assert uow.usage.take("vol-1", "internship", "accepted:2027-W04", 2)  # another week of the same offer
        uow.usage.add("vol-1", "internship", "stats:answered")
        uow.commit()
    with uow:
        assert not uow.usage.take("vol-1", "internship", "accepted:2027-W05", 0)
    assert uow.usage.counts("vol-1", "internship", ["accepted:2027-W03", "accepted:2027-W04", "accepted:2027-W05",
                                                     "stats:answered"]) == {
        "accepted:2027-W03": 2, "accepted:2027-W04": 1, "accepted:2027-W05": 0, "stats:answered": 1}


def _proposal(volunteer_id: str, rank: int) -> Proposal:
    return Proposal(proposal_id=f"prop-{volunteer_id}", request_id="req-1", volunteer_id=volunteer_id,
                    action_type="testimony", distance_km=1.0, rank=rank, created_at=NOW)


def _event(proposal: Proposal):
    return new_event("fr.vitawin.proposal.expired.v1", "/vitawin/matching", proposal.proposal_id,
                     {"proposal_id": proposal.proposal_id, "request_id": "req-1", "volunteer_id": proposal.volunteer_id,
                      "expired_at": "2026-11-27T09:30:00Z"})


def test_proposals_add_many_with_their_events_all_or_nothing(uow):
    first = [_proposal("vol-1", 1), _proposal("vol-2", 2)]
    with uow:
        uow.proposals.add_many([(p, None, {"score": 0.5}) for p in first])
        uow.publish_many([_event(p) for p in first], "proposals")
        uow.commit()
    assert uow.proposals.existing(["prop-vol-1", "prop-vol-2", "prop-vol-3"]) == {"prop-vol-1", "prop-vol-2"}
    second = [_proposal("vol-3", 3), _proposal("vol-2", 4)]
    with pytest.raises(ProposalExists):
        with uow:
            uow.publish_many([_event(p) for p in second], "proposals")
            uow.proposals.add_many([(p, None, {}) for p in second])
            uow.commit()
    assert uow.proposals.existing(["prop-vol-3"]) == set()
    assert uow.db["proposals"].find_one({"_id": "prop-vol-2"})["rank"] == 2
    entries = list(uow.db["outbox"].find({}, sort=[("seq", 1)]))
    assert [e["event"]["data"]["volunteer_id"] for e in entries] == ["vol-1", "vol-2"]  # in the list's order
    assert {e["topic"] for e in entries} == {"vitawin.proposals"}
