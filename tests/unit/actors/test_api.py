import copy
import json
import logging

import pytest

VOLUNTEER_REGISTERED = "fr.vitawin.volunteer.registered.v1"


def test_post_stores_the_volunteer_and_publishes_its_event_carrying_the_correlation_id(
        client, uow, payload, contract_set, manager):
    response = client.post("/api/v1/volunteers", json=payload, headers={"X-Correlation-ID": "corr-42", **manager})

    assert response.status_code == 201
    body = response.get_json()
    volunteer_id = body["volunteer_id"]
    assert volunteer_id.startswith("vol-") and len(volunteer_id) == 36
    assert {k: body[k] for k in payload} == {**payload, "max_distance_km": 8.0}
    assert body["created_at"].endswith("+00:00")
    assert response.headers["Location"] == f"/api/v1/volunteers/{volunteer_id}"

    assert list(uow.volunteers.docs) == [volunteer_id]
    assert uow.volunteers.docs[volunteer_id]["organisation_name"] == "Boulangerie des Vignerons"
    assert uow.committed

    [(event, channel)] = uow.published
    assert channel == "volunteers"
    assert (event.type, event.source, event.subject) == (VOLUNTEER_REGISTERED, "/vitawin/actors", volunteer_id)
    contract_set.validate(VOLUNTEER_REGISTERED, event.data)
    assert event.data == {k: body[k] for k in event.data}
    assert event.correlation_id == "corr-42"


def test_post_defaults_max_distance_to_10_km(client, uow, payload, manager):
    del payload["max_distance_km"]
    response = client.post("/api/v1/volunteers", json=payload, headers=manager)
    assert response.status_code == 201
    assert response.get_json()["max_distance_km"] == 10
    assert uow.published[0][0].data["max_distance_km"] == 10


def _without(field):
    def change(payload):
        del payload[field]
    return change


def _set(field, value):
    def change(payload):
        payload[field] = value
    return change


BAD_PAYLOADS = [
    ("missing field", _without("organisation_name"), "organisation_name", "Champ obligatoire."),
    ("missing location", _without("location"), "location", "Champ obligatoire."),
    ("bad email", _set("contact_email", "pas-une-adresse"), "contact_email", "Adresse e-mail invalide."),
    ("unknown town", _set("town", "75056"), "town", "Commune inconnue"),
    ("location 20 km off", _set("location", {"lat": 48.8478 + 0.18, "lon": 2.4385}), "location",
     "5 km au plus du centre de Vincennes"),
    ("location missing lat", _set("location", {"lon": 2.4385}), "location", "Champ obligatoire."),
    ("unknown action type", _set("action_types", ["testimony", "cooking"]), "action_types",
     "Type d'action inconnu"),
    ("no action type", _set("action_types", []), "action_types", "Indiquez au moins un type d'action."),
    ("repeated action type", _set("action_types", ["mentoring", "mentoring"]), "action_types",
     "ne doit figurer qu'une fois"),
    ("empty organisation name", _set("organisation_name", ""), "organisation_name", "La longueur doit être"),
    ("organisation name too long", _set("organisation_name", "x" * 201), "organisation_name",
     "La longueur doit être"),
    ("distance zero", _set("max_distance_km", 0), "max_distance_km", "Doit être supérieur à 0 et au plus 200 km."),
    ("distance too far", _set("max_distance_km", 200.5), "max_distance_km", "au plus 200 km"),
    ("distance not a number", _set("max_distance_km", "loin"), "max_distance_km", "Nombre attendu."),
    ("unknown field", _set("password", "secret"), "password", "Champ inconnu."),
    ("read-only field", _set("volunteer_id", "vol-mine"), "volunteer_id", "Champ inconnu."),
]


@pytest.mark.parametrize("change, field, french", [case[1:] for case in BAD_PAYLOADS],
                         ids=[case[0] for case in BAD_PAYLOADS])
def test_bad_payload_gives_422_naming_the_field_in_french_and_stores_nothing(
        client, uow, payload, change, field, french, manager):
    change(payload)
    response = client.post("/api/v1/volunteers", json=payload, headers=manager)

    assert response.status_code == 422
    body = response.get_json()
    assert body["message"] == "Les données envoyées sont invalides."
    assert french in json.dumps(body["errors"]["json"][field], ensure_ascii=False)
    assert uow.volunteers.docs == {} and uow.published == []


def test_post_reports_every_bad_field_at_once(client, payload, manager):
    payload.update(contact_email="nope", location={"lat": 49.5, "lon": 2.4385}, action_types=["cooking"])
    errors = client.post("/api/v1/volunteers", json=payload, headers=manager).get_json()["errors"]["json"]
    assert set(errors) == {"contact_email", "location", "action_types"}


def test_post_without_a_json_object_gives_422(client, uow, manager):
    response = client.post("/api/v1/volunteers", json=["not", "an", "object"], headers=manager)
    assert response.status_code == 422
    assert uow.published == []


def test_contact_email_is_never_logged(client, payload, caplog, manager):
    caplog.set_level(logging.DEBUG)
    response = client.post("/api/v1/volunteers", json=payload, headers=manager)
    volunteer_id = response.get_json()["volunteer_id"]
    logged = [json.dumps(record.__dict__, default=str) for record in caplog.records]
    assert any(volunteer_id in line for line in logged)
    assert not any(payload["contact_email"] in line for line in logged)


def test_get_returns_the_stored_volunteer(client, payload, manager):
    created = client.post("/api/v1/volunteers", json=payload, headers=manager).get_json()
    response = client.get(f"/api/v1/volunteers/{created['volunteer_id']}")
    assert response.status_code == 200
    assert response.get_json() == created


def test_get_unknown_volunteer_gives_404_in_french(client):
    response = client.get("/api/v1/volunteers/vol-inconnu")
    assert response.status_code == 404
    assert response.get_json()["message"] == "Engagement introuvable."


@pytest.fixture
def three_volunteers(client, payload, manager):
    pledges = [("94080", 48.8478, 2.4385, ["testimony", "internship"]),
               ("94033", 48.8515, 2.4760, ["intervention", "job_fair"]),
               ("94080", 48.8470, 2.4400, ["mentoring"])]
    ids = []
    for town, lat, lon, actions in pledges:
        body = {**copy.deepcopy(payload), "town": town, "location": {"lat": lat, "lon": lon},
                "action_types": actions}
        response = client.post("/api/v1/volunteers", json=body, headers=manager)
        assert response.status_code == 201
        ids.append(response.get_json()["volunteer_id"])
    return ids


def _ids(response):
    assert response.status_code == 200
    return {volunteer["volunteer_id"] for volunteer in response.get_json()["items"]}


def test_list_returns_every_volunteer(client, three_volunteers):
    assert _ids(client.get("/api/v1/volunteers")) == set(three_volunteers)


def test_list_filters_by_town(client, three_volunteers):
    assert _ids(client.get("/api/v1/volunteers?town=94080")) == {three_volunteers[0], three_volunteers[2]}
    assert _ids(client.get("/api/v1/volunteers?town=94017")) == set()


def test_list_filters_by_action_type(client, three_volunteers):
    assert _ids(client.get("/api/v1/volunteers?action_type=job_fair")) == {three_volunteers[1]}
    assert _ids(client.get("/api/v1/volunteers?town=94080&action_type=mentoring")) == {three_volunteers[2]}


def test_list_honours_page_size(client, three_volunteers):
    assert len(_ids(client.get("/api/v1/volunteers?page_size=2"))) == 2


@pytest.mark.parametrize("query, field", [("page_size=0", "page_size"), ("page_size=201", "page_size"),
                                          ("page_size=beaucoup", "page_size"), ("page=0", "page"),
                                          ("town=75056", "town"), ("action_type=cooking", "action_type")])
def test_list_refuses_bad_filters_in_french(client, query, field):
    response = client.get(f"/api/v1/volunteers?{query}")
    assert response.status_code == 422
    [message] = response.get_json()["errors"]["query"][field]
    assert message.startswith(("Doit être", "Nombre entier", "Commune inconnue", "Type d'action inconnu"))


def test_openapi_document_is_served(client):
    spec = client.get("/openapi.json").get_json()
    assert {"/api/v1/volunteers", "/api/v1/volunteers/{volunteer_id}"} <= set(spec["paths"])
