"""POST /api/v1/requests and GET /api/v1/requests/<id>: each kind of request, who may post it, its
validation errors as a person sees them (French, naming the field) and the school calendar rules
checked against the real holiday data (zone C; today is Friday 27 November 2026)."""
import json
import logging

import pytest

CREATED = "fr.vitawin.request.created.v2"
DELETE = object()
KINDS = ("class_testimony", "class_intervention", "job_fair", "internship_hosting", "job_information",
         "discovery_internship", "apprenticeship_search")
ACTION = {"class_testimony": "testimony", "class_intervention": "intervention", "job_fair": "job_fair",
          "internship_hosting": "internship", "job_information": "testimony", "discovery_internship": "internship",
          "apprenticeship_search": "apprenticeship"}


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_stored_open_with_its_created_v2_event(kind, post, uow, contract_set, the):
    response = post(kind)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    request_id = body["request_id"]
    assert response.headers["Location"] == f"/api/v1/requests/{request_id}"
    assert (body["kind"], body["action_type"], body["status"], body["version"]) == (kind, ACTION[kind], "open", 1)
    assert body["requester_kind"] == ("pupil" if kind in the.KINDS[4:] else "school")
    assert list(uow.requests.docs) == [request_id] and uow.committed
    [(event, channel)] = [(e, c) for e, c in uow.published if c == "requests"]  # requesters: test_requester_event
    assert (event.type, event.source, event.subject, channel) == (CREATED, "/vitawin/requests", request_id, "requests")
    contract_set.validate(CREATED, event.data)
    assert event.data["version"] == 1 and event.data["status"] == "open"


def test_a_school_request_takes_the_school_s_place_and_shows_the_referent_its_contact(created, the):
    body = created("class_testimony")
    school = the.SCHOOLS[the.COLLEGE]
    assert (body["school_uai"], body["town"], body["location"]) == (the.COLLEGE, "94080", school["location"])
    assert body["contact_email"] == the.REFERENT_EMAIL
    assert body["rome_jobs"] == [{"code": "D1102", "label": "Boulanger / Boulangère"}]
    assert (body["level"], body["levels"], body["audience"], body["max_distance_km"]) == ("3e", ["3e"], "college", 10)
    assert body["expires_at"] == "2027-01-13T23:00:00+00:00"  # the end of 13/01/2027, Paris time


def test_internship_hosting_wants_one_accepted_host_per_place(created):
    body = created("internship_hosting", pupils=4)
    assert (body["pupils"], body["professionals_wanted"]) == (4, 4)


def test_a_pupil_apprenticeship_is_placed_at_the_lycee(created, the):
    body = created("apprenticeship_search")
    assert (body["school_uai"], body["town"], body["audience"]) == (the.LYCEE, "94017", "lycee")
    assert (body["diploma"], body["start"]) == ("CAP", "2027-09")


@pytest.fixture
def send(client, auth, payload, the):
    """send(kind, changes, who) → POST with the kind's payload changed (DELETE removes a field), by
    `who` (a key of CALLERS, None for anonymous; the kind's usual poster by default)."""
    def post(kind, changes, who="default"):
        body = payload(kind)
        for name, value in changes.items():
            if value is DELETE:
                body.pop(name, None)
            else:
                body[name] = value
        return client.post("/api/v1/requests", json=body, headers=auth(the.POSTER[kind] if who == "default" else who))
    return post


@pytest.mark.parametrize("changes, town, location", [
    ({"around": "town", "town": "94033"}, "94033", {"lat": 48.85102, "lon": 2.47421}),  # Fontenay's centre
    ({"around": "school", "town": DELETE}, "94080", {"lat": 48.8468, "lon": 2.4372}),  # the school, Vincennes
    ({"around": DELETE, "town": DELETE}, "94080", {"lat": 48.8468, "lon": 2.4372}),  # around the school by default
])
def test_a_discovery_internship_is_placed_at_the_town_centre_or_the_school_never_a_home(send, changes, town,
                                                                                        location):
    response = send("discovery_internship", changes)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["around"], body["town"], body["location"]) == (changes["around"] if changes["around"] is not DELETE
                                                                else "school", town, location)


BAD = [
    # kind, changes, field, French message (or its start)
    ("class_testimony", {"date": DELETE}, "date", "Champ obligatoire."),
    ("class_testimony", {"date": "13/01/2027"}, "date", "Date invalide : format attendu AAAA-MM-JJ (ex. 2027-01-13)."),
    ("class_testimony", {"level": "CM2"}, "level", "Niveau inconnu ; valeurs possibles : 6e, 5e, 4e, 3e, 2nde"),
    ("class_testimony", {"level": "2nde"}, "level",
     "Niveau non enseigné dans l'établissement : 2nde (niveaux enseignés : 6e, 5e, 4e, 3e)."),
    ("class_testimony", {"class_size": 45}, "class_size", "Nombre entier entre 1 et 40 attendu."),
    ("class_testimony", {"professionals_wanted": 6}, "professionals_wanted", "Nombre entier entre 1 et 5 attendu."),
    ("class_testimony", {"professionals_wanted": "2"}, "professionals_wanted", "Nombre entier attendu."),
    ("class_testimony", {"end_time": DELETE}, "end_time", "Indiquez aussi l'heure de fin du créneau."),
    ("class_testimony", {"start_time": DELETE}, "start_time", "Indiquez aussi l'heure de début du créneau."),
    ("class_testimony", {"end_time": "09:30"}, "end_time", "L'heure de fin doit suivre l'heure de début (10:00)."),
    ("class_testimony", {"start_time": "10h"}, "start_time", "Heure invalide : format attendu HH:MM (ex. 09:30)."),
    ("class_testimony", {"contact_email": DELETE}, "contact_email", "Champ obligatoire."),
    ("class_testimony", {"contact_email": "referent.example.fr"}, "contact_email", "Adresse e-mail invalide."),
    ("class_testimony", {"rome_codes": ["Z9999"]}, "rome_codes",
     {"0": ["Code ROME invalide : une lettre de A à N suivie de 4 chiffres attendue (ex. D1102)."]}),
    ("class_testimony", {"rome_codes": ["A9999"]}, "rome_codes",
     {"0": ["Code ROME inconnu du référentiel ROME : A9999."]}),
    ("class_testimony", {"rome_codes": ["D1102", "d1102"]}, "rome_codes",
     "Chaque code ROME ne doit figurer qu'une fois."),
    ("class_testimony", {"max_distance_km": 0}, "max_distance_km", "Distance entre 1 et 100 km attendue."),
    ("class_testimony", {"town": "94080"}, "town", "Champ inconnu."),
    ("class_testimony", {"status": "fulfilled"}, "status", "Champ inconnu."),
    ("class_intervention", {"topic": DELETE}, "topic", "Champ obligatoire."),
    ("class_intervention", {"topic": "   "}, "topic", "Entre 1 et 120 caractères attendus."),
    ("class_intervention", {"topic": "x" * 121}, "topic", "Entre 1 et 120 caractères attendus."),
    ("job_fair", {"start_time": DELETE}, "start_time", "Champ obligatoire."),
    ("job_fair", {"levels": []}, "levels", "Indiquez au moins un niveau."),
    ("job_fair", {"levels": ["3e", "3e"]}, "levels", "Chaque niveau ne doit figurer qu'une fois."),
    ("job_fair", {"levels": ["3e", "Tle"]}, "levels", "Niveau non enseigné dans l'établissement : Tle"),
    ("job_fair", {"professionals_wanted": DELETE}, "professionals_wanted", "Champ obligatoire."),
    ("job_fair", {"professionals_wanted": 51}, "professionals_wanted", "Nombre entier entre 1 et 50 attendu."),
    ("job_fair", {"date": "2026-11-27"}, "date",
     "La date du forum doit être dans le futur (après le 27/11/2026) : le 27/11/2026 ne convient pas."),
    ("internship_hosting", {"period": []}, "period", "Indiquez au moins une semaine."),
    ("internship_hosting", {"period": ["2027-W04"]}, "period", {"0": [
        "La semaine 2027-W04 n'est pas une semaine de stage prévue par l'établissement pour ce niveau (semaines "
        "prévues : 2027-W03, 2027-W05)."]}),
    ("internship_hosting", {"level": "4e"}, "period", {"0": [
        "La semaine 2027-W03 n'est pas une semaine de stage prévue par l'établissement pour ce niveau (semaines "
        "prévues : aucune)."]}),
    ("internship_hosting", {"pupils": 0}, "pupils", "Nombre entier entre 1 et 200 attendu."),
    ("internship_hosting", {"professionals_wanted": 2}, "professionals_wanted", "Champ inconnu."),
    ("job_information", {"rome_codes": [], "keywords": DELETE}, "rome_codes",
     "Indiquez au moins un code ROME, ou des mots-clés (keywords)."),
    ("job_information", {"keywords": "écrivez-moi : lea.martin@example.fr"}, "keywords",
     "Pas d'adresse e-mail ni de numéro de téléphone dans les mots-clés."),
    ("job_information", {"keywords": "boulangerie, appelle-moi au 06 12 34 56 78"}, "keywords",
     "Pas d'adresse e-mail ni de numéro de téléphone dans les mots-clés."),
    ("job_information", {"keywords": "x" * 201}, "keywords", "Entre 1 et 200 caractères attendus."),
    ("job_information", {"max_distance_km": 31}, "max_distance_km", "Distance entre 1 et 30 km attendue."),
    ("job_information", {"level": "2nde"}, "level", "Niveau non enseigné dans l'établissement : 2nde"),
    ("job_information", {"contact_email": "lea@example.fr"}, "contact_email",
     "Champ refusé : une demande d'élève ne porte ni nom, ni adresse e-mail, ni adresse, ni position"),
    ("job_information", {"location": {"lat": 48.85, "lon": 2.43}}, "location", "Champ refusé : une demande d'élève"),
    ("job_information", {"last_name": "Martin"}, "last_name", "Champ refusé : une demande d'élève"),
    ("discovery_internship", {"around": "home"}, "around",
     "Valeur inconnue ; valeurs possibles : school (autour de l'établissement), town"),
    ("discovery_internship", {"town": DELETE}, "town",
     "Indiquez la commune (code INSEE) de l'élève quand around vaut « town »."),
    ("discovery_internship", {"around": "school"}, "town",
     "Pas de commune quand around vaut « school » : la position est celle de l'établissement."),
    ("discovery_internship", {"town": "94028"}, "town",  # Créteil: not a town of the territory
     "Commune inconnue : ce n'est pas le code INSEE d'une commune du territoire Paris Est Marne et Bois."),
    ("discovery_internship", {"period": ["2027-W07"]}, "period", {"0": [
        "La semaine 2027-W07 (du 15/02/2027 au 19/02/2027) tombe en partie ou en totalité pendant les vacances "
        "scolaires de la zone C (Vacances d'hiver)."]}),
    ("discovery_internship", {"period": ["2027-W5"]}, "period",
     {"0": ["« 2027-W5 » n'est pas une semaine au format AAAA-Sss, par exemple 2027-W05."]}),
    ("discovery_internship", {"period": ["2027-W05", "2027-W05"]}, "period",
     {"1": ["La semaine 2027-W05 figure déjà dans la période de stage."]}),
    ("discovery_internship", {"period": ["2026-W48"]}, "period", {"0": [
        "La semaine 2026-W48 (du 23/11/2026 au 27/11/2026) est déjà commencée ou passée : choisissez une semaine "
        "après le 27/11/2026."]}),
    ("discovery_internship", {"max_distance_km": 0.5}, "max_distance_km", "Distance entre 1 et 30 km attendue."),
    ("apprenticeship_search", {"level": "3e"}, "level",
     "L'alternance est ouverte aux élèves de lycée : niveaux possibles 2nde, 1re, Tle, CAP1, CAP2."),
    ("apprenticeship_search", {"diploma": "Bac"}, "diploma", "Diplôme inconnu ; valeurs possibles : CAP, BP, MC"),
    ("apprenticeship_search", {"rome_codes": []}, "rome_codes", "Indiquez au moins un code ROME."),
    ("apprenticeship_search", {"rome_codes": DELETE}, "rome_codes", "Champ obligatoire."),
    ("apprenticeship_search", {"start": "2026-10"}, "start",
     "Le mois de début doit être à venir : 2026-11 ou après."),
    ("apprenticeship_search", {"start": "2027-13"}, "start", "Mois invalide : format attendu AAAA-MM (ex. 2027-09)."),
]


@pytest.mark.parametrize("kind, changes, field, french", BAD,
                         ids=[f"{kind}-{field}-{i}" for i, (kind, _, field, _) in enumerate(BAD)])
def test_bad_input_gives_422_naming_the_field_in_french_and_stores_nothing(send, uow, kind, changes, field, french):
    response = send(kind, changes)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["message"] == "Les données envoyées sont invalides."
    messages = body["errors"]["json"][field]
    if isinstance(french, dict):
        assert messages == french
    else:
        assert any(message.startswith(french) for message in messages), messages
    assert uow.requests.docs == {} and uow.published == []


def test_a_pupil_of_a_college_cannot_ask_for_an_apprenticeship(send):
    response = send("apprenticeship_search", {"level": "3e"}, who="pupil")
    assert response.status_code == 422
    [message, *_] = response.get_json()["errors"]["json"]["level"]
    assert message.startswith("L'alternance est ouverte aux élèves de lycée")


def test_the_month_an_apprenticeship_starts_may_be_this_month(send):
    assert send("apprenticeship_search", {"start": "2026-11"}).status_code == 201


# --- the school calendar, with the real data (zone C) ----------------------------------------------------

@pytest.mark.parametrize("day, french", [
    ("2026-11-28", "Le samedi 28/11/2026 n'est pas un jour de classe."),
    ("2026-12-25", "Le vendredi 25/12/2026 est un jour férié (Noël)."),
    ("2027-05-06", "Le jeudi 06/05/2027 est un jour férié (Ascension)."),
    ("2027-02-17", "Le mercredi 17/02/2027 tombe pendant les vacances scolaires de la zone C (Vacances d'hiver)."),
    ("2026-11-20", "La date du témoignage doit être dans le futur (après le 27/11/2026) : le 20/11/2026 ne convient "
                   "pas."),
    ("2028-10-11", "Le calendrier scolaire de l'année 2028-2029 n'est pas encore publié : impossible de vérifier le "
                   "11/10/2028."),
])
def test_a_testimony_date_follows_the_school_calendar(send, day, french):
    response = send("class_testimony", {"date": day})
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["date"] == [french]


@pytest.mark.parametrize("day", ["2026-11-30", "2027-02-24", "2027-06-09"])
def test_a_school_day_after_today_is_accepted(send, day):
    assert send("class_testimony", {"date": day}).status_code == 201


def test_the_intervention_date_is_named_in_its_message(send):
    response = send("class_intervention", {"date": "2026-11-27"})
    assert response.get_json()["errors"]["json"]["date"][0].startswith("La date de l'intervention doit être dans le "
                                                                        "futur")


def test_a_lycee_internship_spans_the_school_s_two_weeks_of_june(send):
    response = send("internship_hosting", {"level": "2nde", "period": ["2027-W25", "2027-W24"]}, who="lycee_referent")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["period"] == ["2027-W24", "2027-W25"]
    assert response.get_json()["expires_at"] == "2027-06-13T22:00:00+00:00"  # Monday 14/06/2027, Paris time


# --- who may post ---------------------------------------------------------------------------------------

def test_anonymous_post_is_401_in_french(send, uow):
    response = send("class_testimony", {}, who=None)
    assert response.status_code == 401
    assert response.get_json()["message"] == "Connexion requise."
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert uow.requests.docs == {}


@pytest.mark.parametrize("kind, who, message", [
    ("class_testimony", "pupil",
     "Seul le référent d'un établissement scolaire peut déposer une demande de ce type (class_testimony)."),
    ("internship_hosting", "manager", "Action réservée aux rôles : élève, référent d'établissement."),
    ("job_information", "referent", "Seul un élève peut déposer une demande de ce type (job_information)."),
    ("discovery_internship", "professional", "Action réservée aux rôles : élève, référent d'établissement."),
    ("job_fair", "partner", "Action réservée aux rôles : élève, référent d'établissement."),
])
def test_a_kind_posted_by_the_wrong_role_is_403_in_french(send, uow, kind, who, message):
    response = send(kind, {}, who=who)
    assert response.status_code == 403
    assert response.get_json()["message"] == message
    assert uow.requests.docs == {} and uow.published == []


def test_a_pupil_token_without_the_pupil_s_id_is_403(client, bearer, payload, the):
    response = client.post("/api/v1/requests", json=payload("job_information"),
                           headers=bearer("pupil", school_uai=the.COLLEGE))
    assert response.status_code == 403
    assert response.get_json()["message"].startswith("Jeton d'accès incomplet")


def test_a_school_unknown_to_the_territory_is_422_naming_it(client, bearer, payload, uow):
    response = client.post("/api/v1/requests", json=payload("class_testimony"),
                           headers=bearer("school_referent", actor_id="act-x", school_uai="0941234F"))
    assert response.status_code == 422
    [message] = response.get_json()["errors"]["json"]["school_uai"]
    assert message.startswith("Établissement inconnu : 0941234F n'est pas un établissement scolaire inscrit")
    assert uow.requests.docs == {}


@pytest.mark.parametrize("body, field, message", [
    ({"date": "2027-01-13"}, "kind", "Champ obligatoire."),
    ({"kind": "cooking"}, "kind", "Type de demande inconnu ; valeurs possibles : class_testimony, class_intervention"),
    ([{"kind": "class_testimony"}], "_schema", "Corps JSON invalide : un objet JSON est attendu."),
])
def test_a_body_without_a_known_kind_is_422(client, auth, body, field, message):
    response = client.post("/api/v1/requests", json=body, headers=auth("referent"))
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"][field][0].startswith(message)


def test_a_forged_token_is_401(client, payload):
    response = client.post("/api/v1/requests", json=payload("job_information"),
                           headers={"Authorization": "Bearer not.a.token"})
    assert response.status_code == 401
    assert response.get_json()["message"] == "Jeton d'accès invalide."


def test_contact_email_is_never_logged(post, caplog, the):
    caplog.set_level(logging.DEBUG)
    request_id = post("class_testimony").get_json()["request_id"]
    logged = [json.dumps(record.__dict__, default=str, ensure_ascii=False) for record in caplog.records]
    assert any(request_id in line for line in logged)
    assert not any(the.REFERENT_EMAIL in line for line in logged)


# --- reading one -------------------------------------------------------------------------------------------

def test_get_returns_the_stored_request(client, auth, created):
    body = created("job_fair")
    response = client.get(f"/api/v1/requests/{body['request_id']}", headers=auth("referent"))
    assert response.status_code == 200
    assert response.get_json() == body


def test_get_unknown_request_gives_404_in_french(client):
    response = client.get("/api/v1/requests/req-inconnue")
    assert response.status_code == 404
    assert response.get_json()["message"] == "Demande introuvable."


def test_openapi_documents_each_kind_and_says_a_pupil_is_never_placed_at_home(client):
    spec = client.get("/openapi.json").get_json()
    assert {"/api/v1/requests", "/api/v1/requests/{request_id}", "/api/v1/requests/{request_id}/cancel",
            "/api/v1/requests/map.geojson"} <= set(spec["paths"])
    assert "jamais celle du domicile" in spec["info"]["description"]
    request_input = spec["components"]["schemas"]["RequestInput"]
    assert set(request_input["discriminator"]["mapping"]) == set(KINDS)
    assert spec["paths"]["/api/v1/requests"]["post"]["summary"] == "Déposer une demande"
    assert spec["paths"]["/api/v1/requests"]["post"]["requestBody"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/RequestInput"}
    testimony = spec["components"]["schemas"]["ClassTestimonyInput"]
    assert {"kind", "date", "level", "contact_email"} <= set(testimony["required"])


def test_the_old_generic_shape_is_refused(client, auth, uow):
    old = {"requester_kind": "school", "contact_email": "referent@college.example.fr", "action_type": "testimony",
           "town": "94033", "location": {"lat": 48.8517, "lon": 2.4769}, "max_distance_km": 15}
    response = client.post("/api/v1/requests", json=old, headers=auth("referent"))
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"] == {"kind": ["Champ obligatoire."]}
    mixed = client.post("/api/v1/requests", json={**old, "kind": "class_testimony", "date": "2027-01-13",
                                                  "level": "3e"}, headers=auth("referent"))
    assert mixed.status_code == 422
    assert {field: mixed.get_json()["errors"]["json"][field] for field in ("requester_kind", "action_type")} == \
           {"requester_kind": ["Champ inconnu."], "action_type": ["Champ inconnu."]}
    assert uow.requests.docs == {}
