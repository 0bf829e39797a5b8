import json
import logging

import pytest

REQUEST_CREATED = "fr.vitawin.request.created.v1"


def test_post_stores_an_open_request_and_publishes_its_event_carrying_the_correlation_id(
        client, uow, payload, contract_set):
    response = client.post("/api/v1/requests", json=payload, headers={"X-Correlation-ID": "corr-7"})

    assert response.status_code == 201
    body = response.get_json()
    request_id = body["request_id"]
    assert request_id.startswith("req-") and len(request_id) == 36
    assert {k: body[k] for k in payload} == payload
    assert body["status"] == "open"
    assert response.headers["Location"] == f"/api/v1/requests/{request_id}"

    assert list(uow.requests.docs) == [request_id]
    assert uow.requests.docs[request_id]["status"] == "open"
    assert uow.committed

    [(event, channel)] = uow.published
    assert channel == "requests"
    assert (event.type, event.source, event.subject) == (REQUEST_CREATED, "/vitawin/requests", request_id)
    contract_set.validate(REQUEST_CREATED, event.data)
    assert event.data == {k: body[k] for k in event.data}
    assert event.correlation_id == "corr-7"


def test_a_pupil_request_defaults_max_distance_to_10_km(client, uow, payload):
    del payload["max_distance_km"]
    payload["requester_kind"] = "pupil"
    response = client.post("/api/v1/requests", json=payload)
    assert response.status_code == 201
    assert response.get_json()["max_distance_km"] == 10
    assert uow.published[0][0].data["requester_kind"] == "pupil"


def _without(field):
    def change(payload):
        del payload[field]
    return change


def _set(field, value):
    def change(payload):
        payload[field] = value
    return change


BAD_PAYLOADS = [
    ("missing field", _without("action_type"), "action_type", "Champ obligatoire."),
    ("missing requester kind", _without("requester_kind"), "requester_kind", "Champ obligatoire."),
    ("bad email", _set("contact_email", "referent.example.fr"), "contact_email", "Adresse e-mail invalide."),
    ("unknown town", _set("town", "75056"), "town", "Commune inconnue"),
    ("location 20 km off", _set("location", {"lat": 48.8517 - 0.18, "lon": 2.4769}), "location",
     "5 km au plus du centre de Fontenay-sous-Bois"),
    ("location not an object", _set("location", "chez moi"), "location", "Type de donnée invalide."),
    ("unknown action type", _set("action_type", "cooking"), "action_type", "Type d'action inconnu"),
    ("unknown requester kind", _set("requester_kind", "parent"), "requester_kind", "Type de demandeur inconnu"),
    ("distance negative", _set("max_distance_km", -1), "max_distance_km", "Doit être supérieur à 0"),
    ("unknown field", _set("home_address", "1 rue X"), "home_address", "Champ inconnu."),
    ("read-only field", _set("status", "closed"), "status", "Champ inconnu."),
]


@pytest.mark.parametrize("change, field, french", [case[1:] for case in BAD_PAYLOADS],
                         ids=[case[0] for case in BAD_PAYLOADS])
def test_bad_payload_gives_422_naming_the_field_in_french_and_stores_nothing(
        client, uow, payload, change, field, french):
    change(payload)
    response = client.post("/api/v1/requests", json=payload)

    assert response.status_code == 422
    body = response.get_json()
    assert body["message"] == "Les données envoyées sont invalides."
    assert french in json.dumps(body["errors"]["json"][field], ensure_ascii=False)
    assert uow.requests.docs == {} and uow.published == []


def test_contact_email_is_never_logged(client, payload, caplog):
    caplog.set_level(logging.DEBUG)
    request_id = client.post("/api/v1/requests", json=payload).get_json()["request_id"]
    logged = [json.dumps(record.__dict__, default=str) for record in caplog.records]
    assert any(request_id in line for line in logged)
    assert not any(payload["contact_email"] in line for line in logged)


def test_get_returns_the_stored_request(client, payload):
    created = client.post("/api/v1/requests", json=payload).get_json()
    response = client.get(f"/api/v1/requests/{created['request_id']}")
    assert response.status_code == 200
    assert response.get_json() == created


def test_get_unknown_request_gives_404_in_french(client):
    response = client.get("/api/v1/requests/req-inconnue")
    assert response.status_code == 404
    assert response.get_json()["message"] == "Demande introuvable."


@pytest.fixture
def three_requests(client, payload):
    asks = [("school", "testimony", "94033", 48.8505, 2.4780),
            ("pupil", "internship", "94017", 48.8175, 2.5150),
            ("pupil", "testimony", "94033", 48.8517, 2.4769)]
    ids = []
    for kind, action, town, lat, lon in asks:
        body = {**payload, "requester_kind": kind, "action_type": action, "town": town,
                "location": {"lat": lat, "lon": lon}}
        response = client.post("/api/v1/requests", json=body)
        assert response.status_code == 201
        ids.append(response.get_json()["request_id"])
    return ids


def _ids(response):
    assert response.status_code == 200
    return {request["request_id"] for request in response.get_json()}


def test_list_returns_every_request(client, three_requests):
    assert _ids(client.get("/api/v1/requests")) == set(three_requests)


@pytest.mark.parametrize("query, expected", [
    ("town=94033", {0, 2}),
    ("action_type=internship", {1}),
    ("requester_kind=pupil", {1, 2}),
    ("requester_kind=pupil&town=94033", {2}),
    ("status=open", {0, 1, 2}),
    ("town=94080", set()),
])
def test_list_filters(client, three_requests, query, expected):
    assert _ids(client.get(f"/api/v1/requests?{query}")) == {three_requests[i] for i in expected}


def test_list_honours_limit(client, three_requests):
    assert len(_ids(client.get("/api/v1/requests?limit=1"))) == 1


@pytest.mark.parametrize("query, field", [("limit=500", "limit"), ("town=75056", "town"),
                                          ("action_type=cooking", "action_type"),
                                          ("requester_kind=parent", "requester_kind"), ("status=lost", "status")])
def test_list_refuses_bad_filters_in_french(client, query, field):
    response = client.get(f"/api/v1/requests?{query}")
    assert response.status_code == 422
    [message] = response.get_json()["errors"]["query"][field]
    assert message.startswith(("Doit être", "Commune inconnue", "Type d'action inconnu", "Type de demandeur inconnu",
                               "État inconnu"))


def test_openapi_says_a_pupil_location_is_never_a_home(client):
    spec = client.get("/openapi.json").get_json()
    assert {"/api/v1/requests", "/api/v1/requests/{request_id}"} <= set(spec["paths"])
    assert "jamais celle de son domicile" in spec["info"]["description"]
    assert "jamais l'adresse de son domicile" in json.dumps(spec["components"]["schemas"]["Request"], ensure_ascii=False)
