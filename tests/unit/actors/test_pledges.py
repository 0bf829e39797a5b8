"""Pledges with per-action settings (POST /api/v1/volunteers): each action's settings accepted with
their defaults, each bad one refused in French naming its path, ROME codes checked against the
reference and returned with their French labels, the organisation checked in the directory."""
from __future__ import annotations

import copy
import json
from datetime import date

import pytest

from vitawin_actors.api import create_app

REGISTERED = "fr.vitawin.volunteer.registered.v1"
TODAY = date(2026, 11, 27)
COMMON_DEFAULTS = {"rome_codes": [], "rome_jobs": [], "audience": "all", "weekly_contact_cap": 5}
DEFAULTS = {
    "testimony": {**COMMON_DEFAULTS, "modality": "in_class"},
    "intervention": {**COMMON_DEFAULTS, "modality": "in_class", "topics": []},
    "internship": {**COMMON_DEFAULTS, "modality": "on_site", "capacity_per_period": 1, "levels": [], "periods": []},
    "apprenticeship": {**COMMON_DEFAULTS, "modality": "on_site", "diplomas": [], "places": 1},
    "mentoring": {**COMMON_DEFAULTS, "modality": "on_site", "duration_months": 6, "mentees": 1},
    "job_fair": {**COMMON_DEFAULTS, "modality": "in_class", "dates": [], "on_request": True},
}


@pytest.fixture
def client(uow, territory, verified):
    """The app with a fixed "today" (job fair dates must be after it)."""
    return verified(create_app(uow_factory=lambda: uow, territory=territory, today=lambda: TODAY)).test_client()


@pytest.fixture
def pledge(payload):
    """A pledge with every action type and no settings."""
    return {**copy.deepcopy(payload), "action_types": list(DEFAULTS)}


@pytest.fixture
def post(client, manager):
    """post(body): registers the pledge as a territory manager (who may name any organisation)."""
    return lambda body: client.post("/api/v1/volunteers", json=body, headers=manager)


# --- settings accepted ---------------------------------------------------------------------------

def test_every_action_without_settings_gets_the_defaults(post, uow, pledge, contract_set):
    response = post(pledge)
    assert response.status_code == 201
    body = response.get_json()
    assert body["actions"] == DEFAULTS
    assert (body["status"], body["version"]) == ("active", 1)
    assert "actor_id" not in body
    [(event, channel)] = uow.published
    contract_set.validate(REGISTERED, event.data)
    assert event.data["actions"] == DEFAULTS and event.data["version"] == 1
    assert uow.volunteers.docs[body["volunteer_id"]]["actions"] == DEFAULTS


ACCEPTED = [
    ("testimony", {"rome_codes": ["D1202"], "audience": "college", "modality": "remote", "max_distance_km": 4,
                   "weekly_contact_cap": 2},
     {"rome_codes": ["D1202"], "rome_jobs": [{"code": "D1202", "label": "Coiffeur / Coiffeuse"}],
      "audience": "college", "modality": "remote", "max_distance_km": 4.0, "weekly_contact_cap": 2}),
    ("intervention", {"topics": ["hygiène", "sécurité au travail"], "audience": "lycee"},
     {"topics": ["hygiène", "sécurité au travail"], "audience": "lycee", "modality": "in_class"}),
    ("internship", {"rome_codes": ["I1604"], "capacity_per_period": 3, "levels": ["3e", "2nde"],
                    "periods": ["2027-W25", "2027-W24"], "modality": "on_site"},
     {"rome_codes": ["I1604"], "rome_jobs": [{"code": "I1604", "label": "Mécanicien / Mécanicienne automobile"}],
      "capacity_per_period": 3, "levels": ["3e", "2nde"], "periods": ["2027-W24", "2027-W25"]}),
    ("internship", {"audience": "college", "levels": ["4e", "3e"], "periods": ["2026-W53"]},
     {"audience": "college", "levels": ["4e", "3e"], "periods": ["2026-W53"], "capacity_per_period": 1}),
    ("apprenticeship", {"diplomas": ["CAP", "Bac pro", "BTS"], "places": 2, "rome_codes": ["J1501"]},
     {"diplomas": ["CAP", "Bac pro", "BTS"], "places": 2, "rome_codes": ["J1501"],
      "rome_jobs": [{"code": "J1501", "label": "Aide-soignant / Aide-soignante"}]}),
    ("mentoring", {"duration_months": 24, "mentees": 3, "modality": "remote"},
     {"duration_months": 24, "mentees": 3, "modality": "remote"}),
    ("mentoring", {"duration_months": 1}, {"duration_months": 1, "mentees": 1}),
    ("job_fair", {"dates": ["2027-03-18", "2026-11-28"]},
     {"dates": ["2026-11-28", "2027-03-18"], "on_request": False}),
    ("job_fair", {"on_request": True}, {"dates": [], "on_request": True}),
    ("job_fair", {"dates": ["2027-03-18"], "on_request": False}, {"dates": ["2027-03-18"], "on_request": False}),
]


@pytest.mark.parametrize("action_type, settings, expected", [case for case in ACCEPTED],
                         ids=[f"{case[0]}-{i}" for i, case in enumerate(ACCEPTED)])
def test_each_action_settings_are_accepted_stored_and_published(post, uow, payload, contract_set,
                                                                action_type, settings, expected):
    body = {**payload, "action_types": ["testimony", action_type] if action_type != "testimony" else ["testimony"],
            "actions": {action_type: settings}}
    response = post(body)
    assert response.status_code == 201, response.get_json()
    returned = response.get_json()["actions"]
    assert returned[action_type] == {**DEFAULTS[action_type], **expected}
    assert returned["testimony"] == (DEFAULTS["testimony"] if action_type != "testimony" else returned["testimony"])
    [(event, _)] = uow.published
    contract_set.validate(REGISTERED, event.data)
    assert event.data["actions"] == returned
    assert uow.volunteers.docs[response.get_json()["volunteer_id"]]["actions"] == returned


def test_rome_codes_are_read_in_capitals_and_returned_with_their_french_labels(post, payload):
    payload["actions"] = {"testimony": {"rome_codes": [" d1102", "G1602", "F1703"]}}
    response = post(payload)
    assert response.status_code == 201
    testimony = response.get_json()["actions"]["testimony"]
    assert testimony["rome_codes"] == ["D1102", "G1602", "F1703"]
    assert testimony["rome_jobs"] == [{"code": "D1102", "label": "Boulanger / Boulangère"},
                                      {"code": "G1602", "label": "Commis / Commise de cuisine"},
                                      {"code": "F1703", "label": "Maçon / Maçonne"}]


def test_get_returns_the_settings_and_the_status(client, post, payload):
    payload["actions"] = {"internship": {"levels": ["3e"], "periods": ["2027-W24"]}}
    created = post(payload).get_json()
    fetched = client.get(f"/api/v1/volunteers/{created['volunteer_id']}").get_json()
    assert fetched == created
    assert fetched["actions"]["internship"]["periods"] == ["2027-W24"]
    assert fetched["status"] == "active"


# --- settings refused ----------------------------------------------------------------------------

REFUSED = [
    # (action type, settings, path under errors.json.actions.<type>, French words)
    ("testimony", {"rome_codes": ["D9999"]}, ["rome_codes", "0"], "Code ROME inconnu du référentiel ROME : D9999."),
    ("testimony", {"rome_codes": ["D1102", "boulanger"]}, ["rome_codes", "1"], "Code ROME invalide"),
    ("testimony", {"rome_codes": ["D1102", "d1102"]}, ["rome_codes"], "Chaque code ROME ne doit figurer qu'une fois."),
    ("testimony", {"rome_codes": "D1102"}, ["rome_codes"], "Liste attendue."),
    ("testimony", {"audience": "primaire"}, ["audience"], "Public inconnu ; valeurs possibles : college"),
    ("testimony", {"modality": "visio"}, ["modality"], "Modalité inconnue ; valeurs possibles : on_site"),
    ("testimony", {"max_distance_km": 0}, ["max_distance_km"], "Doit être supérieur à 0 et au plus 200 km."),
    ("testimony", {"max_distance_km": "loin"}, ["max_distance_km"], "Nombre attendu."),
    ("testimony", {"weekly_contact_cap": 0}, ["weekly_contact_cap"], "Nombre entier entre 1 et 100 attendu."),
    ("testimony", {"weekly_contact_cap": 2.5}, ["weekly_contact_cap"], "Nombre entier attendu."),
    ("testimony", {"weekly_contact_cap": "3"}, ["weekly_contact_cap"], "Nombre entier attendu."),
    ("testimony", {"weekly_contact_cap": True}, ["weekly_contact_cap"], "Nombre entier attendu."),
    ("testimony", {"topics": ["cuisine"]}, ["topics"], "Champ inconnu."),
    ("intervention", {"topics": [""]}, ["topics", "0"], "La longueur doit être comprise entre 1 et 100."),
    ("intervention", {"topics": ["a", "a"]}, ["topics"], "Chaque thème ne doit figurer qu'une fois."),
    ("internship", {"capacity_per_period": 0}, ["capacity_per_period"], "Nombre entier entre 1 et 100 attendu."),
    ("internship", {"levels": ["3eme"]}, ["levels", "0"], "Niveau inconnu ; valeurs possibles : 6e"),
    ("internship", {"audience": "lycee", "levels": ["3e", "2nde"]}, ["levels"],
     "Niveaux hors du public choisi (lycée) : 3e"),
    ("internship", {"audience": "college", "levels": ["Tle"]}, ["levels"], "niveaux possibles : 6e, 5e, 4e, 3e"),
    ("internship", {"periods": ["2027-24"]}, ["periods", "0"], "Semaine ISO invalide : « 2027-24 »"),
    ("internship", {"periods": ["2027-W24", "2027-W60"]}, ["periods", "1"], "semaine 01 à 52 (53 certaines années)"),
    ("internship", {"periods": ["2027-W53"]}, ["periods", "0"], "Semaine ISO invalide"),  # 2027 has 52 weeks
    ("internship", {"periods": ["2027-W24", "2027-W24"]}, ["periods"], "Chaque semaine ne doit figurer qu'une fois."),
    ("apprenticeship", {"diplomas": ["Doctorat"]}, ["diplomas", "0"], "Diplôme inconnu ; valeurs possibles : CAP"),
    ("apprenticeship", {"places": 0}, ["places"], "Nombre entier entre 1 et 100 attendu."),
    ("apprenticeship", {"places": 101}, ["places"], "Nombre entier entre 1 et 100 attendu."),
    ("mentoring", {"duration_months": 0}, ["duration_months"], "Nombre de mois entre 1 et 24 attendu."),
    ("mentoring", {"duration_months": 25}, ["duration_months"], "Nombre de mois entre 1 et 24 attendu."),
    ("mentoring", {"mentees": 0}, ["mentees"], "Nombre entier entre 1 et 100 attendu."),
    ("job_fair", {"dates": ["2026-11-27"]}, ["dates", "0"], "La date doit être dans le futur (après le 27/11/2026)."),
    ("job_fair", {"dates": ["2020-03-18"]}, ["dates", "0"], "La date doit être dans le futur"),
    ("job_fair", {"dates": ["18/03/2027"]}, ["dates", "0"], "Date invalide : format attendu AAAA-MM-JJ"),
    ("job_fair", {"dates": ["2027-03-18"], "on_request": True}, ["on_request"],
     "Indiquez soit des dates, soit on_request: true, pas les deux."),
    ("job_fair", {"on_request": False}, ["dates"], "Indiquez au moins une date, ou on_request: true."),
    ("job_fair", {"dates": []}, ["dates"], "Indiquez au moins une date, ou on_request: true."),
]


@pytest.mark.parametrize("action_type, settings, path, french", REFUSED,
                         ids=[f"{case[0]}-{'.'.join(case[2])}-{i}" for i, case in enumerate(REFUSED)])
def test_each_bad_setting_gives_422_naming_its_path_in_french_and_stores_nothing(
        post, uow, payload, action_type, settings, path, french):
    body = {**payload, "action_types": sorted({"testimony", action_type}), "actions": {action_type: settings}}
    response = post(body)
    assert response.status_code == 422
    answer = response.get_json()
    assert answer["message"] == "Les données envoyées sont invalides."
    errors = answer["errors"]["json"]
    assert list(errors) == ["actions"] and list(errors["actions"]) == [action_type]
    node = errors["actions"][action_type]
    for key in path:
        node = node[key]
    assert any(french in message for message in node), node
    assert uow.volunteers.docs == {} and uow.published == []


@pytest.mark.parametrize("actions, key, french", [
    ({"internship": {}}, "internship", "Action absente de action_types : ajoutez « internship » à action_types"),
    ({"cooking": {}}, "cooking", "Type d'action inconnu ; valeurs possibles : testimony"),
    ({"testimony": None}, "testimony", "Ce champ ne peut pas être vide."),
    ({"testimony": ["D1102"]}, "testimony", "Type de donnée invalide."),
])
def test_actions_keys_must_be_among_action_types(post, uow, payload, actions, key, french):
    payload.update(action_types=["testimony"], actions=actions)
    response = post(payload)
    assert response.status_code == 422
    assert french in json.dumps(response.get_json()["errors"]["json"]["actions"][key], ensure_ascii=False)
    assert uow.published == []


def test_actions_must_be_an_object(post, payload):
    payload["actions"] = ["testimony"]
    response = post(payload)
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["actions"]


def test_every_bad_setting_is_reported_at_once(post, payload):
    payload.update(action_types=["internship", "mentoring"], actions={
        "internship": {"periods": ["2027-W60"], "rome_codes": ["Z0000"]}, "mentoring": {"mentees": 0}})
    errors = post(payload).get_json()["errors"]["json"]["actions"]
    assert set(errors["internship"]) == {"periods", "rome_codes"} and set(errors["mentoring"]) == {"mentees"}


# --- the organisation ----------------------------------------------------------------------------

def _actor(uow, actor_id, kind):
    uow.actors.docs[actor_id] = {"actor_id": actor_id, "kind": kind, "name": "X", "town": "94080"}


def test_a_registered_organisation_is_linked_and_published(post, uow, payload, contract_set):
    _actor(uow, "act-1", "craftsman")
    response = post({**payload, "actor_id": "act-1"})
    assert response.status_code == 201
    assert response.get_json()["actor_id"] == "act-1"
    [(event, _)] = uow.published
    assert event.data["actor_id"] == "act-1"
    contract_set.validate(REGISTERED, event.data)


@pytest.mark.parametrize("actor, french", [
    (None, "Acteur inconnu de l'annuaire"),
    ("school", "L'acteur indiqué n'est pas une organisation"),
])
def test_actor_id_must_name_an_organisation_of_the_directory(post, uow, payload, actor, french):
    if actor:
        _actor(uow, "act-2", actor)
    response = post({**payload, "actor_id": "act-2"})
    assert response.status_code == 422
    assert french in response.get_json()["errors"]["json"]["actor_id"][0]
    assert uow.volunteers.docs == {} and uow.published == []
