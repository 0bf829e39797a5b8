"""A school says whether its pupils' guardians get copies of their proposals (issue 6):
`guardian_copies`, an optional JSON boolean of the school's registration (false by default), is
stored with the school and carried by its fr.vitawin.contact.registered.v1 (internal `contacts`
channel), where notify reads it. It is school policy for notify only: never in the public
fr.vitawin.actor.registered.v1, the directory list or the map. Anything but true or false is
refused (422, in French) and nothing is stored or published."""
from __future__ import annotations

import copy
import json

import pytest

from vitawin_common.contracts import ContractViolation

from vitawin_actors.domain import Actor, Address, RegisterPupil, RegisterSchool
from vitawin_common.territory import Location

URL = "/api/v1/actors"
CONTACT_REGISTERED = "fr.vitawin.contact.registered.v1"
VINCENNES = {"lat": 48.8478, "lon": 2.4385}
SCHOOL = {"kind": "school", "name": "Lycée Hector-Berlioz", "contact_email": "referent@lycee.example.fr",
          "uai": "0940120V", "school_type": "lycee_general_technologique", "levels": ["2nde", "1re", "Tle"],
          "address": {"street": "106 avenue de Paris", "postcode": "94300"}, "town": "94080", "location": VINCENNES}


def register(client, **changes) -> dict:
    response = client.post(URL, json={**copy.deepcopy(SCHOOL), **changes})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def contact_events(uow) -> list:
    return [event for event, channel in uow.published if channel == "contacts"]


@pytest.mark.parametrize("asked", [True, False])
def test_the_schools_choice_is_stored_and_carried_by_its_contact_event(client, uow, contract_set, asked):
    record = register(client, guardian_copies=asked)

    assert uow.actors.docs[record["actor_id"]]["guardian_copies"] is asked
    assert record["guardian_copies"] is asked  # the school's own full record says it
    [contact] = contact_events(uow)
    contract_set.validate(CONTACT_REGISTERED, contact.data)
    assert contact.data["guardian_copies"] is asked
    assert (contact.data["kind"], contact.data["school_uai"]) == ("school", "0940120V")


def test_a_school_that_says_nothing_gets_no_copies(client, uow):
    record = register(client)
    assert uow.actors.docs[record["actor_id"]]["guardian_copies"] is False
    [contact] = contact_events(uow)
    assert contact.data["guardian_copies"] is False


def test_the_choice_stays_off_every_public_view(client, uow):
    record = register(client, guardian_copies=True)
    [registered] = [event for event, channel in uow.published if channel == "actors"]
    assert "guardian_copies" not in registered.data  # fr.vitawin.actor.registered.v1 is public
    listed = client.get(URL, query_string={"kind": "school"}).get_json()["items"]
    assert [item["actor_id"] for item in listed] == [record["actor_id"]]
    assert "guardian_copies" not in listed[0]
    assert "guardian_copies" not in json.dumps(client.get(f"{URL}/map.geojson").get_json())


@pytest.mark.parametrize("value", ["true", "oui", 1, 0, None, [], {}])
def test_anything_but_true_or_false_is_refused_in_french_and_nothing_is_kept(client, uow, value):
    response = client.post(URL, json={**copy.deepcopy(SCHOOL), "guardian_copies": value})

    assert response.status_code == 422, response.get_json()
    answer = response.get_json()
    assert answer["message"] == "Les données envoyées sont invalides."
    assert answer["errors"]["json"]["guardian_copies"] == (
        ["Ce champ ne peut pas être vide."] if value is None else ["Booléen attendu : true ou false."])
    assert uow.actors.docs == {} and uow.published == []


def test_a_pupil_or_an_organisation_cannot_send_it(client, uow):
    pupil = {"kind": "pupil", "first_name": "Léa", "level": "3e", "school_uai": "0941030J", "town": "94033",
             "guardian_contact_email": "parent.lea@example.fr", "guardian_copies": True}
    response = client.post(URL, json=pupil)
    assert response.status_code == 422
    assert "guardian_copies" in response.get_json()["errors"]["json"]
    assert uow.actors.docs == {} and uow.published == []


def test_the_api_documents_the_field_in_french(client):
    spec = client.get("/openapi.json").get_json()
    field = spec["components"]["schemas"]["School"]["properties"]["guardian_copies"]
    assert field["type"] == "boolean" and field["default"] is False
    assert "responsable légal" in field["description"]


def test_the_domain_command_defaults_to_no_copies_and_the_contract_keeps_it_for_schools(contract_set):
    command = RegisterSchool(name="Collège", contact_email="referent@college.example.fr", uai="0940120V",
                             school_type="college", levels=["6e"], address=Address("1 rue", "94300"), town="94080",
                             location=Location(**VINCENNES))
    assert command.guardian_copies is False
    asking = Actor.register(RegisterSchool(**{**vars(command), "guardian_copies": True}))
    assert asking.to_document()["guardian_copies"] is True
    data = asking.contact_data()
    contract_set.validate(CONTACT_REGISTERED, data)
    assert data["guardian_copies"] is True
    with pytest.raises(ContractViolation):
        contract_set.validate(CONTACT_REGISTERED, {**data, "guardian_copies": "yes"})
    pupil = Actor.register(RegisterPupil(first_name="Léa", level="3e", school_uai="0941030J", town="94033",
                                         guardian_contact_email="parent.lea@example.fr")).contact_data()
    assert "guardian_copies" not in pupil
    with pytest.raises(ContractViolation):  # a school's policy, not a pupil's
        contract_set.validate(CONTACT_REGISTERED, {**pupil, "guardian_copies": True})
