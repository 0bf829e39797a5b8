"""fr.vitawin.contact.registered.v1, on the internal `contacts` channel: registering an actor that has
somewhere to write to publishes where to write to, with its fr.vitawin.actor.registered.v1 (which
still carries no contact) in the same unit of work. By kind: an organisation, a school and a
territory manager give their contact e-mail and name (a school its UAI, a territory manager its
employer); a pupil gives only its guardian's e-mail and its school's UAI, and a pupil without a
guardian's e-mail publishes nothing on `contacts`. Erasure is still signalled by
fr.vitawin.actor.erased.v1 on `actors` only. No address is ever logged."""
from __future__ import annotations

import copy
import json
import logging
from unittest.mock import MagicMock

import pytest

from vitawin_common.contracts import ContractViolation
from vitawin_common.outbox import Outbox
from vitawin_common.territory import Location

from vitawin_actors import handlers
from vitawin_actors.adapters import MongoUnitOfWork
from vitawin_actors.domain import (ACTOR_KINDS, Actor, Address, RegisterOrganisation, RegisterPupil, RegisterSchool,
                                   RegisterTerritoryManager)

ACTOR_REGISTERED = "fr.vitawin.actor.registered.v1"
ACTOR_ERASED = "fr.vitawin.actor.erased.v1"
CONTACT_REGISTERED = "fr.vitawin.contact.registered.v1"
URL = "/api/v1/actors"

VINCENNES = {"lat": 48.8478, "lon": 2.4385}
ORGANISATION = {"kind": "company", "name": "Boulangerie des Vignerons", "contact_email": "contact@vignerons.example.fr",
                "siret": "123 456 782 00010", "naf_code": "10.71C",
                "address": {"street": "12 rue de Fontenay", "postcode": "94300"}, "town": "94080",
                "location": VINCENNES}
SCHOOL = {"kind": "school", "name": "Lycée Hector-Berlioz", "contact_email": "referent@lycee.example.fr",
          "uai": "0940120v", "school_type": "lycee_general_technologique", "levels": ["2nde", "1re", "Tle"],
          "address": {"street": "106 avenue de Paris", "postcode": "94300"}, "town": "94080", "location": VINCENNES}
PUPIL = {"kind": "pupil", "first_name": "Léa", "level": "3e", "school_uai": "0941030J", "town": "94033",
         "guardian_contact_email": "parent.lea@example.fr"}
ADULT_PUPIL = {"kind": "pupil", "first_name": "Yanis", "level": "Tle", "school_uai": "0941030J", "town": "94033",
               "is_minor": False}
MANAGER = {"kind": "territory_manager", "name": "Camille Martin", "contact_email": "c.martin@pemb.example.fr",
           "organisation_name": "Établissement public territorial Paris Est Marne et Bois"}
ORGANISATION_KINDS = ("company", "craftsman", "local_authority", "association", "public_institution",
                      "partner_organisation")
ADDRESSES = ("contact@vignerons.example.fr", "referent@lycee.example.fr", "parent.lea@example.fr",
             "c.martin@pemb.example.fr")


MANAGER_HEADERS: dict = {}  # a territory manager's Authorization header (autouse fixture)


@pytest.fixture(autouse=True)
def _manager_header(bearer):
    MANAGER_HEADERS.clear()
    MANAGER_HEADERS.update(bearer("territory_manager", actor_id="act-manager"))


def iso(moment) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def register(client, body, **kwargs) -> dict:
    if body.get("kind") == "territory_manager":  # only a territory manager registers one
        kwargs["headers"] = {**MANAGER_HEADERS, **kwargs.get("headers", {})}
    response = client.post(URL, json=body, **kwargs)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def by_channel(published, channel) -> list:
    return [event for event, published_on in published if published_on == channel]


def expected_contact(record: dict, created_at) -> dict:
    """What the contact event of a registered actor must carry, from its stored record."""
    base = {"actor_id": record["actor_id"], "kind": record["kind"], "registered_at": iso(created_at)}
    if record["kind"] == "pupil":
        return {**base, "school_uai": record["school_uai"], "guardian_email": record["guardian_contact_email"]}
    base.update(email=record["contact_email"], display_name=record["name"])
    if record["kind"] == "school":
        base.update(school_uai=record["uai"], guardian_copies=record["guardian_copies"])
    if record["kind"] == "territory_manager":
        base["organisation_name"] = record["organisation_name"]
    return base


# --- over HTTP, each kind ----------------------------------------------------------------------------

BODIES = {**{kind: {**ORGANISATION, "kind": kind} for kind in ORGANISATION_KINDS},
          "school": SCHOOL, "pupil": PUPIL, "territory_manager": MANAGER}


@pytest.mark.parametrize("kind", list(BODIES))
def test_registering_each_kind_publishes_its_contact_event_on_contacts(client, uow, contract_set, kind):
    record = register(client, copy.deepcopy(BODIES[kind]), headers={"X-Correlation-ID": "corr-42"})
    actor_id = record["actor_id"]

    [registered] = by_channel(uow.published, "actors")
    [contact] = by_channel(uow.published, "contacts")
    assert len(uow.published) == 2 and uow.committed
    assert (contact.type, contact.source, contact.subject) == (CONTACT_REGISTERED, "/vitawin/actors", actor_id)
    assert contact.correlation_id == registered.correlation_id == "corr-42"
    assert contact.id != registered.id
    contract_set.validate(CONTACT_REGISTERED, contact.data)
    assert contact.data == expected_contact(uow.actors.docs[actor_id], uow.actors.docs[actor_id]["created_at"])
    assert None not in contact.data.values()  # absent, never null


def test_the_contact_data_of_each_kind_exactly(client, uow):
    school = register(client, copy.deepcopy(SCHOOL))
    manager = register(client, copy.deepcopy(MANAGER))
    company = register(client, copy.deepcopy(ORGANISATION))
    contacts = {event.subject: event.data for event in by_channel(uow.published, "contacts")}
    docs = uow.actors.docs

    assert contacts[school["actor_id"]] == {
        "actor_id": school["actor_id"], "kind": "school", "email": "referent@lycee.example.fr",
        "display_name": "Lycée Hector-Berlioz", "school_uai": "0940120V",  # in its usual form
        "guardian_copies": False,  # by default
        "registered_at": iso(docs[school["actor_id"]]["created_at"])}
    assert contacts[manager["actor_id"]] == {
        "actor_id": manager["actor_id"], "kind": "territory_manager", "email": "c.martin@pemb.example.fr",
        "display_name": "Camille Martin",
        "organisation_name": "Établissement public territorial Paris Est Marne et Bois",
        "registered_at": iso(docs[manager["actor_id"]]["created_at"])}
    assert contacts[company["actor_id"]] == {
        "actor_id": company["actor_id"], "kind": "company", "email": "contact@vignerons.example.fr",
        "display_name": "Boulangerie des Vignerons", "registered_at": iso(docs[company["actor_id"]]["created_at"])}


def test_a_pupil_with_a_guardian_gives_the_guardians_email_and_its_school_never_its_own_name(client, uow,
                                                                                            contract_set):
    record = register(client, copy.deepcopy(PUPIL))
    [contact] = by_channel(uow.published, "contacts")
    contract_set.validate(CONTACT_REGISTERED, contact.data)
    assert contact.data == {"actor_id": record["actor_id"], "kind": "pupil", "school_uai": "0941030J",
                            "guardian_email": "parent.lea@example.fr",
                            "registered_at": iso(uow.actors.docs[record["actor_id"]]["created_at"])}
    assert "email" not in contact.data and "display_name" not in contact.data
    assert "Léa" not in json.dumps(contact.to_document(), default=str, ensure_ascii=False)


def test_a_pupil_without_a_guardian_publishes_nothing_on_contacts(client, uow, contract_set):
    record = register(client, copy.deepcopy(ADULT_PUPIL))
    [(event, channel)] = uow.published
    assert (event.type, channel, event.subject) == (ACTOR_REGISTERED, "actors", record["actor_id"])
    contract_set.validate(ACTOR_REGISTERED, event.data)


@pytest.mark.parametrize("kind", list(BODIES))
def test_the_actor_registered_event_still_carries_no_contact(client, uow, kind):
    register(client, copy.deepcopy(BODIES[kind]))
    [registered] = by_channel(uow.published, "actors")
    serialized = json.dumps(registered.to_document(), default=str, ensure_ascii=False)
    assert "@" not in serialized
    for name in ("email", "contact", "guardian", "display_name", "Camille Martin", "Léa"):
        assert name not in serialized


def test_addresses_are_never_logged(client, caplog):
    caplog.set_level(logging.DEBUG)
    ids = [register(client, copy.deepcopy(body))["actor_id"] for body in (ORGANISATION, SCHOOL, PUPIL, MANAGER)]
    logged = "\n".join(json.dumps(record.__dict__, default=str, ensure_ascii=False) for record in caplog.records)
    assert all(actor_id in logged for actor_id in ids)
    assert "contact_event_id" in logged  # the log says a contact event was written, by its id
    for personal in (*ADDRESSES, "Camille Martin", "Léa"):
        assert personal not in logged


# --- one unit of work ----------------------------------------------------------------------------------

def test_both_events_are_published_in_the_same_unit_of_work_as_the_stored_actor(uow):
    blocks = []
    enter = type(uow).__enter__

    def counting_enter(self):
        blocks.append(len(self.published))
        return enter(self)

    uow.__class__ = type("CountingUow", (type(uow),), {"__enter__": counting_enter})
    command = RegisterSchool(name="Lycée Hector-Berlioz", contact_email="referent@lycee.example.fr", uai="0940120V",
                             school_type="college", levels=["6e"], address=Address("1 rue", "94300"), town="94080",
                             location=Location(**VINCENNES))
    actor = handlers.register_actor(command, uow)
    assert blocks == [0] and uow.committed  # one `with uow:` block, committed
    assert [(event.type, channel) for event, channel in uow.published] == [
        (ACTOR_REGISTERED, "actors"), (CONTACT_REGISTERED, "contacts")]
    assert list(uow.actors.docs) == [actor.actor_id]


def test_if_the_contact_event_cannot_be_written_nothing_is(uow):
    publish = type(uow).publish

    def failing_publish(self, event, channel):
        if channel == "contacts":
            raise RuntimeError("outbox unavailable")
        publish(self, event, channel)

    uow.__class__ = type("FailingUow", (type(uow),), {"publish": failing_publish})
    with pytest.raises(RuntimeError):
        handlers.register_actor(RegisterPupil(first_name="Léa", level="3e", school_uai="0941030J", town="94033",
                                              guardian_contact_email="parent.lea@example.fr"), uow)
    assert uow.actors.docs == {} and uow.published == []  # rolled back: no actor, no actor.registered


def test_the_mongo_unit_of_work_writes_the_actor_and_both_outbox_entries_in_one_transaction(contract_set):
    db = MagicMock()
    collections = {}
    db.__getitem__.side_effect = lambda name: collections.setdefault(name, MagicMock(name=name))
    uow = MongoUnitOfWork(MagicMock(), db, Outbox(db, contract_set))  # the real outbox checks each contract
    command = RegisterTerritoryManager(name="Camille Martin", contact_email="c.martin@pemb.example.fr",
                                       organisation_name="Paris Est Marne et Bois")
    actor = handlers.register_actor(command, uow)

    session = uow.client.start_session.return_value.__enter__.return_value
    [(stored,), kwargs] = uow.actors.collection.insert_one.call_args
    assert stored["actor_id"] == actor.actor_id and kwargs == {"session": session}
    calls = db["outbox"].insert_one.call_args_list
    assert [call.kwargs for call in calls] == [{"session": session}, {"session": session}]
    entries = [call.args[0] for call in calls]
    assert [(entry["topic"], entry["event"]["type"]) for entry in entries] == [
        ("vitawin.actors", ACTOR_REGISTERED), ("vitawin.contacts", CONTACT_REGISTERED)]
    assert entries[0]["seq"] < entries[1]["seq"]
    session.commit_transaction.assert_called_once_with()


# --- the domain and the contract -----------------------------------------------------------------------

def test_an_organisation_without_a_contact_email_has_nowhere_to_write_to():
    imported = RegisterOrganisation(kind="company", name="Boulangerie", contact_email="", siret="12345678200010",
                                    naf_code="10.71C", address=Address("1 rue", "94300"), town="94080",
                                    location=Location(**VINCENNES))
    actor = Actor.register(imported)
    assert actor.contact_data() is None and handlers.contact_event(actor) is None


def test_a_pupil_without_a_guardian_has_nowhere_to_write_to():
    actor = Actor.register(RegisterPupil(first_name="Yanis", level="Tle", school_uai="0941030J", town="94033",
                                         is_minor=False))
    assert actor.contact_data() is None


def test_the_contract_refuses_a_pupils_own_email_or_name_and_nulls(contract_set):
    actor = Actor.register(RegisterPupil(first_name="Léa", level="3e", school_uai="0941030J", town="94033",
                                         guardian_contact_email="parent.lea@example.fr"))
    data = actor.contact_data()
    contract_set.validate(CONTACT_REGISTERED, data)
    for extra in ({"email": "lea@example.fr"}, {"display_name": "Léa"}, {"first_name": "Léa"},
                  {"organisation_name": "x"}, {"school_uai": None}):
        with pytest.raises(ContractViolation):
            contract_set.validate(CONTACT_REGISTERED, {**data, **extra})
    without_guardian = {key: value for key, value in data.items() if key != "guardian_email"}
    with pytest.raises(ContractViolation, match="guardian_email"):
        contract_set.validate(CONTACT_REGISTERED, without_guardian)


def test_the_contract_refuses_a_bad_or_too_long_address_and_a_bad_uai(contract_set):
    actor = Actor.register(RegisterSchool(name="Collège", contact_email="referent@college.example.fr", uai="0940120V",
                                          school_type="college", levels=["6e"], address=Address("1 rue", "94300"),
                                          town="94080", location=Location(**VINCENNES)))
    data = actor.contact_data()
    contract_set.validate(CONTACT_REGISTERED, data)
    for change in ({"email": "pas-une-adresse"}, {"email": "a@" + "b" * 250 + ".fr"}, {"school_uai": "940120V"},
                   {"registered_at": 1}):
        with pytest.raises(ContractViolation):
            contract_set.validate(CONTACT_REGISTERED, {**data, **change})
    del data["school_uai"]
    with pytest.raises(ContractViolation, match="school_uai"):
        contract_set.validate(CONTACT_REGISTERED, data)


def test_the_contract_knows_every_kind_of_the_domain_and_names_the_erasure_event(contract_set):
    schema = contract_set.validator(CONTACT_REGISTERED).schema
    assert schema["properties"]["kind"]["enum"] == list(ACTOR_KINDS)
    assert schema["required"] == ["actor_id", "kind", "registered_at"]
    assert ACTOR_ERASED in schema["description"] and "`actors`" in schema["description"]
    assert contract_set.topic("contacts") == "vitawin.contacts"
    assert contract_set.channels()["contacts"].partitions == 3


# --- erasure --------------------------------------------------------------------------------------------

def test_erasure_is_still_signalled_by_actor_erased_on_actors_only(client, uow, contract_set):
    actor_id = register(client, copy.deepcopy(PUPIL))["actor_id"]
    before = len(uow.published)
    assert client.delete(f"{URL}/{actor_id}", headers=MANAGER_HEADERS).status_code == 204
    [(event, channel)] = uow.published[before:]
    assert (event.type, channel, event.subject) == (ACTOR_ERASED, "actors", actor_id)
    contract_set.validate(ACTOR_ERASED, event.data)
    assert set(event.data) == {"actor_id", "kind", "erased_at"}
