"""GDPR erasure of an actor (DELETE /api/v1/actors/<id>), against the in-memory unit of work: in one
unit of work the actor keeps only a tombstone, each pledge linked to it is withdrawn (its event,
its version + 1) and loses its name and contact e-mail, and fr.vitawin.actor.erased.v1 carries ids
only; every event follows its contract. An erased actor answers 410 in French (GET and a second
DELETE, which changes nothing) and vanishes from the list and the map."""
from __future__ import annotations

import copy
import json
import logging

import pytest

ACTOR_ERASED = "fr.vitawin.actor.erased.v1"
WITHDRAWN = "fr.vitawin.volunteer.withdrawn.v1"
URL = "/api/v1/actors"
VOLUNTEERS = "/api/v1/volunteers"

COMPANY = {"kind": "company", "name": "Boulangerie des Vignerons", "contact_email": "contact@vignerons.example.fr",
           "siret": "123 456 782 00010", "naf_code": "10.71C",
           "address": {"street": "12 rue de Fontenay", "postcode": "94300"}, "town": "94080",
           "location": {"lat": 48.8478, "lon": 2.4385}}
PUPIL = {"kind": "pupil", "first_name": "Léa", "level": "3e", "school_uai": "0941030J", "town": "94033",
         "guardian_contact_email": "parent.lea@example.fr"}
PERSONAL = ("Boulangerie des Vignerons", "contact@vignerons.example.fr", "12345678200010", "12 rue de Fontenay",
            "Fournil Martin", "fournil@martin.example.fr", "Atelier Martin", "atelier@martin.example.fr",
            "Léa", "parent.lea@example.fr")


def created(client, url, body, headers=None) -> dict:
    response = client.post(url, json=body, headers=headers or {})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def actor_id(client):
    return created(client, URL, COMPANY)["actor_id"]


@pytest.fixture
def pledges(client, payload, actor_id, bearer):
    """Pledges of the company (registered by its professional): one active, one paused (by its
    professional), one already withdrawn (by its professional); and one of nobody (registered by a
    territory manager)."""
    professional = bearer("professional", actor_id=actor_id)

    def pledge(name, email, linked=True):
        body = {**copy.deepcopy(payload), "organisation_name": name, "contact_email": email}
        if linked:
            return created(client, VOLUNTEERS, {**body, "actor_id": actor_id}, professional)["volunteer_id"]
        return created(client, VOLUNTEERS, body, bearer("territory_manager"))["volunteer_id"]

    ids = {"active": pledge("Fournil Martin", "fournil@martin.example.fr"),
           "paused": pledge("Atelier Martin", "atelier@martin.example.fr"),
           "withdrawn": pledge("Boulangerie des Vignerons", "contact@vignerons.example.fr"),
           "other": pledge("Imprimerie Dalayrac", "contact@imprimerie.example.fr", linked=False)}
    assert client.post(f"{VOLUNTEERS}/{ids['paused']}/pause", headers=professional).status_code == 200
    assert client.delete(f"{VOLUNTEERS}/{ids['withdrawn']}", headers=professional).status_code == 204
    return ids


OWN_TOKEN: list = []  # bearer of the test (autouse fixture): OWN(actor_id) is that actor's own header


def OWN(actor_id: str) -> dict:
    return OWN_TOKEN[0]("professional", actor_id=actor_id)


@pytest.fixture(autouse=True)
def _own_token(bearer):
    OWN_TOKEN[:] = [bearer]


def erase(client, uow, actor_id, headers=None):
    """DELETE the actor as itself (a token acting for it: its right to erasure) unless `headers`."""
    before = len(uow.published)
    response = client.delete(f"{URL}/{actor_id}", headers=headers if headers is not None else OWN(actor_id))
    return response, uow.published[before:]


def test_erasure_answers_204_and_leaves_only_a_tombstone(client, uow, actor_id):
    response, _ = erase(client, uow, actor_id)
    assert response.status_code == 204 and response.get_data() == b""
    tomb = uow.actors.docs[actor_id]
    assert set(tomb) == {"actor_id", "kind", "erased_at", "status"}
    assert (tomb["actor_id"], tomb["kind"], tomb["status"]) == (actor_id, "company", "erased")
    assert not any(value in repr(tomb) for value in PERSONAL)


def test_a_pupils_tombstone_keeps_no_first_name_and_no_guardian_contact(client, uow):
    pupil_id = created(client, URL, PUPIL)["actor_id"]
    response, published = erase(client, uow, pupil_id)
    assert response.status_code == 204
    assert set(uow.actors.docs[pupil_id]) == {"actor_id", "kind", "erased_at", "status"}
    [(event, channel)] = published
    assert (event.type, channel, event.data["kind"]) == (ACTOR_ERASED, "actors", "pupil")


def test_every_linked_pledge_is_withdrawn_and_loses_its_name_and_contact_email(client, uow, actor_id, pledges):
    versions = {key: uow.volunteers.docs[vid]["version"] for key, vid in pledges.items()}
    other_before = copy.deepcopy(uow.volunteers.docs[pledges["other"]])
    erase(client, uow, actor_id)

    for key in ("active", "paused", "withdrawn"):
        doc = uow.volunteers.docs[pledges[key]]
        assert doc["status"] == "withdrawn" and doc["actor_id"] == actor_id
        assert "organisation_name" not in doc and "contact_email" not in doc
        assert not any(value in repr(doc) for value in PERSONAL)
    assert uow.volunteers.docs[pledges["active"]]["version"] == versions["active"] + 1
    assert uow.volunteers.docs[pledges["paused"]]["version"] == versions["paused"] + 1
    assert uow.volunteers.docs[pledges["withdrawn"]]["version"] == versions["withdrawn"]  # already withdrawn
    assert uow.volunteers.docs[pledges["other"]] == other_before  # not linked: untouched


def test_a_purged_pledge_stays_readable_and_cannot_be_withdrawn_again(client, uow, actor_id, pledges, bearer):
    erase(client, uow, actor_id)
    shown = client.get(f"{VOLUNTEERS}/{pledges['active']}")
    assert shown.status_code == 200
    assert shown.get_json()["status"] == "withdrawn" and "contact_email" not in shown.get_json()
    again = client.delete(f"{VOLUNTEERS}/{pledges['active']}", headers=bearer("territory_manager"))
    assert again.status_code == 409 and again.get_json()["message"] == "L'engagement est déjà retiré."


def test_events_one_actor_erased_and_one_withdrawn_per_pledge_not_yet_withdrawn(client, uow, contract_set,
                                                                                 actor_id, pledges):
    response, published = erase(client, uow, actor_id)
    assert response.status_code == 204 and uow.committed

    erased = [(event, channel) for event, channel in published if event.type == ACTOR_ERASED]
    [(event, channel)] = erased
    assert (channel, event.source, event.subject) == ("actors", "/vitawin/actors", actor_id)
    contract_set.validate(ACTOR_ERASED, event.data)
    tomb = uow.actors.docs[actor_id]
    assert event.data == {"actor_id": actor_id, "kind": "company",
                          "erased_at": tomb["erased_at"].isoformat(timespec="milliseconds").replace("+00:00", "Z")}

    withdrawn = [(event, channel) for event, channel in published if event.type == WITHDRAWN]
    assert sorted(event.subject for event, _ in withdrawn) == sorted([pledges["active"], pledges["paused"]])
    for event, channel in withdrawn:
        assert channel == "volunteers"
        contract_set.validate(WITHDRAWN, event.data)
        assert event.data["version"] == uow.volunteers.docs[event.subject]["version"]
    assert len(published) == 3

    for event, _ in published:
        text = json.dumps(event.data, ensure_ascii=False)
        assert "@" not in text and not any(value in text for value in PERSONAL)


def test_erasure_is_one_unit_of_work_a_failure_changes_nothing(client, uow, actor_id, pledges):
    from vitawin_actors.handlers import ConcurrentChange

    actors, volunteers, published = (copy.deepcopy(uow.actors.docs), copy.deepcopy(uow.volunteers.docs),
                                     list(uow.published))
    real_replace, calls = uow.volunteers.replace, []

    def replace_then_fail(doc, expected_version):
        calls.append(doc["volunteer_id"])
        if len(calls) == 2:  # the first linked pledge is written, then the second collides
            raise ConcurrentChange(doc["volunteer_id"])
        real_replace(doc, expected_version)

    uow.volunteers.replace = replace_then_fail
    response = client.delete(f"{URL}/{actor_id}", headers=OWN(actor_id))
    assert response.status_code == 409
    assert (uow.actors.docs, uow.volunteers.docs, uow.published) == (actors, volunteers, published)


def test_erasing_twice_answers_410_in_french_and_changes_nothing(client, uow, actor_id, pledges):
    erase(client, uow, actor_id)
    actors, volunteers = copy.deepcopy(uow.actors.docs), copy.deepcopy(uow.volunteers.docs)
    response, published = erase(client, uow, actor_id)
    assert response.status_code == 410
    assert response.get_json()["message"] == "Acteur déjà effacé."
    assert published == []
    assert (uow.actors.docs, uow.volunteers.docs) == (actors, volunteers)


def test_erasing_an_unknown_actor_gives_404_in_french(client, uow):
    response, published = erase(client, uow, "act-inconnu")
    assert response.status_code == 404 and response.get_json()["message"] == "Acteur introuvable."
    assert published == []


def test_get_of_an_erased_actor_answers_410_in_french(client, uow, actor_id):
    erase(client, uow, actor_id)
    response = client.get(f"{URL}/{actor_id}")
    assert response.status_code == 410
    assert response.get_json()["message"] == "Acteur effacé."
    assert not any(value in response.get_data(as_text=True) for value in PERSONAL)


def test_an_erased_actor_vanishes_from_the_list_and_the_map(client, uow, actor_id):
    kept = created(client, URL, {**COMPANY, "name": "Imprimerie Dalayrac"})["actor_id"]
    erase(client, uow, actor_id)
    page = client.get(URL).get_json()
    assert [item["actor_id"] for item in page["items"]] == [kept] and page["total"] == 1
    assert client.get(f"{URL}?kind=company&town=94080").get_json()["total"] == 1
    features = client.get(f"{URL}/map.geojson").get_json()["features"]
    assert [feature["id"] for feature in features] == [kept]


def test_an_erased_actor_cannot_be_linked_to_a_new_pledge(client, uow, actor_id, payload, bearer):
    erase(client, uow, actor_id)
    published = list(uow.published)
    response = client.post(VOLUNTEERS, json={**payload, "actor_id": actor_id}, headers=bearer("territory_manager"))
    assert response.status_code == 422
    assert "effacé" in response.get_json()["errors"]["json"]["actor_id"][0]
    # Its professional's token still names it: the organisation taken from the token is checked too.
    response = client.post(VOLUNTEERS, json=payload, headers=bearer("professional", actor_id=actor_id))
    assert response.status_code == 422, response.get_json()
    [message] = response.get_json()["errors"]["json"]["actor_id"]
    assert message.startswith("Organisation du jeton d'accès : ") and "effacé" in message
    assert uow.published == published and uow.volunteers.linked_to(actor_id) == []


def test_erasure_logs_ids_only(client, uow, actor_id, pledges, caplog):
    caplog.set_level(logging.DEBUG)
    erase(client, uow, actor_id)
    logged = "\n".join(json.dumps(record.__dict__, default=str, ensure_ascii=False) for record in caplog.records)
    assert actor_id in logged and pledges["active"] in logged
    assert not any(value in logged for value in PERSONAL)



@pytest.mark.parametrize("who, status", [("anonymous", 401), ("another actor", 403), ("partner", 403),
                                         ("school referent", 403)])
def test_only_the_actor_itself_or_a_territory_manager_erases_it(client, uow, bearer, actor_id, who, status):
    headers = {"anonymous": {}, "another actor": bearer("professional", actor_id="act-another"),
               "partner": bearer("partner"), "school referent": bearer("school_referent", actor_id="act-school")}[who]
    before = (dict(uow.actors.docs), dict(uow.volunteers.docs), list(uow.published))
    response, published = erase(client, uow, actor_id, headers)
    assert response.status_code == status
    assert (dict(uow.actors.docs), dict(uow.volunteers.docs), list(uow.published)) == before and published == []


def test_a_territory_manager_erases_an_actor(client, uow, bearer, actor_id):
    response, _ = erase(client, uow, actor_id, bearer("territory_manager"))
    assert response.status_code == 204 and uow.actors.docs[actor_id]["status"] == "erased"
