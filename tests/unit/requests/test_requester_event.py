"""fr.vitawin.request.requester.v1, on the internal `requesters` channel (issue 6): the link request
-> pupil that notify needs to send the pupil's guardian a copy of the proposals. Creating a pupil's
request writes it with the request and its fr.vitawin.request.created.v2 in ONE unit of work (one
transaction with the Mongo unit of work); a school's request writes none; it never travels on the
`requests` channel; it carries the request id, the pupil's actor id (from the access token) and the
school's UAI, and nothing else; it validates against its contract; the pupil's actor id is never
logged."""
from __future__ import annotations

import json
import logging
from datetime import date
from unittest.mock import MagicMock

import pytest

from vitawin_common.contracts import ContractViolation
from vitawin_common.outbox import Outbox
from vitawin_common.territory import Location

from vitawin_requests import handlers
from vitawin_requests.adapters import MongoUnitOfWork
from vitawin_requests.domain import Request, RequestSpec, Requester

CREATED = "fr.vitawin.request.created.v2"
REQUESTER = "fr.vitawin.request.requester.v1"
PUPIL_KINDS = ("job_information", "discovery_internship", "apprenticeship_search")
SCHOOL_KINDS = ("class_testimony", "class_intervention", "job_fair", "internship_hosting")


def on(uow, channel) -> list:
    return [event for event, published_on in uow.published if published_on == channel]


@pytest.mark.parametrize("kind", PUPIL_KINDS)
def test_a_pupils_request_names_its_pupil_on_requesters_only(kind, created, uow, contract_set, the):
    body = created(kind)
    request_id = body["request_id"]
    pupil, school = (the.LYCEE_PUPIL_ID, the.LYCEE) if kind == "apprenticeship_search" else (the.PUPIL_ID, the.COLLEGE)

    assert [(event.type, channel) for event, channel in uow.published] == [(CREATED, "requests"),
                                                                          (REQUESTER, "requesters")]
    [created_event], [who] = on(uow, "requests"), on(uow, "requesters")
    assert (who.type, who.source, who.subject) == (REQUESTER, "/vitawin/requests", request_id)
    assert who.data == {"request_id": request_id, "requester_actor_id": pupil, "school_uai": school}
    assert who.id != created_event.id and who.correlation_id == created_event.correlation_id
    contract_set.validate(REQUESTER, who.data)
    assert uow.requests.docs[request_id]["requester_actor_id"] == pupil  # what the token said
    assert pupil not in json.dumps(created_event.data)


@pytest.mark.parametrize("kind", SCHOOL_KINDS)
def test_a_schools_request_publishes_nothing_on_requesters(kind, created, uow):
    created(kind)
    assert [(event.type, channel) for event, channel in uow.published] == [(CREATED, "requests")]


def test_the_requester_event_never_travels_on_the_requests_channel(created, client, auth, uow, the):
    request_id = created("job_information")["request_id"]
    client.patch(f"/api/v1/requests/{request_id}", json={"max_distance_km": 12}, headers=auth("pupil"))
    client.post(f"/api/v1/requests/{request_id}/cancel", json={}, headers=auth("pupil"))

    assert [event.type for event in on(uow, "requesters")] == [REQUESTER]  # the creation only
    for event in on(uow, "requests"):
        assert event.type != REQUESTER
        assert the.PUPIL_ID not in json.dumps(event.data) and "requester_actor_id" not in event.data


def test_it_carries_nothing_the_pupil_typed(created, uow):
    created("job_information", keywords="pâtisserie chez mon oncle Karim")
    [who] = on(uow, "requesters")
    assert set(who.data) == {"request_id", "requester_actor_id", "school_uai"}
    assert "Karim" not in json.dumps(who.to_document(), default=str, ensure_ascii=False)


# --- one unit of work ----------------------------------------------------------------------------

def pupil_spec(**changes) -> RequestSpec:
    values = dict(kind="job_information", school_uai="0940585A", town="94080",
                  location=Location(48.8468, 2.4372), levels=("3e",), keywords="boulangerie")
    return RequestSpec(**{**values, **changes})


def test_the_request_and_both_events_are_written_in_one_unit_of_work(uow, the):
    blocks = []
    enter = type(uow).__enter__

    def counting_enter(self):
        blocks.append(len(self.published))
        return enter(self)

    uow.__class__ = type("CountingUow", (type(uow),), {"__enter__": counting_enter})
    request = handlers.create_request(pupil_spec(), Requester(the.PUPIL_ID, "account-pupil"), uow)
    assert blocks == [0] and uow.committed
    assert [(event.type, channel) for event, channel in uow.published] == [(CREATED, "requests"),
                                                                          (REQUESTER, "requesters")]
    assert list(uow.requests.docs) == [request.request_id]


def test_if_the_requester_event_cannot_be_written_nothing_is(uow, the):
    publish = type(uow).publish

    def failing_publish(self, event, channel):
        if channel == "requesters":
            raise RuntimeError("outbox unavailable")
        publish(self, event, channel)

    uow.__class__ = type("FailingUow", (type(uow),), {"publish": failing_publish})
    with pytest.raises(RuntimeError):
        handlers.create_request(pupil_spec(), Requester(the.PUPIL_ID, "account-pupil"), uow)
    assert uow.requests.docs == {} and uow.published == []  # rolled back: no request, no created event


def test_the_mongo_unit_of_work_writes_the_request_and_both_outbox_entries_in_one_transaction(contract_set, the):
    db = MagicMock()
    collections = {}
    db.__getitem__.side_effect = lambda name: collections.setdefault(name, MagicMock(name=name))
    uow = MongoUnitOfWork(MagicMock(), db, Outbox(db, contract_set))  # the real outbox checks each contract
    request = handlers.create_request(pupil_spec(), Requester(the.PUPIL_ID, "account-pupil"), uow)

    session = uow.client.start_session.return_value.__enter__.return_value
    [(stored,), kwargs] = uow.requests.collection.insert_one.call_args
    assert stored["request_id"] == request.request_id and kwargs == {"session": session}
    calls = db["outbox"].insert_one.call_args_list
    assert [call.kwargs for call in calls] == [{"session": session}, {"session": session}]
    entries = [call.args[0] for call in calls]
    assert [(entry["topic"], entry["event"]["type"]) for entry in entries] == [
        ("vitawin.requests", CREATED), ("vitawin.requesters", REQUESTER)]
    session.commit_transaction.assert_called_once_with()


# --- the domain, the contract, the logs ------------------------------------------------------------

def test_only_a_pupils_request_with_its_actor_id_names_a_requester(the):
    school = pupil_spec(kind="class_testimony", keywords=None, contact_email="r@example.fr",
                        date=date(2027, 1, 13))
    referent = Requester(the.SCHOOLS[the.COLLEGE]["actor_id"], "account-referent")
    with pytest.raises(ValueError):
        Request.create(school, referent).requester_event_data()
    with pytest.raises(ValueError):
        Request.create(pupil_spec(), Requester(None, "account-pupil")).requester_event_data()


def test_the_contract_is_closed_and_the_channel_internal(contract_set, the):
    data = {"request_id": "req-1", "requester_actor_id": the.PUPIL_ID, "school_uai": the.COLLEGE}
    contract_set.validate(REQUESTER, data)
    for change in ({"keywords": "boulangerie"}, {"email": "lea@example.fr"}, {"first_name": "Léa"},
                   {"requester_actor_id": "account-pupil"}, {"school_uai": "940585A"}, {"requester_actor_id": None}):
        with pytest.raises(ContractViolation):
            contract_set.validate(REQUESTER, {**data, **change})
    for name in data:
        with pytest.raises(ContractViolation, match=name):
            contract_set.validate(REQUESTER, {k: v for k, v in data.items() if k != name})
    channel = contract_set.channels()["requesters"]
    assert (channel.address, channel.partitions) == ("vitawin.requesters", 3)
    assert "never partner-visible" in contract_set.asyncapi["channels"]["requesters"]["description"]


def test_the_pupils_actor_id_is_never_logged(created, caplog, the):
    caplog.set_level(logging.DEBUG)
    request_id = created("discovery_internship")["request_id"]
    logged = "\n".join(json.dumps(record.__dict__, default=str, ensure_ascii=False) for record in caplog.records)
    assert request_id in logged and "requester_event_id" in logged
    assert the.PUPIL_ID not in logged and "account-pupil" not in logged
