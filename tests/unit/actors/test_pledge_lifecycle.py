"""A pledge's lifecycle: PATCH (edit, validated as at registration), pause, resume, DELETE
(withdraw, final). Each change writes the pledge and its event in one unit of work, with the
version + 1; the events of one volunteer go out in order, on one key, each following its
contract. The changes are made by the professional of the pledge's organisation (`owner`); who
else may make them is tested in test_pledge_access.py."""
from __future__ import annotations

import copy
from datetime import date, datetime, timezone

import pytest

from vitawin_actors import handlers
from vitawin_actors.api import create_app
from vitawin_actors.domain import Pledge, PledgeConflict, RegisterVolunteer, Volunteer

REGISTERED = "fr.vitawin.volunteer.registered.v1"
UPDATED = "fr.vitawin.volunteer.updated.v1"
WITHDRAWN = "fr.vitawin.volunteer.withdrawn.v1"


ORG = "act-" + "b0" * 16  # the organisation of the pledge, in the directory


@pytest.fixture
def client(uow, territory, verified):
    return verified(create_app(uow_factory=lambda: uow, territory=territory,
                               today=lambda: date(2026, 11, 27))).test_client()


@pytest.fixture
def owner(bearer):
    """The professional of the pledge's organisation."""
    return bearer("professional", actor_id=ORG)


@pytest.fixture
def volunteer_id(client, uow, payload, owner):
    """A pledge of ORG (registered by its professional), active, version 1."""
    uow.actors.docs[ORG] = {"actor_id": ORG, "kind": "company", "name": "Boulangerie des Vignerons", "town": "94080"}
    body = {**copy.deepcopy(payload), "actor_id": ORG, "action_types": ["testimony", "internship"],
            "actions": {"internship": {"rome_codes": ["D1102"], "levels": ["3e"], "periods": ["2027-W24"],
                                       "capacity_per_period": 2}}}
    response = client.post("/api/v1/volunteers", json=body, headers=owner)
    assert response.status_code == 201
    return response.get_json()["volunteer_id"]


def url(volunteer_id, action=""):
    return f"/api/v1/volunteers/{volunteer_id}{action}"


def events_of(uow, volunteer_id):
    return [(event, channel) for event, channel in uow.published if event.subject == volunteer_id]


# --- PATCH ---------------------------------------------------------------------------------------

def test_patch_edits_fields_bumps_the_version_and_publishes_the_whole_new_state(client, uow, volunteer_id,
                                                                                contract_set, owner):
    response = client.patch(url(volunteer_id), headers=owner, json={"organisation_name": "Boulangerie Martin",
                                                                     "max_distance_km": 15})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["organisation_name"], body["max_distance_km"], body["version"], body["status"]) == (
        "Boulangerie Martin", 15.0, 2, "active")
    assert body["actions"]["internship"]["capacity_per_period"] == 2  # untouched settings stay
    assert body["updated_at"] >= body["created_at"]
    assert client.get(url(volunteer_id)).get_json() == body
    [_, (event, channel)] = events_of(uow, volunteer_id)
    assert (event.type, event.subject, channel) == (UPDATED, volunteer_id, "volunteers")
    contract_set.validate(UPDATED, event.data)
    assert event.data == {key: body[key] for key in event.data}
    assert set(event.data) == {"volunteer_id", "organisation_name", "contact_email", "town", "location",
                               "action_types", "max_distance_km", "actions", "actor_id", "status", "version"}


def test_patch_an_action_entry_replaces_that_action_whole_and_keeps_the_others(client, volunteer_id, owner):
    client.patch(url(volunteer_id), headers=owner, json={"actions": {"testimony": {"audience": "lycee"}}})
    body = client.patch(url(volunteer_id), headers=owner,
                        json={"actions": {"internship": {"capacity_per_period": 4}}}).get_json()
    assert body["actions"]["testimony"]["audience"] == "lycee"  # kept
    internship = body["actions"]["internship"]
    assert (internship["capacity_per_period"], internship["levels"], internship["rome_codes"]) == (4, [], [])
    assert body["version"] == 3


def test_patch_action_types_drops_the_settings_of_a_removed_type_and_defaults_an_added_one(client, volunteer_id,
                                                                                          owner):
    body = client.patch(url(volunteer_id), headers=owner,
                        json={"action_types": ["internship", "mentoring"]}).get_json()
    assert list(body["actions"]) == ["internship", "mentoring"]
    assert body["actions"]["internship"]["levels"] == ["3e"]
    assert (body["actions"]["mentoring"]["duration_months"], body["actions"]["mentoring"]["mentees"]) == (6, 1)
    body = client.patch(url(volunteer_id), headers=owner, json={
        "action_types": ["internship", "testimony"], "actions": {"testimony": {"rome_codes": ["D1104"]}}}).get_json()
    assert body["actions"]["testimony"]["rome_jobs"] == [{"code": "D1104", "label": "Pâtissier / Pâtissière"}]


def test_a_territory_manager_moves_the_pledge_to_another_organisation_and_unlinks_it(client, uow, volunteer_id,
                                                                                      contract_set, manager):
    uow.actors.docs["act-1"] = {"actor_id": "act-1", "kind": "company", "name": "X", "town": "94080"}
    moved = client.patch(url(volunteer_id), headers=manager, json={"actor_id": "act-1"})
    assert moved.get_json()["actor_id"] == "act-1"
    body = client.patch(url(volunteer_id), headers=manager, json={"actor_id": None}).get_json()
    assert "actor_id" not in body and body["version"] == 3
    for event, _ in events_of(uow, volunteer_id):
        contract_set.validate(event.type, event.data)


def test_patch_that_changes_nothing_writes_and_publishes_nothing(client, uow, volunteer_id, payload, owner):
    before = copy.deepcopy(uow.volunteers.docs[volunteer_id])
    response = client.patch(url(volunteer_id), headers=owner, json={
        "organisation_name": payload["organisation_name"], "action_types": ["testimony", "internship"],
        "actor_id": ORG})  # its own organisation again: no change, so the professional may send it
    assert response.status_code == 200 and response.get_json()["version"] == 1
    assert uow.volunteers.docs[volunteer_id] == before
    assert len(events_of(uow, volunteer_id)) == 1


PATCH_REFUSED = [
    ({}, "_schema", "Indiquez au moins un champ à modifier."),
    ({"contact_email": "nope"}, "contact_email", "Adresse e-mail invalide."),
    ({"town": "75056"}, "town", "Commune inconnue"),
    ({"town": "94079"}, "town", "5 km au plus du centre de Villiers"),  # 8 km from the stored location
    ({"location": {"lat": 48.8478 + 0.18, "lon": 2.4385}}, "location", "5 km au plus du centre de Vincennes"),
    ({"action_types": []}, "action_types", "Indiquez au moins un type d'action."),
    ({"actions": {"mentoring": {}}}, "actions", "Action absente de action_types"),
    ({"action_types": ["testimony"], "actions": {"internship": {}}}, "actions", "Action absente de action_types"),
    ({"actions": {"internship": {"periods": ["2027-W60"]}}}, "actions", "Semaine ISO invalide"),
    ({"volunteer_id": "vol-autre"}, "volunteer_id", "Champ inconnu."),
    ({"status": "paused"}, "status", "Champ inconnu."),
    ({"version": 7}, "version", "Champ inconnu."),
    ({"organisation_name": None}, "organisation_name", "Ce champ ne peut pas être vide."),
    ({"actor_id": "act-inconnu"}, "actor_id", "Acteur inconnu de l'annuaire"),  # sent by a territory manager
]


@pytest.mark.parametrize("changes, field, french", PATCH_REFUSED, ids=[case[1] + str(i) for i, case in
                                                                       enumerate(PATCH_REFUSED)])
def test_patch_is_validated_as_a_registration_in_french_and_changes_nothing(client, uow, volunteer_id,
                                                                           changes, field, french, owner, manager):
    before = copy.deepcopy(uow.volunteers.docs[volunteer_id])
    caller = manager if "actor_id" in changes else owner  # changing actor_id: territory managers only
    response = client.patch(url(volunteer_id), headers=caller, json=changes)
    assert response.status_code == 422
    body = response.get_json()
    assert body["message"] == "Les données envoyées sont invalides."
    assert french in str(body["errors"]["json"][field])
    assert uow.volunteers.docs[volunteer_id] == before and len(events_of(uow, volunteer_id)) == 1


def test_patch_moving_town_and_location_together_is_accepted(client, volunteer_id, owner):
    response = client.patch(url(volunteer_id), headers=owner,
                            json={"town": "94033", "location": {"lat": 48.8515, "lon": 2.4760}})
    assert response.status_code == 200 and response.get_json()["town"] == "94033"


# --- pause, resume, withdraw ---------------------------------------------------------------------

def test_pause_then_resume(client, uow, volunteer_id, contract_set, owner):
    paused = client.post(url(volunteer_id, "/pause"), headers=owner)
    assert paused.status_code == 200
    assert (paused.get_json()["status"], paused.get_json()["version"]) == ("paused", 2)
    assert client.get(url(volunteer_id)).get_json()["status"] == "paused"
    resumed = client.post(url(volunteer_id, "/resume"), headers=owner)
    assert resumed.status_code == 200
    assert (resumed.get_json()["status"], resumed.get_json()["version"]) == ("active", 3)
    statuses = [(event.type, event.data["status"]) for event, _ in events_of(uow, volunteer_id)[1:]]
    assert statuses == [(UPDATED, "paused"), (UPDATED, "active")]


def test_a_paused_pledge_can_be_edited_and_stays_paused(client, volunteer_id, owner):
    client.post(url(volunteer_id, "/pause"), headers=owner)
    body = client.patch(url(volunteer_id), headers=owner, json={"max_distance_km": 3}).get_json()
    assert (body["status"], body["version"], body["max_distance_km"]) == ("paused", 3, 3.0)


def test_withdraw_keeps_the_pledge_for_history_and_publishes_its_withdrawal(client, uow, volunteer_id,
                                                                           contract_set, owner):
    response = client.delete(url(volunteer_id), headers=owner)
    assert response.status_code == 204 and response.data == b""
    kept = client.get(url(volunteer_id))
    assert kept.status_code == 200
    body = kept.get_json()
    assert (body["status"], body["version"]) == ("withdrawn", 2)
    assert body["withdrawn_at"] == body["updated_at"]
    [_, (event, channel)] = events_of(uow, volunteer_id)
    assert (event.type, event.subject, channel) == (WITHDRAWN, volunteer_id, "volunteers")
    contract_set.validate(WITHDRAWN, event.data)
    assert event.data["volunteer_id"] == volunteer_id and event.data["version"] == 2
    assert datetime.fromisoformat(event.data["withdrawn_at"]) == datetime.fromisoformat(body["withdrawn_at"])


@pytest.mark.parametrize("first, then, french", [
    (None, ("post", "/resume"), "L'engagement est déjà actif"),
    (["/pause"], ("post", "/pause"), "L'engagement est déjà en pause."),
    (["withdraw"], ("delete", ""), "L'engagement est déjà retiré."),
    (["withdraw"], ("patch", ""), "L'engagement a été retiré : il ne peut plus être modifié."),
    (["withdraw"], ("post", "/pause"), "L'engagement a été retiré : il ne peut plus être mis en pause."),
    (["withdraw"], ("post", "/resume"), "L'engagement a été retiré : il ne peut plus être repris."),
    (["/pause", "withdraw"], ("post", "/resume"), "L'engagement a été retiré"),
])
def test_transitions_the_status_forbids_give_409_in_french_and_change_nothing(client, uow, volunteer_id,
                                                                             first, then, french, owner):
    for step in first or []:
        response = (client.delete(url(volunteer_id), headers=owner) if step == "withdraw"
                    else client.post(url(volunteer_id, step), headers=owner))
        assert response.status_code in (200, 204)
    before, published = copy.deepcopy(uow.volunteers.docs[volunteer_id]), list(uow.published)
    method, action = then
    kwargs = {"json": {"organisation_name": "Autre"}} if method == "patch" else {}
    response = getattr(client, method)(url(volunteer_id, action), headers=owner, **kwargs)
    assert response.status_code == 409
    assert response.get_json()["message"].startswith(french)
    assert uow.volunteers.docs[volunteer_id] == before and uow.published == published


@pytest.mark.parametrize("method, action", [("patch", ""), ("delete", ""), ("post", "/pause"), ("post", "/resume")])
def test_lifecycle_of_an_unknown_pledge_gives_404_in_french(client, uow, method, action, owner):
    kwargs = {"json": {"organisation_name": "Autre"}} if method == "patch" else {}
    response = getattr(client, method)(url("vol-inconnu", action), headers=owner, **kwargs)
    assert response.status_code == 404
    assert response.get_json()["message"] == "Engagement introuvable."
    assert uow.published == []


def test_a_change_that_lost_a_race_gives_409_and_publishes_nothing(client, uow, volunteer_id, owner):
    real_replace = uow.volunteers.replace

    def someone_else_first(doc, expected_version):
        uow.volunteers.docs[volunteer_id]["version"] = expected_version + 1  # committed in between
        real_replace(doc, expected_version)

    uow.volunteers.replace = someone_else_first
    response = client.post(url(volunteer_id, "/pause"), headers=owner)
    assert response.status_code == 409
    assert "modifié entre-temps" in response.get_json()["message"]
    assert len(events_of(uow, volunteer_id)) == 1 and not uow.committed


def test_list_filters_by_status(client, payload, volunteer_id, owner, manager):
    other = client.post("/api/v1/volunteers", json=payload, headers=manager).get_json()["volunteer_id"]
    client.post(url(volunteer_id, "/pause"), headers=owner)

    def ids(query):
        return {v["volunteer_id"] for v in client.get(f"/api/v1/volunteers?{query}").get_json()["items"]}

    assert ids("status=paused") == {volunteer_id}
    assert ids("status=active") == {other}
    assert ids("") == {volunteer_id, other}
    response = client.get("/api/v1/volunteers?status=parti")
    assert response.status_code == 422
    assert response.get_json()["errors"]["query"]["status"][0].startswith("Statut inconnu")


# --- the events of one volunteer -----------------------------------------------------------------

def test_the_events_of_one_volunteer_go_out_in_order_on_one_key_with_growing_versions(
        client, uow, payload, volunteer_id, contract_set, owner, manager):
    client.post("/api/v1/volunteers", json=payload, headers=manager)  # another volunteer in between
    client.patch(url(volunteer_id), headers=owner, json={"actions": {"internship": {"capacity_per_period": 3}}})
    client.post(url(volunteer_id, "/pause"), headers=owner)
    client.patch(url(volunteer_id), headers=owner, json={"town": "94033", "location": {"lat": 48.8515, "lon": 2.4760}})
    client.post(url(volunteer_id, "/resume"), headers=owner)
    client.delete(url(volunteer_id), headers=owner)
    mine = events_of(uow, volunteer_id)
    assert [event.type for event, _ in mine] == [REGISTERED, UPDATED, UPDATED, UPDATED, UPDATED, WITHDRAWN]
    assert [event.data["version"] for event, _ in mine] == [1, 2, 3, 4, 5, 6]
    assert {channel for _, channel in mine} == {"volunteers"}
    assert {event.subject for event, _ in mine} == {volunteer_id}  # the subject is the Kafka key
    assert {event.source for event, _ in mine} == {"/vitawin/actors"}
    assert [event.data.get("status") for event, _ in mine[1:5]] == ["active", "paused", "paused", "active"]
    for event, _ in mine:
        contract_set.validate(event.type, event.data)
    assert len({event.id for event, _ in mine}) == 6


# --- the domain ----------------------------------------------------------------------------------

def _legacy_document():
    """What was stored before pledges had settings, and what an import stores (Volunteer.to_document)."""
    from vitawin_common.territory import Location
    command = RegisterVolunteer(organisation_name="Garage du Bois", contact_email="garage@example.fr",
                                town="94080", location=Location(48.8478, 2.4385),
                                action_types=["internship", "job_fair"])
    return Volunteer.register(command).to_document()


def test_a_pledge_stored_without_lifecycle_reads_as_active_version_1_with_default_settings():
    pledge = Pledge.from_document(_legacy_document())
    assert (pledge.status, pledge.version, pledge.actor_id) == ("active", 1, None)
    assert pledge.actions["job_fair"].to_plain()["on_request"] is True
    assert pledge.actions["internship"].to_plain()["capacity_per_period"] == 1


def test_a_pledge_stored_without_lifecycle_can_be_paused(uow):
    doc = _legacy_document()
    uow.volunteers.add(doc)
    paused = handlers.pause_volunteer(doc["volunteer_id"], uow)
    assert (paused.status, paused.version) == ("paused", 2)
    stored = uow.volunteers.docs[doc["volunteer_id"]]
    assert (stored["status"], stored["version"]) == ("paused", 2)
    [(event, _)] = uow.published
    assert event.type == UPDATED


def test_a_pledge_survives_its_document_round_trip(client, uow, volunteer_id):
    doc = uow.volunteers.docs[volunteer_id]
    assert Pledge.from_document(doc).to_document() == doc


def test_transitions_in_the_domain():
    pledge = Pledge.from_document(_legacy_document())
    now = datetime(2027, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
    paused = pledge.pause(now)
    assert (paused.status, paused.version, paused.updated_at) == ("paused", 2, now.replace(microsecond=678000))
    withdrawn = paused.withdraw(now)
    assert (withdrawn.status, withdrawn.version, withdrawn.withdrawn_at) == ("withdrawn", 3, withdrawn.updated_at)
    assert withdrawn.withdrawn_event_data() == {"volunteer_id": pledge.volunteer_id,
                                                "withdrawn_at": "2027-01-02T03:04:05.678Z", "version": 3}
    for change in (withdrawn.withdraw, withdrawn.pause, withdrawn.resume, lambda: withdrawn.edit({"town": "94033"})):
        with pytest.raises(PledgeConflict):
            change()
    assert pledge.edit({"town": pledge.volunteer.town}) is pledge
