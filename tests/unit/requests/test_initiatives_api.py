"""/api/v1/initiatives over HTTP, in memory (Flask test client, real signed tokens): publishing
with every validation error in French naming its field, who may do what (401, 403), reading
with the contact e-mail and messages kept for the publisher and participants, editing, closing,
joining, applying and leaving, the list with its filters and pages, the GeoJSON map and the
OpenAPI document."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from vitawin_common import identity
from vitawin_common.territory import Location

from vitawin_requests.initiatives import handlers
from vitawin_requests.initiatives.domain import Party, PublishInitiative

from tests.unit.requests.initiatives_fakes import (ORG, OTHER_ORG, PARTNER, SCHOOL, TODAY, Tokens,
                                                   call_body, initiative_body, load_territory, make_app, make_uow,
                                                   validate_event)

URL = "/api/v1/initiatives"


@pytest.fixture(scope="module")
def keys():
    return identity.generate_keys()


@pytest.fixture(scope="module")
def places():
    return load_territory()


@pytest.fixture
def store():
    return make_uow()


@pytest.fixture
def http(store, places, keys):
    return make_app(store, places, keys[1]).test_client()


@pytest.fixture
def tokens(keys):
    return Tokens(keys[0])


def publish(http, tokens, body=None, headers=None):
    return http.post(URL, json=body or initiative_body(), headers=headers or tokens.professional())


def published_id(http, tokens, body=None, headers=None) -> str:
    response = publish(http, tokens, body, headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["initiative_id"]


def errors_of(response) -> dict:
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["message"] == "Les données envoyées sont invalides."
    return body["errors"]["json"]


def text(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def event_types(store) -> list[str]:
    return [event.type for event, _ in store.published]


# --- publishing ----------------------------------------------------------------------------------

def test_a_professional_publishes_an_initiative_at_the_centre_of_its_town(http, tokens, store, places):
    response = publish(http, tokens)
    assert response.status_code == 201
    body = response.get_json()
    assert body["initiative_id"].startswith("ini-") and len(body["initiative_id"]) == 36
    assert response.headers["Location"].endswith(f"{URL}/{body['initiative_id']}")
    assert body["publisher"] == {"actor_id": ORG, "role": "professional"}
    assert (body["status"], body["version"], body["participants"], body["participant_count"]) == ("open", 1, [], 0)
    centre = places.towns["94033"].centre
    assert body["location"] == {"lat": centre.lat, "lon": centre.lon}
    assert body["contact_email"] == "contact@boulangerie-vignerons.example.fr"  # the publisher sees it
    assert (body["start_date"], body["end_date"], body["deadline"]) == ("2027-01-11", "2027-01-15", None)
    assert body["initiative_id"] in store.initiatives.docs
    [(event, channel)] = store.published
    assert (event.type, channel, event.subject, event.source) == (
        "fr.vitawin.initiative.published.v1", "initiatives", body["initiative_id"], "/vitawin/requests")
    validate_event(event)
    assert "contact_email" not in event.data and "@" not in text(event.data)


def test_a_call_for_projects_keeps_its_deadline_and_given_location(http, tokens, store):
    response = publish(http, tokens, call_body())
    assert response.status_code == 201
    body = response.get_json()
    assert (body["kind"], body["deadline"], body["location"]) == (
        "call_for_projects", "2026-12-15", {"lat": 48.8478, "lon": 2.4385})
    [(event, _)] = store.published
    validate_event(event)
    assert event.data["deadline"] == "2026-12-15"


@pytest.mark.parametrize("headers", ["referent", "manager"])
def test_a_school_referent_and_a_territory_manager_may_publish(http, tokens, headers):
    response = publish(http, tokens, headers=getattr(tokens, headers)())
    assert response.status_code == 201
    assert response.get_json()["publisher"]["role"] in ("school_referent", "territory_manager")


def test_publishing_needs_a_connection(http, store):
    response = http.post(URL, json={"title": "x"})  # refused before the body is even read
    assert response.status_code == 401
    assert response.get_json()["message"] == "Connexion requise."
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert store.initiatives.docs == {} and store.published == []


def test_a_bad_token_is_refused_in_french(http):
    response = http.post(URL, json=initiative_body(), headers={"Authorization": "Bearer abc.def.ghi"})
    assert response.status_code == 401
    assert response.get_json()["message"] == "Jeton d'accès invalide."


@pytest.mark.parametrize("who", ["pupil", "partner"])
def test_pupils_and_partners_cannot_publish(http, tokens, store, who):
    response = publish(http, tokens, headers=getattr(tokens, who)())
    assert response.status_code == 403
    assert response.get_json()["message"].startswith("Action réservée aux rôles : professionnel")
    assert store.initiatives.docs == {} and store.published == []


def test_an_account_acting_for_no_actor_cannot_publish(http, tokens, store):
    response = publish(http, tokens, headers=tokens.header("professional", None))
    assert response.status_code == 403
    assert "n'agit pour aucun acteur" in response.get_json()["message"]
    assert store.published == []


LONG = "x" * 121
INVALID = [
    ("kind is required", {"kind": None}, "kind", "Champ obligatoire."),
    ("kind is one of two", {"kind": "festival"}, "kind", "Type inconnu ; valeurs possibles : initiative"),
    ("title is required", {"title": None}, "title", "Champ obligatoire."),
    ("title too short", {"title": "Ab"}, "title", "Le titre doit compter entre 3 et 120 caractères."),
    ("title of spaces", {"title": "  a   "}, "title", "Le titre doit compter entre 3 et 120 caractères."),
    ("title too long", {"title": LONG}, "title", "Le titre doit compter entre 3 et 120 caractères."),
    ("title is text", {"title": 42}, "title", "Texte attendu."),
    ("description too long", {"description": "d" * 2001}, "description", "au plus 2000 caractères"),
    ("partner kinds required", {"partner_kinds_sought": None}, "partner_kinds_sought", "Champ obligatoire."),
    ("partner kinds not empty", {"partner_kinds_sought": []}, "partner_kinds_sought",
     "Indiquez au moins un type de partenaire recherché."),
    ("partner kind known", {"partner_kinds_sought": ["pupil"]}, "partner_kinds_sought",
     "Type de partenaire inconnu ; valeurs possibles : company (entreprise)"),
    ("partner kinds distinct", {"partner_kinds_sought": ["school", "school"]}, "partner_kinds_sought",
     "Chaque type de partenaire ne doit figurer qu'une fois."),
    ("partner kinds a list", {"partner_kinds_sought": "school"}, "partner_kinds_sought", "Liste attendue."),
    ("start date format", {"start_date": "11/01/2027"}, "start_date", "Date invalide : format attendu AAAA-MM-JJ"),
    ("end date format", {"end_date": "2027-02-30"}, "end_date", "Date invalide : format attendu AAAA-MM-JJ"),
    ("end before start", {"end_date": "2027-01-10"}, "end_date", "La date de fin doit être le 11/01/2027 (date de début) ou après."),
    ("end in the past", {"start_date": None, "end_date": "2026-11-26"}, "end_date",
     "La date de fin est déjà passée (nous sommes le 27/11/2026)."),
    ("town is required", {"town": None}, "town", "Champ obligatoire."),
    ("town in the territory", {"town": "75056"}, "town", "Commune inconnue : ce n'est pas le code INSEE d'une commune "
                                                         "du territoire Paris Est Marne et Bois."),
    ("location near the town", {"location": {"lat": 48.8566, "lon": 2.3522}}, "location",
     "La position doit se trouver à 5 km au plus du centre de Fontenay-sous-Bois"),
    ("latitude in range", {"location": {"lat": 200, "lon": 2.47}}, "location", "Latitude entre -90 et 90 attendue."),
    ("longitude a number", {"location": {"lat": 48.85, "lon": "east"}}, "location", "Nombre attendu."),
    ("location an object", {"location": "here"}, "location", "Type de donnée invalide."),
    ("contact e-mail required", {"contact_email": None}, "contact_email", "Champ obligatoire."),
    ("contact e-mail valid", {"contact_email": "not-an-email"}, "contact_email", "Adresse e-mail invalide."),
    ("no deadline for an initiative", {"deadline": "2026-12-15"}, "deadline", "Seul un appel à projets a une date limite"),
    ("status is not given", {"status": "closed"}, "status", "Champ inconnu."),
    ("publisher is not given", {"publisher": {"actor_id": "act-x", "role": "professional"}}, "publisher", "Champ inconnu."),
]


@pytest.mark.parametrize("change, field, reason", [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_each_invalid_initiative_is_refused_in_french_naming_its_field(http, tokens, store, change, field, reason):
    errors = errors_of(publish(http, tokens, initiative_body(**change)))  # a None value removes the field
    assert field in errors, errors
    assert reason in text(errors[field])
    assert store.initiatives.docs == {} and store.published == []


INVALID_CALLS = [
    ("deadline required", {"deadline": None}, "deadline", "Champ obligatoire pour un appel à projets"),
    ("deadline today", {"deadline": TODAY.isoformat()}, "deadline", "La date limite doit être dans le futur (après le 27/11/2026)."),
    ("deadline in the past", {"deadline": "2026-01-01"}, "deadline", "dans le futur"),
    ("deadline after the end", {"deadline": "2027-02-01", "end_date": "2027-01-31"}, "deadline",
     "La date limite doit être le 31/01/2027 (date de fin) ou avant."),
    ("location near the town", {"location": {"lat": 48.80, "lon": 2.55}}, "location", "du centre de Vincennes"),
]


@pytest.mark.parametrize("change, field, reason", [case[1:] for case in INVALID_CALLS],
                         ids=[case[0] for case in INVALID_CALLS])
def test_each_invalid_call_for_projects_is_refused_in_french(http, tokens, store, change, field, reason):
    errors = errors_of(publish(http, tokens, call_body(**change)))
    assert reason in text(errors[field])
    assert store.published == []


def test_a_malformed_deadline_gets_one_reason_not_two(http, tokens):
    errors = errors_of(publish(http, tokens, call_body(deadline="15/12/2026")))
    assert errors["deadline"] == ["Date invalide : format attendu AAAA-MM-JJ (ex. 2027-03-18)."]


def test_a_body_that_is_not_an_object_is_refused(http, tokens):
    response = http.post(URL, json=["kind"], headers=tokens.professional())
    assert response.status_code == 422


# --- reading -------------------------------------------------------------------------------------

@pytest.fixture
def joined(http, tokens):
    """An initiative of ORG that SCHOOL joined with a message."""
    initiative_id = published_id(http, tokens)
    response = http.post(f"{URL}/{initiative_id}/participants", json={"message": "Nos 3e B sont partants."},
                         headers=tokens.referent())
    assert response.status_code == 201, response.get_json()
    return initiative_id


@pytest.mark.parametrize("who, private", [
    ("anonymous", False), ("publisher", True), ("participant", True), ("other", False), ("manager", False)])
def test_the_contact_and_messages_are_shown_to_the_publisher_and_participants_only(http, tokens, joined, who, private):
    headers = {"anonymous": {}, "publisher": tokens.professional(), "participant": tokens.referent(),
               "other": tokens.professional(OTHER_ORG), "manager": tokens.manager()}[who]
    response = http.get(f"{URL}/{joined}", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    [participant] = body["participants"]
    assert participant["actor_id"] == SCHOOL and participant["role"] == "school_referent"
    assert ("contact_email" in body) is private
    assert ("message" in participant) is private
    if private:
        assert participant["message"] == "Nos 3e B sont partants."
    else:
        assert "@" not in text(body) and "partants" not in text(body)


def test_an_unknown_initiative_is_not_found(http):
    response = http.get(f"{URL}/ini-{'0' * 32}")
    assert response.status_code == 404
    assert response.get_json()["message"] == "Initiative introuvable."


# --- editing -------------------------------------------------------------------------------------

def test_the_publisher_edits_its_initiative(http, tokens, store):
    initiative_id = published_id(http, tokens)
    response = http.patch(f"{URL}/{initiative_id}", json={"title": "Semaine des métiers d'art", "end_date": None},
                          headers=tokens.professional())
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["title"], body["end_date"], body["version"]) == ("Semaine des métiers d'art", None, 2)
    event, channel = store.published[-1]
    assert (event.type, channel) == ("fr.vitawin.initiative.updated.v1", "initiatives")
    assert event.data["changed_fields"] == ["title", "end_date"] and event.data["version"] == 2
    assert "end_date" not in event.data
    validate_event(event)


def test_a_new_town_without_a_location_moves_the_initiative_to_its_centre(http, tokens, places):
    initiative_id = published_id(http, tokens)
    body = http.patch(f"{URL}/{initiative_id}", json={"town": "94080"}, headers=tokens.professional()).get_json()
    centre = places.towns["94080"].centre
    assert (body["town"], body["location"]) == ("94080", {"lat": centre.lat, "lon": centre.lon})


def test_an_edit_that_changes_nothing_publishes_nothing(http, tokens, store):
    initiative_id = published_id(http, tokens)
    response = http.patch(f"{URL}/{initiative_id}", json={"town": "94033"}, headers=tokens.professional())
    assert response.status_code == 200 and response.get_json()["version"] == 1
    assert event_types(store) == ["fr.vitawin.initiative.published.v1"]


@pytest.mark.parametrize("change, field, reason", [
    ({}, "_schema", "Indiquez au moins un champ à modifier."),
    ({"kind": "call_for_projects"}, "kind", "Le type ne se modifie pas"),
    ({"title": "x"}, "title", "Le titre doit compter entre 3 et 120 caractères."),
    ({"location": {"lat": 48.8566, "lon": 2.3522}}, "location", "5 km au plus du centre de Fontenay-sous-Bois"),
    ({"end_date": "2027-01-01"}, "end_date", "date de début"),
    ({"deadline": "2027-01-01"}, "deadline", "Seul un appel à projets"),
    ({"town": "75056"}, "town", "Commune inconnue"),
    ({"partner_kinds_sought": []}, "partner_kinds_sought", "au moins un type"),
    ({"version": 7}, "version", "Champ inconnu."),
])
def test_an_invalid_edit_is_refused_in_french_and_changes_nothing(http, tokens, store, change, field, reason):
    initiative_id = published_id(http, tokens)
    before = store.initiatives.get(initiative_id)
    errors = errors_of(http.patch(f"{URL}/{initiative_id}", json=change, headers=tokens.professional()))
    assert reason in text(errors[field]), errors
    assert store.initiatives.get(initiative_id) == before and len(store.published) == 1


def test_a_call_for_projects_deadline_moves_only_to_the_future(http, tokens):
    initiative_id = published_id(http, tokens, call_body())
    errors = errors_of(http.patch(f"{URL}/{initiative_id}", json={"deadline": "2026-11-27"},
                                  headers=tokens.professional()))
    assert "dans le futur" in text(errors["deadline"])
    response = http.patch(f"{URL}/{initiative_id}", json={"deadline": "2026-12-20"}, headers=tokens.professional())
    assert response.status_code == 200 and response.get_json()["deadline"] == "2026-12-20"


@pytest.mark.parametrize("who, status", [("anonymous", 401), ("pupil", 403), ("partner", 403), ("other", 403),
                                         ("manager", 403)])
def test_only_the_publisher_edits(http, tokens, store, who, status):
    initiative_id = published_id(http, tokens)
    headers = {"anonymous": {}, "pupil": tokens.pupil(), "partner": tokens.partner(),
               "other": tokens.professional(OTHER_ORG), "manager": tokens.manager()}[who]
    response = http.patch(f"{URL}/{initiative_id}", json={"title": "Autre titre"}, headers=headers)
    assert response.status_code == status
    if who == "other":
        assert response.get_json()["message"] == "Seul l'acteur qui a publié cette initiative peut la modifier."
    assert len(store.published) == 1


def test_editing_an_unknown_initiative_is_not_found(http, tokens):
    response = http.patch(f"{URL}/ini-{'0' * 32}", json={"title": "Autre titre"}, headers=tokens.professional())
    assert response.status_code == 404


# --- closing -------------------------------------------------------------------------------------

def test_the_publisher_closes_its_initiative_once(http, tokens, store):
    initiative_id = published_id(http, tokens)
    response = http.post(f"{URL}/{initiative_id}/close", headers=tokens.professional())
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["close_reason"], body["version"]) == ("closed", "closed_by_publisher", 2)
    event, _ = store.published[-1]
    assert event.type == "fr.vitawin.initiative.closed.v1" and event.data["reason"] == "closed_by_publisher"
    validate_event(event)
    again = http.post(f"{URL}/{initiative_id}/close", headers=tokens.professional())
    assert again.status_code == 409
    assert again.get_json()["message"] == "Cette initiative est déjà clôturée."
    edit = http.patch(f"{URL}/{initiative_id}", json={"title": "Rouverte ?"}, headers=tokens.professional())
    assert edit.status_code == 409
    assert edit.get_json()["message"] == "Cette initiative est clôturée : elle ne peut plus être modifiée."


def test_a_territory_manager_closes_any_initiative(http, tokens):
    initiative_id = published_id(http, tokens, call_body())
    body = http.post(f"{URL}/{initiative_id}/close", headers=tokens.manager(None)).get_json()
    assert (body["status"], body["close_reason"]) == ("closed", "closed_by_territory_manager")


@pytest.mark.parametrize("who, status", [("anonymous", 401), ("pupil", 403), ("partner", 403), ("other", 403)])
def test_nobody_else_closes_an_initiative(http, tokens, store, who, status):
    initiative_id = published_id(http, tokens)
    headers = {"anonymous": {}, "pupil": tokens.pupil(), "partner": tokens.partner(),
               "other": tokens.referent()}[who]
    response = http.post(f"{URL}/{initiative_id}/close", headers=headers)
    assert response.status_code == status
    assert store.initiatives.get(initiative_id)["status"] == "open"


# --- joining, applying, leaving ------------------------------------------------------------------

def test_joining_shows_the_contact_to_the_new_participant_and_publishes_ids_only(http, tokens, store):
    initiative_id = published_id(http, tokens)
    response = http.post(f"{URL}/{initiative_id}/participants", json={"message": "Avec plaisir, écrivez à moi@ecole.fr"},
                         headers=tokens.referent())
    assert response.status_code == 201
    body = response.get_json()
    assert body["contact_email"] == "contact@boulangerie-vignerons.example.fr"
    assert body["participants"][0]["message"] == "Avec plaisir, écrivez à moi@ecole.fr"
    assert body["version"] == 2 and body["participant_count"] == 1
    event, channel = store.published[-1]
    assert (event.type, channel) == ("fr.vitawin.initiative.joined.v1", "initiatives")
    assert set(event.data) == {"initiative_id", "actor_id", "role", "joined_at", "version"}
    assert (event.data["actor_id"], event.data["role"], event.data["version"]) == (SCHOOL, "school_referent", 2)
    assert "@" not in text(event.data) and "plaisir" not in text(event.data)
    validate_event(event)


def test_each_viewer_reads_whether_its_actor_takes_part_in_the_initiative_and_in_the_list(http, tokens):
    initiative_id = published_id(http, tokens)
    joined = http.post(f"{URL}/{initiative_id}/participants", json={}, headers=tokens.referent())
    assert joined.get_json()["participating"] is True
    for headers, expected in [(tokens.referent(), True), (tokens.partner(), False), (tokens.professional(), False),
                              ({}, False)]:
        assert http.get(f"{URL}/{initiative_id}", headers=headers).get_json()["participating"] is expected
        [item] = http.get(URL, headers=headers).get_json()["items"]
        assert item["participating"] is expected and "participants" not in item

    assert http.delete(f"{URL}/{initiative_id}/participants/{SCHOOL}", headers=tokens.referent()).status_code == 204
    assert http.get(URL, headers=tokens.referent()).get_json()["items"][0]["participating"] is False


def test_a_partner_may_join_without_a_message(http, tokens):
    initiative_id = published_id(http, tokens)
    response = http.post(f"{URL}/{initiative_id}/participants", json={}, headers=tokens.partner())
    assert response.status_code == 201
    assert response.get_json()["participants"] == [
        {"actor_id": PARTNER, "role": "partner", "joined_at": response.get_json()["participants"][0]["joined_at"]}]


def test_an_actor_joins_once_even_from_another_account(http, tokens, store):
    initiative_id = published_id(http, tokens)
    assert http.post(f"{URL}/{initiative_id}/participants", json={}, headers=tokens.referent()).status_code == 201
    other_account = tokens.header("school_referent", SCHOOL, subject="acc-colleague")
    response = http.post(f"{URL}/{initiative_id}/participants", json={}, headers=other_account)
    assert response.status_code == 409
    assert response.get_json()["message"] == "Cet acteur participe déjà à cette initiative."
    assert len(store.initiatives.get(initiative_id)["participants"]) == 1


def test_nobody_joins_its_own_initiative(http, tokens):
    initiative_id = published_id(http, tokens)
    response = http.post(f"{URL}/{initiative_id}/participants", json={},
                         headers=tokens.header("professional", ORG, subject="acc-colleague"))
    assert response.status_code == 409
    assert response.get_json()["message"] == "Vous avez publié cette initiative : vous ne pouvez pas la rejoindre."


@pytest.mark.parametrize("who, status, reason", [
    ("anonymous", 401, "Connexion requise."),
    ("pupil", 403, "Action réservée aux rôles : professionnel, référent d'établissement, gestionnaire de territoire, "
                   "partenaire."),
    ("no actor", 403, "n'agit pour aucun acteur"),
])
def test_pupils_anonymous_callers_and_accounts_without_actor_cannot_join(http, tokens, store, who, status, reason):
    initiative_id = published_id(http, tokens)
    headers = {"anonymous": {}, "pupil": tokens.pupil(), "no actor": tokens.header("partner", None)}[who]
    response = http.post(f"{URL}/{initiative_id}/participants", json={"message": "Bonjour"}, headers=headers)
    assert response.status_code == status
    assert reason in response.get_json()["message"]
    assert store.initiatives.get(initiative_id)["participants"] == []


def test_a_message_longer_than_500_characters_is_refused(http, tokens, store):
    initiative_id = published_id(http, tokens)
    errors = errors_of(http.post(f"{URL}/{initiative_id}/participants", json={"message": "m" * 501},
                                 headers=tokens.referent()))
    assert errors["message"] == ["Le message doit compter au plus 500 caractères."]
    assert store.initiatives.get(initiative_id)["participants"] == []


def test_joining_an_unknown_initiative_is_not_found(http, tokens):
    response = http.post(f"{URL}/ini-{'0' * 32}/participants", json={}, headers=tokens.referent())
    assert response.status_code == 404


def test_a_closed_initiative_accepts_nobody(http, tokens):
    initiative_id = published_id(http, tokens)
    http.post(f"{URL}/{initiative_id}/close", headers=tokens.professional())
    response = http.post(f"{URL}/{initiative_id}/participants", json={}, headers=tokens.referent())
    assert response.status_code == 409
    assert response.get_json()["message"] == "Cette initiative est clôturée : elle n'accepte plus de participants."


def make_client(store, places, keys, today: date):
    return make_app(store, places, keys[1], today=lambda: today).test_client()


def test_one_applies_to_a_call_for_projects_until_its_deadline_included(store, places, keys, tokens):
    http = make_client(store, places, keys, TODAY)
    initiative_id = published_id(http, tokens, call_body(deadline="2026-12-15"))
    on_the_day = make_client(store, places, keys, date(2026, 12, 15))
    assert on_the_day.post(f"{URL}/{initiative_id}/participants", json={}, headers=tokens.referent()).status_code == 201
    too_late = make_client(store, places, keys, date(2026, 12, 16))
    response = too_late.post(f"{URL}/{initiative_id}/participants", json={}, headers=tokens.partner())
    assert response.status_code == 409
    assert response.get_json()["message"] == "La date limite de candidature (15/12/2026) est passée."


def test_an_ended_initiative_accepts_nobody_and_nobody_leaves_it(store, places, keys, tokens):
    http = make_client(store, places, keys, TODAY)
    initiative_id = published_id(http, tokens)  # ends on 2027-01-15
    assert http.post(f"{URL}/{initiative_id}/participants", json={}, headers=tokens.referent()).status_code == 201
    later = make_client(store, places, keys, date(2027, 1, 16))
    response = later.post(f"{URL}/{initiative_id}/participants", json={}, headers=tokens.partner())
    assert response.status_code == 409
    assert response.get_json()["message"] == "Cette initiative s'est terminée le 15/01/2027."
    leave = later.delete(f"{URL}/{initiative_id}/participants/{SCHOOL}", headers=tokens.referent())
    assert leave.status_code == 409
    assert "la participation ne peut plus être retirée" in leave.get_json()["message"]


def test_a_participant_leaves_and_may_join_again(http, tokens, store):
    initiative_id = published_id(http, tokens)
    http.post(f"{URL}/{initiative_id}/participants", json={"message": "Présents"}, headers=tokens.referent())
    response = http.delete(f"{URL}/{initiative_id}/participants/{SCHOOL}", headers=tokens.referent())
    assert response.status_code == 204
    assert store.initiatives.get(initiative_id)["participants"] == []
    event, _ = store.published[-1]
    assert event.type == "fr.vitawin.initiative.left.v1"
    assert (event.data["actor_id"], event.data["removed_by_territory_manager"], event.data["version"]) == (
        SCHOOL, False, 3)
    validate_event(event)
    assert http.post(f"{URL}/{initiative_id}/participants", json={}, headers=tokens.referent()).status_code == 201


def test_a_territory_manager_removes_a_participant(http, tokens, store):
    initiative_id = published_id(http, tokens)
    http.post(f"{URL}/{initiative_id}/participants", json={}, headers=tokens.partner())
    response = http.delete(f"{URL}/{initiative_id}/participants/{PARTNER}", headers=tokens.manager())
    assert response.status_code == 204
    assert store.published[-1][0].data["removed_by_territory_manager"] is True


@pytest.mark.parametrize("who, status", [("anonymous", 401), ("pupil", 403), ("publisher", 403), ("other", 403)])
def test_only_the_participant_or_a_territory_manager_removes_a_participation(http, tokens, store, who, status):
    initiative_id = published_id(http, tokens)
    http.post(f"{URL}/{initiative_id}/participants", json={}, headers=tokens.referent())
    headers = {"anonymous": {}, "pupil": tokens.pupil(), "publisher": tokens.professional(),
               "other": tokens.partner()}[who]
    response = http.delete(f"{URL}/{initiative_id}/participants/{SCHOOL}", headers=headers)
    assert response.status_code == status
    if status == 403 and who != "pupil":
        assert response.get_json()["message"] == ("Seul l'acteur concerné ou un gestionnaire de territoire peut "
                                                  "retirer cette participation.")
    assert len(store.initiatives.get(initiative_id)["participants"]) == 1


def test_leaving_without_taking_part_is_not_found(http, tokens):
    initiative_id = published_id(http, tokens)
    response = http.delete(f"{URL}/{initiative_id}/participants/{PARTNER}", headers=tokens.partner())
    assert response.status_code == 404
    assert response.get_json()["message"] == ("Participation introuvable : cet acteur ne participe pas à cette "
                                              "initiative.")


def test_a_change_made_meanwhile_is_a_conflict_and_writes_nothing(http, tokens, store, monkeypatch):
    initiative_id = published_id(http, tokens)
    stale = store.initiatives.get(initiative_id)
    store.initiatives.docs[initiative_id]["version"] = 5  # another request came first
    monkeypatch.setattr(store.initiatives, "get", lambda _id: dict(stale))
    response = http.post(f"{URL}/{initiative_id}/participants", json={}, headers=tokens.referent())
    assert response.status_code == 409
    assert response.get_json()["message"] == "L'initiative a été modifiée entre-temps : relisez-la puis recommencez."
    assert len(store.published) == 1 and store.initiatives.docs[initiative_id]["participants"] == []


# --- the list ------------------------------------------------------------------------------------

@pytest.fixture
def listed(store, places):
    """Four initiatives published one minute apart (the newest last), one closed."""
    start = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
    specs = [
        ("fontenay", ORG, initiative_body()),
        ("vincennes-call", ORG, call_body()),
        ("bry", OTHER_ORG, initiative_body(town="94015", partner_kinds_sought=["company"], title="Forum de Bry")),
        ("vincennes", OTHER_ORG, initiative_body(town="94080", partner_kinds_sought=["association", "school"],
                                                 title="Mentorat à Vincennes")),
    ]
    ids = {}
    for minutes, (name, actor, body) in enumerate(specs):
        fields = dict(body)
        for name_ in ("start_date", "end_date", "deadline"):
            if name_ in fields:
                fields[name_] = date.fromisoformat(fields[name_])
        if "location" in fields:
            fields["location"] = Location(**fields["location"])
        initiative = handlers.publish_initiative(PublishInitiative(**fields), Party("professional", actor), store,
                                                 places, TODAY, now=start + timedelta(minutes=minutes))
        ids[name] = initiative.initiative_id
    handlers.close_initiative(ids["bry"], Party("professional", OTHER_ORG), store, now=start + timedelta(hours=1))
    return ids


def listed_ids(http, query=""):
    response = http.get(f"{URL}{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_list_is_newest_first_in_a_page_envelope_without_contacts(http, listed):
    body = listed_ids(http)
    assert [item["initiative_id"] for item in body["items"]] == [
        listed["vincennes"], listed["bry"], listed["vincennes-call"], listed["fontenay"]]
    assert (body["page"], body["page_size"], body["total"]) == (1, 20, 4)
    for item in body["items"]:
        assert "contact_email" not in item and "participants" not in item and "participant_count" in item
    assert "@" not in text(body)


@pytest.mark.parametrize("query, expected", [
    ("?kind=call_for_projects", ["vincennes-call"]),
    ("?kind=initiative", ["vincennes", "bry", "fontenay"]),
    ("?town=94080", ["vincennes", "vincennes-call"]),
    ("?partner_kind=school", ["vincennes", "vincennes-call", "fontenay"]),
    ("?partner_kind=company", ["bry"]),
    ("?status=closed", ["bry"]),
    ("?status=open&town=94080&kind=initiative", ["vincennes"]),
    ("?bbox=2.42,48.84,2.46,48.86", ["vincennes", "vincennes-call"]),  # around Vincennes
    ("?bbox=2.0,48.0,2.1,48.1", []),
])
def test_the_list_filters(http, listed, query, expected):
    body = listed_ids(http, query)
    assert [item["initiative_id"] for item in body["items"]] == [listed[name] for name in expected]
    assert body["total"] == len(expected)


def test_the_list_pages(http, listed):
    first = listed_ids(http, "?page_size=3")
    second = listed_ids(http, "?page_size=3&page=2")
    assert [len(first["items"]), len(second["items"]), first["total"], second["total"]] == [3, 1, 4, 4]
    assert second["items"][0]["initiative_id"] == listed["fontenay"]
    assert listed_ids(http, "?page=3&page_size=3")["items"] == []


@pytest.mark.parametrize("query, field, reason", [
    ("?kind=festival", "kind", "Type inconnu ; valeurs possibles"),
    ("?town=75056", "town", "Commune inconnue"),
    ("?partner_kind=pupil", "partner_kind", "Type de partenaire inconnu"),
    ("?status=hidden", "status", "Statut inconnu ; valeurs possibles : open (ouverte), closed (clôturée)."),
    ("?bbox=2.4,48.8", "bbox", "Emprise invalide : format attendu bbox=min_lon,min_lat,max_lon,max_lat"),
    ("?bbox=a,b,c,d", "bbox", "Emprise invalide : format attendu"),
    ("?bbox=2.5,48.8,2.4,48.9", "bbox", "le minimum doit précéder le maximum"),
    ("?bbox=2.4,48.8,200,48.9", "bbox", "longitudes entre -180 et 180"),
    ("?page=0", "page", "La page doit être un nombre entier à partir de 1."),
    ("?page=deux", "page", "Nombre entier attendu."),
    ("?page_size=101", "page_size", "Entre 1 et 100 initiatives par page."),
])
def test_bad_list_filters_are_refused_in_french(http, query, field, reason):
    response = http.get(f"{URL}{query}")
    assert response.status_code == 422
    errors = response.get_json()["errors"]["query"]
    assert reason in text(errors[field])


# --- the map -------------------------------------------------------------------------------------

def test_the_map_shows_open_initiatives_as_geojson(http, listed, store):
    response = http.get(f"{URL}/map.geojson")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "FeatureCollection"
    by_id = {feature["id"]: feature for feature in body["features"]}
    assert set(by_id) == {listed["vincennes"], listed["vincennes-call"], listed["fontenay"]}  # not the closed one
    call = by_id[listed["vincennes-call"]]
    assert call["geometry"] == {"type": "Point", "coordinates": [2.4385, 48.8478]}
    assert call["properties"] == {"initiative_id": listed["vincennes-call"], "kind": "call_for_projects",
                                  "title": "Appel à projets : découverte des métiers du numérique",
                                  "town": "94080", "deadline": "2026-12-15"}
    assert by_id[listed["fontenay"]]["properties"]["deadline"] is None
    assert "@" not in text(body)


def test_the_map_filters_by_bounding_box_and_kind(http, listed):
    body = http.get(f"{URL}/map.geojson?bbox=2.42,48.84,2.46,48.86&kind=initiative").get_json()
    assert [feature["id"] for feature in body["features"]] == [listed["vincennes"]]
    bad = http.get(f"{URL}/map.geojson?bbox=nowhere")
    assert bad.status_code == 422 and "Emprise invalide" in text(bad.get_json()["errors"])


# --- OpenAPI -------------------------------------------------------------------------------------

def test_the_openapi_document_describes_the_routes_in_french(http):
    spec = http.get("/openapi.json").get_json()
    paths = spec["paths"]
    assert {"/api/v1/initiatives", "/api/v1/initiatives/map.geojson", "/api/v1/initiatives/{initiative_id}",
            "/api/v1/initiatives/{initiative_id}/close", "/api/v1/initiatives/{initiative_id}/participants",
            "/api/v1/initiatives/{initiative_id}/participants/{actor_id}"} <= set(paths)
    assert paths["/api/v1/initiatives"]["post"]["summary"] == "Publier une initiative ou un appel à projets"
    assert "401" in paths["/api/v1/initiatives"]["post"]["responses"]
    assert "application/geo+json" in paths["/api/v1/initiatives/map.geojson"]["get"]["responses"]["200"]["content"]
    assert {"Initiative", "InitiativePatch", "InitiativeJoin"} <= set(spec["components"]["schemas"])
