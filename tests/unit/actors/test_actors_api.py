"""The directory of actors over HTTP (/api/v1/actors), against the in-memory unit of work: each
kind registers with one actor event that satisfies its contract and carries no personal data (its
contact event, on the internal `contacts` channel, is tested in test_contact_events.py); every
validation error a person can see is French and names its field; the list filters and pages; the
map is GeoJSON of organisations and schools only. Coordinates lie within 2 km of town centres."""
import copy
import itertools
import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from vitawin_actors import domain

ACTOR_REGISTERED = "fr.vitawin.actor.registered.v1"
URL = "/api/v1/actors"

VINCENNES = {"lat": 48.8478, "lon": 2.4385}  # 94080, a few hundred metres from the centre
FONTENAY = {"lat": 48.8515, "lon": 2.4760}  # 94033
VILLIERS = {"lat": 48.8270, "lon": 2.5440}  # 94079, east of the territory
BERCY = {"lat": 48.8336, "lon": 2.3865}  # Paris 12e (75112), outside the territory


def organisation(kind="company", **changes) -> dict:
    body = {"kind": kind, "name": "Boulangerie des Vignerons", "contact_email": "contact@vignerons.example.fr",
            "siret": "123 456 782 00010", "naf_code": "10.71C",
            "address": {"street": "12 rue de Fontenay", "postcode": "94300"}, "town": "94080",
            "location": dict(VINCENNES)}
    return {**body, **changes}


def school(**changes) -> dict:
    body = {"kind": "school", "name": "Lycée Hector-Berlioz", "contact_email": "referent@lycee.example.fr",
            "uai": "0940120V", "school_type": "lycee_general_technologique", "levels": ["2nde", "1re", "Tle"],
            "internship_periods": {"2nde": ["2027-W24", "2027-W25"]},
            "address": {"street": "106 avenue de Paris", "postcode": "94300"}, "town": "94080",
            "location": dict(VINCENNES)}
    return {**body, **changes}


def pupil(**changes) -> dict:
    body = {"kind": "pupil", "first_name": "Léa", "level": "3e", "school_uai": "0941030J", "town": "94033",
            "guardian_contact_email": "parent.lea@example.fr"}
    return {**body, **changes}


def territory_manager(**changes) -> dict:
    body = {"kind": "territory_manager", "name": "Camille Martin", "contact_email": "c.martin@pemb.example.fr",
            "organisation_name": "Établissement public territorial Paris Est Marne et Bois"}
    return {**body, **changes}


VALID = {
    "company": organisation("company"),
    "craftsman": organisation("craftsman", name="Plomberie Martin", naf_code="43.22A"),
    "local_authority": organisation("local_authority", name="Mairie de Fontenay-sous-Bois", naf_code="84.11Z",
                                    town="94033", location=dict(FONTENAY),
                                    address={"street": "4 esplanade Louis-Bayeurte", "postcode": "94120"}),
    "association": organisation("association", name="Les Amis du Bois", naf_code="94.99Z"),
    "public_institution": organisation("public_institution", name="Hôpital Bégin", naf_code="86.10Z"),
    "partner_organisation": organisation("partner_organisation", name="Réseau Entreprendre", naf_code="94.11Z"),
    "school": school(),
    "pupil": pupil(),
    "territory_manager": territory_manager(),
}
EVENT_FIELDS = {
    "organisation": {"actor_id", "kind", "name", "town", "location", "naf_code", "serves_territory_from_outside"},
    "school": {"actor_id", "kind", "name", "town", "location", "uai", "school_type", "levels", "internship_periods"},
    "pupil": {"actor_id", "kind", "level", "school_uai", "town"},
    "territory_manager": {"actor_id", "kind", "organisation_name"},
}


def _event_fields(kind: str) -> set:
    return EVENT_FIELDS.get(kind, EVENT_FIELDS["organisation"])


MANAGER_HEADERS: dict = {}  # the Authorization header of a territory manager of the test (autouse fixture)


@pytest.fixture(autouse=True)
def _manager_header(bearer):
    MANAGER_HEADERS.clear()
    MANAGER_HEADERS.update(bearer("territory_manager", actor_id="act-manager"))


def post(client, body, **kwargs):
    """POST the actor `body`; a territory manager's body goes with a territory manager's token
    (only they may register one: see the tests of that rule below)."""
    if isinstance(body, dict) and body.get("kind") == "territory_manager":
        kwargs["headers"] = {**MANAGER_HEADERS, **kwargs.get("headers", {})}
    return client.post(URL, json=body, **kwargs)


def created(client, body) -> dict:
    response = post(client, body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def on_actors(uow) -> list:
    """The (event, channel) pairs published on the `actors` channel (the contact events go apart)."""
    return [(event, channel) for event, channel in uow.published if channel == "actors"]


# --- registering -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(VALID))
def test_each_kind_registers_with_201_and_one_actor_event_satisfying_the_contract(client, uow, contract_set,
                                                                                  kind):
    body = copy.deepcopy(VALID[kind])
    response = post(client, body, headers={"X-Correlation-ID": "corr-7"})

    assert response.status_code == 201, response.get_json()
    record = response.get_json()
    actor_id = record["actor_id"]
    assert actor_id.startswith("act-") and len(actor_id) == 36
    assert record["kind"] == kind and record["created_at"].endswith("+00:00")
    assert response.headers["Location"] == f"{URL}/{actor_id}"
    assert list(uow.actors.docs) == [actor_id] and uow.committed

    [(event, channel)] = on_actors(uow)
    assert channel == "actors"
    assert {channel for _, channel in uow.published} <= {"actors", "contacts"}
    assert (event.type, event.source, event.subject) == (ACTOR_REGISTERED, "/vitawin/actors", actor_id)
    assert event.correlation_id == "corr-7"
    contract_set.validate(ACTOR_REGISTERED, event.data)
    assert set(event.data) == _event_fields(kind)
    assert event.data == {name: record[name] for name in event.data}


def test_an_organisation_record_keeps_its_contact_siret_and_address(client, uow):
    record = created(client, organisation())
    assert record == {
        "actor_id": record["actor_id"], "kind": "company", "name": "Boulangerie des Vignerons",
        "contact_email": "contact@vignerons.example.fr", "siret": "12345678200010", "naf_code": "10.71C",
        "address": {"street": "12 rue de Fontenay", "postcode": "94300"}, "town": "94080",
        "location": VINCENNES, "serves_territory_from_outside": False, "created_at": record["created_at"]}
    assert uow.actors.docs[record["actor_id"]]["siret"] == "12345678200010"  # spaces removed


def test_codes_are_stored_in_their_usual_form(client):
    assert created(client, organisation(naf_code="10.71c"))["naf_code"] == "10.71C"
    assert created(client, school(uai="0940120v"))["uai"] == "0940120V"


def test_a_school_keeps_its_levels_and_internship_periods(client):
    record = created(client, school())
    assert record["levels"] == ["2nde", "1re", "Tle"]
    assert record["internship_periods"] == {"2nde": ["2027-W24", "2027-W25"]}
    body = school()
    del body["internship_periods"]
    assert created(client, body)["internship_periods"] == {}


def test_a_pupil_is_a_minor_by_default(client):
    record = created(client, pupil())
    assert record["is_minor"] is True and record["guardian_contact_email"] == "parent.lea@example.fr"


def test_an_adult_pupil_needs_no_guardian(client):
    body = pupil(is_minor=False)
    del body["guardian_contact_email"]
    record = created(client, body)
    assert record["is_minor"] is False and "guardian_contact_email" not in record


def test_a_pupils_event_carries_no_first_name_and_no_guardian_email(client, uow):
    created(client, pupil())
    [(event, _)] = on_actors(uow)
    serialized = json.dumps(event.to_document(), default=str, ensure_ascii=False)
    assert "Léa" not in serialized
    assert "parent.lea@example.fr" not in serialized
    assert "first_name" not in serialized and "guardian" not in serialized and "is_minor" not in serialized


@pytest.mark.parametrize("kind", ["company", "school", "territory_manager"])
def test_no_contact_email_goes_in_the_event(client, uow, kind):
    body = VALID[kind]
    created(client, body)
    [(event, _)] = on_actors(uow)
    serialized = json.dumps(event.to_document(), default=str)
    assert body["contact_email"] not in serialized and "contact_email" not in serialized
    assert "siret" not in serialized and "address" not in serialized


def test_a_territory_managers_event_carries_no_name(client, uow):
    created(client, territory_manager())
    [(event, _)] = on_actors(uow)
    assert "Camille Martin" not in json.dumps(event.to_document(), default=str, ensure_ascii=False)


def test_an_organisation_outside_the_territory_is_accepted_with_the_flag(client, uow, contract_set):
    record = created(client, organisation(name="Traiteur de Bercy", town="75112", location=dict(BERCY),
                                          address={"street": "40 cour Saint-Émilion", "postcode": "75012"},
                                          serves_territory_from_outside=True))
    assert (record["town"], record["serves_territory_from_outside"]) == ("75112", True)
    [(event, _)] = on_actors(uow)
    contract_set.validate(ACTOR_REGISTERED, event.data)
    assert (event.data["town"], event.data["serves_territory_from_outside"]) == ("75112", True)


def test_an_organisation_of_the_territory_may_set_the_flag_and_its_location_is_still_checked(client):
    assert created(client, organisation(serves_territory_from_outside=True))["town"] == "94080"
    response = post(client, organisation(serves_territory_from_outside=True,
                                         location={"lat": VINCENNES["lat"] + 0.18, "lon": VINCENNES["lon"]}))
    assert response.status_code == 422
    assert "5 km au plus du centre de Vincennes" in response.get_json()["errors"]["json"]["location"][0]


def test_contacts_and_names_are_never_logged(client, caplog):
    caplog.set_level(logging.DEBUG)
    ids = [created(client, body)["actor_id"] for body in (organisation(), school(), pupil(), territory_manager())]
    logged = "\n".join(json.dumps(record.__dict__, default=str, ensure_ascii=False) for record in caplog.records)
    assert all(actor_id in logged for actor_id in ids)
    for personal in ("contact@vignerons.example.fr", "referent@lycee.example.fr", "parent.lea@example.fr", "Léa",
                     "Camille Martin", "c.martin@pemb.example.fr"):
        assert personal not in logged


# --- what a person sees when a field is wrong ----------------------------------------------------

def _without(field):
    def change(body):
        del body[field]
    return change


def _set(field, value):
    def change(body):
        body[field] = value
    return change


def _far_north(body):
    body["location"] = {"lat": body["location"]["lat"] + 0.18, "lon": body["location"]["lon"]}


BAD_BODIES = [
    # organisations
    ("siret bad check digit", organisation, _set("siret", "12345678200011"), "siret",
     "SIRET invalide : la clé de contrôle ne correspond pas"),
    ("siret too short", organisation, _set("siret", "1234567820001"), "siret", "SIRET invalide : il doit compter 14"),
    ("siret too long", organisation, _set("siret", "123456782000100"), "siret", "SIRET invalide : il doit compter 14"),
    ("siret letters", organisation, _set("siret", "1234567820001X"), "siret", "SIRET invalide : 14 chiffres attendus"),
    ("siret missing", organisation, _without("siret"), "siret", "Champ obligatoire."),
    ("naf without dot", organisation, _set("naf_code", "5610A"), "naf_code", "Code NAF invalide"),
    ("naf without letter", organisation, _set("naf_code", "56.10"), "naf_code", "Code NAF invalide"),
    ("naf missing", organisation, _without("naf_code"), "naf_code", "Champ obligatoire."),
    ("organisation name empty", organisation, _set("name", ""), "name", "La longueur doit être"),
    ("organisation email", organisation, _set("contact_email", "pas-une-adresse"), "contact_email",
     "Adresse e-mail invalide."),
    ("address missing", organisation, _without("address"), "address", "Champ obligatoire."),
    ("postcode malformed", organisation, _set("address", {"street": "1 rue", "postcode": "9430"}), "address",
     "Code postal invalide : 5 chiffres attendus."),
    ("street missing", organisation, _set("address", {"postcode": "94300"}), "address", "Champ obligatoire."),
    ("town outside without flag", organisation, _set("town", "75112"), "town",
     "Commune hors du territoire Paris Est Marne et Bois"),
    ("town not an INSEE code", organisation, _set("town", "Vincennes"), "town", "Code INSEE de commune invalide"),
    ("organisation far from its town", organisation, _far_north, "location", "5 km au plus du centre de Vincennes"),
    ("location missing lat", organisation, _set("location", {"lon": 2.4385}), "location", "Champ obligatoire."),
    ("flag not a boolean", organisation, _set("serves_territory_from_outside", "peut-être"),
     "serves_territory_from_outside", "Booléen attendu."),
    ("organisation with uai", organisation, _set("uai", "0940120V"), "uai", "Champ inconnu."),
    # schools
    ("uai bad letter", school, _set("uai", "0940120W"), "uai", "Code UAI invalide : la lettre ne correspond pas"),
    ("uai malformed", school, _set("uai", "940120V"), "uai", "Code UAI invalide : 7 chiffres suivis d'une lettre"),
    ("school type unknown", school, _set("school_type", "universite"), "school_type",
     "Type d'établissement inconnu"),
    ("level unknown", school, _set("levels", ["2nde", "CM2"]), "levels", "Niveau inconnu"),
    ("no level", school, _set("levels", []), "levels", "Indiquez au moins un niveau."),
    ("level repeated", school, _set("levels", ["2nde", "2nde"]), "levels", "ne doit figurer qu'une fois"),
    ("iso week does not exist", school, _set("internship_periods", {"2nde": ["2027-W53"]}), "internship_periods",
     "Semaine ISO invalide : « 2027-W53 »"),
    ("iso week malformed", school, _set("internship_periods", {"2nde": ["24/2027"]}), "internship_periods",
     "Semaine ISO invalide"),
    ("no week for a level", school, _set("internship_periods", {"2nde": []}), "internship_periods",
     "Indiquez au moins une semaine."),
    ("period for a level not taught", school, _set("internship_periods", {"3e": ["2027-W24"]}),
     "internship_periods", "Niveau non enseigné dans cet établissement (niveaux indiqués : 2nde, 1re, Tle)."),
    ("period for an unknown level", school, _set("internship_periods", {"CM2": ["2027-W24"]}),
     "internship_periods", "Niveau inconnu"),
    ("school outside the territory", school, _set("town", "75112"), "town", "Commune inconnue"),
    ("school far from its town", school, _far_north, "location", "5 km au plus du centre de Vincennes"),
    ("school cannot be outside", school, _set("serves_territory_from_outside", True),
     "serves_territory_from_outside", "Champ inconnu."),
    # pupils
    ("pupil with an address", pupil, _set("address", {"street": "1 rue", "postcode": "94120"}), "address",
     "Champ refusé : Vitawin n'enregistre ni le nom de famille, ni l'adresse, ni la position d'un élève."),
    ("pupil with a location", pupil, _set("location", dict(FONTENAY)), "location", "Champ refusé"),
    ("pupil with a last name", pupil, _set("last_name", "Dupont"), "last_name", "Champ refusé"),
    ("pupil with another field", pupil, _set("birth_date", "2012-05-01"), "birth_date", "Champ inconnu."),
    ("pupil without guardian", pupil, _without("guardian_contact_email"), "guardian_contact_email",
     "Champ obligatoire pour un élève mineur : l'adresse e-mail d'un responsable légal."),
    ("pupil minor without guardian", pupil, lambda b: (_without("guardian_contact_email")(b),
                                                       _set("is_minor", True)(b)),
     "guardian_contact_email", "Champ obligatoire pour un élève mineur"),
    ("pupil guardian email invalid", pupil, _set("guardian_contact_email", "parent"), "guardian_contact_email",
     "Adresse e-mail invalide."),
    ("pupil school uai invalid", pupil, _set("school_uai", "0941030K"), "school_uai", "Code UAI invalide"),
    ("pupil level unknown", pupil, _set("level", "CM2"), "level", "Niveau inconnu"),
    ("pupil outside the territory", pupil, _set("town", "75112"), "town", "Commune inconnue"),
    ("pupil cannot be outside", pupil, _set("serves_territory_from_outside", True),
     "serves_territory_from_outside", "Champ inconnu."),
    ("pupil first name missing", pupil, _without("first_name"), "first_name", "Champ obligatoire."),
    # territory managers
    ("manager organisation missing", territory_manager, _without("organisation_name"), "organisation_name",
     "Champ obligatoire."),
    ("manager with a town", territory_manager, _set("town", "94080"), "town", "Champ inconnu."),
    # every kind
    ("kind missing", organisation, _without("kind"), "kind", "Champ obligatoire."),
    ("kind unknown", organisation, _set("kind", "restaurant"), "kind", "Type d'acteur inconnu"),
    ("kind not a string", organisation, _set("kind", 3), "kind", "Type d'acteur inconnu"),
    ("read-only id", organisation, _set("actor_id", "act-mine"), "actor_id", "Champ inconnu."),
    ("read-only creation time", pupil, _set("created_at", "2026-01-01T00:00:00Z"), "created_at", "Champ inconnu."),
]


@pytest.mark.parametrize("make, change, field, french", [case[1:] for case in BAD_BODIES],
                         ids=[case[0] for case in BAD_BODIES])
def test_a_bad_body_gives_422_naming_the_field_in_french_and_stores_nothing(
        client, uow, make, change, field, french):
    body = make()
    change(body)
    response = post(client, body)

    assert response.status_code == 422, response.get_json()
    answer = response.get_json()
    assert answer["message"] == "Les données envoyées sont invalides."
    assert french in json.dumps(answer["errors"]["json"][field], ensure_ascii=False)
    assert uow.actors.docs == {} and uow.published == []


def test_every_bad_field_is_reported_at_once(client):
    body = organisation(siret="12345678200011", naf_code="5610A", town="75112", contact_email="nope")
    errors = post(client, body).get_json()["errors"]["json"]
    assert set(errors) == {"siret", "naf_code", "town", "contact_email"}


def test_a_body_that_is_not_an_object_gives_422(client, uow):
    response = client.post(URL, json=["company"])
    assert response.status_code == 422
    assert uow.published == []


# --- reading --------------------------------------------------------------------------------------

def test_get_returns_the_whole_record_of_an_organisation_to_its_own_account(client, bearer):
    record = created(client, organisation())
    response = client.get(f"{URL}/{record['actor_id']}",
                          headers=bearer("professional", actor_id=record["actor_id"]))
    assert response.status_code == 200
    assert response.get_json() == record


def test_get_never_returns_a_pupils_first_name_or_guardian_contact(client):
    record = created(client, pupil())
    response = client.get(f"{URL}/{record['actor_id']}")
    assert response.status_code == 200
    shown = response.get_json()
    assert shown["actor_id"] == record["actor_id"] and shown["level"] == record["level"]
    assert "first_name" not in shown and "guardian_contact_email" not in shown
    assert record["first_name"] not in response.get_data(as_text=True)


def test_get_unknown_actor_gives_404_in_french(client):
    response = client.get(f"{URL}/act-inconnu")
    assert response.status_code == 404
    assert response.get_json()["message"] == "Acteur introuvable."


@pytest.fixture
def one_second_apart(monkeypatch):
    """Actors registered from now on are created one second apart (the list is newest first)."""
    ticks = itertools.count()

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc) + timedelta(seconds=next(ticks))

    monkeypatch.setattr(domain, "datetime", Clock)


@pytest.fixture
def directory(client, one_second_apart):
    """Six actors, oldest first: two companies (Vincennes, Fontenay), a school (Vincennes), a pupil
    (Fontenay), a craftsman (Villiers-sur-Marne), a territory manager."""
    bodies = [organisation(name="Boulangerie"),
              organisation(name="Imprimerie", town="94033", location=dict(FONTENAY),
                           address={"street": "3 rue Dalayrac", "postcode": "94120"}),
              school(),
              pupil(),
              organisation("craftsman", name="Plomberie", naf_code="43.22A", town="94079",
                           location=dict(VILLIERS), address={"street": "2 rue du Général-de-Gaulle",
                                                             "postcode": "94350"}),
              territory_manager()]
    return [created(client, body) for body in bodies]


def _page(client, query=""):
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _ids(page) -> list:
    return [item["actor_id"] for item in page["items"]]


def test_list_pages_newest_first_with_the_total(client, directory):
    ids = [actor["actor_id"] for actor in reversed(directory)]
    assert _page(client) == {**_page(client), "page": 1, "page_size": 50, "total": 6}
    assert _ids(_page(client)) == ids
    first = _page(client, "page_size=4")
    assert (_ids(first), first["page"], first["page_size"], first["total"]) == (ids[:4], 1, 4, 6)
    second = _page(client, "page_size=4&page=2")
    assert (_ids(second), second["page"], second["total"]) == (ids[4:], 2, 6)
    assert _page(client, "page_size=4&page=3")["items"] == []


def test_list_filters_by_kind_repeatable_and_town(client, directory):
    company_1, company_2, school_, pupil_, craftsman, manager = (a["actor_id"] for a in directory)
    assert _ids(_page(client, "kind=company")) == [company_2, company_1]
    assert _ids(_page(client, "kind=company&kind=school")) == [school_, company_2, company_1]
    assert _ids(_page(client, "town=94033")) == [pupil_, company_2]
    assert _ids(_page(client, "kind=company&town=94033")) == [company_2]
    assert _ids(_page(client, "kind=territory_manager")) == [manager]
    page = _page(client, "kind=craftsman&town=94080")
    assert (page["items"], page["total"]) == ([], 0)


def test_list_shows_the_public_view_only(client, directory):
    items = {item["kind"]: item for item in _page(client)["items"]}
    assert set(items["pupil"]) == {"actor_id", "kind", "level", "school_uai", "town", "created_at"}
    assert set(items["company"]) == EVENT_FIELDS["organisation"] | {"created_at"}
    assert set(items["school"]) == EVENT_FIELDS["school"] | {"created_at"}
    assert set(items["territory_manager"]) == {"actor_id", "kind", "organisation_name", "created_at"}
    listed = json.dumps(_page(client), ensure_ascii=False)
    assert "@" not in listed and "Léa" not in listed and "siret" not in listed


def test_list_filters_by_bbox_and_leaves_out_actors_without_a_location(client, directory):
    company_1, company_2, school_, pupil_, craftsman, manager = (a["actor_id"] for a in directory)
    around_vincennes = "bbox=2.42,48.83,2.45,48.86"
    assert _ids(_page(client, around_vincennes)) == [school_, company_1]
    whole_territory = "bbox=2.3,48.7,2.7,48.95"
    assert _ids(_page(client, whole_territory)) == [craftsman, school_, company_2, company_1]  # no pupil, no manager
    assert _page(client, f"{whole_territory}&kind=pupil&kind=territory_manager")["total"] == 0
    assert _ids(_page(client, f"{whole_territory}&kind=company&town=94033")) == [company_2]
    page = _page(client, f"{around_vincennes}&page_size=1&page=2")
    assert (_ids(page), page["total"]) == ([company_1], 2)


@pytest.mark.parametrize("query, field, french", [
    ("kind=restaurant", "kind", "Type d'acteur inconnu"), ("town=Vincennes", "town", "Code INSEE"),
    ("bbox=2.40,48.79,2.56", "bbox", "Emprise invalide : format attendu"),
    ("bbox=2.56,48.79,2.40,48.86", "bbox", "le minimum doit précéder le maximum"),
    ("page=0", "page", "Doit être supérieur ou égal à 1."), ("page=deux", "page", "Nombre entier attendu."),
    ("page_size=0", "page_size", "Doit être compris entre 1 et 200."),
    ("page_size=201", "page_size", "Doit être compris entre 1 et 200."),
])
def test_list_refuses_bad_filters_in_french(client, query, field, french):
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 422
    assert french in json.dumps(response.get_json()["errors"]["query"][field], ensure_ascii=False)


# --- the map --------------------------------------------------------------------------------------

def _map(client, query=""):
    response = client.get(f"{URL}/map.geojson{'?' + query if query else ''}")
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/geo+json"
    assert response.headers.getlist("Content-Type") == ["application/geo+json"]
    return json.loads(response.data)


def test_the_map_is_geojson_of_organisations_and_schools_without_pupils_or_emails(client, directory):
    company_1, company_2, school_, pupil_, craftsman, manager = directory
    collection = _map(client)
    assert collection["type"] == "FeatureCollection"
    features = {feature["id"]: feature for feature in collection["features"]}
    assert set(features) == {company_1["actor_id"], company_2["actor_id"], school_["actor_id"],
                             craftsman["actor_id"]}
    feature = features[school_["actor_id"]]
    assert feature == {"type": "Feature", "id": school_["actor_id"],
                       "geometry": {"type": "Point", "coordinates": [VINCENNES["lon"], VINCENNES["lat"]]},
                       "properties": {"actor_id": school_["actor_id"], "kind": "school",
                                      "name": "Lycée Hector-Berlioz", "town": "94080"}}
    text = json.dumps(collection, ensure_ascii=False)
    assert "@" not in text and "pupil" not in text and "Léa" not in text and "territory_manager" not in text


def test_the_map_filters_by_bounding_box(client, directory):
    company_1, company_2, school_, pupil_, craftsman, manager = directory
    west = _map(client, "bbox=2.40,48.80,2.50,48.87")  # Vincennes and Fontenay, not Villiers-sur-Marne
    assert {f["id"] for f in west["features"]} == {company_1["actor_id"], company_2["actor_id"], school_["actor_id"]}
    east = _map(client, "bbox=2.52,48.80,2.58,48.86")
    assert [f["id"] for f in east["features"]] == [craftsman["actor_id"]]
    assert _map(client, "bbox=5.0,43.0,5.5,43.5")["features"] == []


@pytest.mark.parametrize("bbox", ["2.40,48.80,2.50", "2.40;48.80;2.50;48.87", "a,b,c,d", "2.50,48.80,2.40,48.87",
                                  "2.40,48.80,2.50,95", ""])
def test_a_malformed_bounding_box_gives_422_in_french(client, bbox):
    response = client.get(f"{URL}/map.geojson?bbox={bbox}")
    assert response.status_code == 422
    [message] = response.get_json()["errors"]["query"]["bbox"]
    assert message.startswith("Emprise invalide : ")


# --- documentation -------------------------------------------------------------------------------

def test_openapi_documents_the_directory_with_a_schema_per_kind(client):
    spec = client.get("/openapi.json").get_json()
    assert {URL, f"{URL}/{{actor_id}}", f"{URL}/map.geojson", "/api/v1/volunteers"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    actor = schemas["Actor"]
    assert actor["discriminator"]["propertyName"] == "kind"
    assert set(actor["discriminator"]["mapping"]) == set(VALID)
    for ref in actor["oneOf"]:
        assert ref["$ref"].removeprefix("#/components/schemas/") in schemas
    assert "first_name" not in schemas["PupilSummary"]["properties"]
    assert "contact_email" not in schemas["OrganisationSummary"]["properties"]
    post_body = spec["paths"][URL]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert post_body == {"$ref": "#/components/schemas/Actor"}
    assert "application/geo+json" in spec["paths"][f"{URL}/map.geojson"]["get"]["responses"]["200"]["content"]


# --- who may register a territory manager, who reads contacts -----------------------------------------

@pytest.mark.parametrize("headers, status", [({}, 401), ("professional", 403), ("school_referent", 403),
                                             ("pupil", 403), ("partner", 403)])
def test_only_a_territory_manager_registers_a_territory_manager(client, uow, bearer, headers, status):
    """A territory manager's account moderates the territory: registering one is no sign-up."""
    if isinstance(headers, str):
        headers = bearer(headers, actor_id="act-someone")
    response = client.post(URL, json=territory_manager(), headers=headers)

    assert response.status_code == status, response.get_json()
    assert "gestionnaire de territoire" in response.get_json()["message"] or status == 401
    assert uow.actors.docs == {} and uow.published == []


def test_a_territory_manager_registers_another(client, uow, bearer):
    response = client.post(URL, json=territory_manager(), headers=bearer("territory_manager", actor_id="act-m"))
    assert response.status_code == 201 and len(uow.actors.docs) == 1


@pytest.mark.parametrize("kind", ["organisation", "school"])
def test_an_actor_s_contacts_are_read_by_its_own_accounts_and_territory_managers_only(client, bearer, kind):
    body = organisation() if kind == "organisation" else school()
    record = created(client, body)
    url = f"{URL}/{record['actor_id']}"
    readers = {"anonymous": {}, "another actor": bearer("professional", actor_id="act-other"),
               "partner": bearer("partner"), "itself": bearer("professional" if kind == "organisation"
                                                              else "school_referent", actor_id=record["actor_id"]),
               "territory manager": bearer("territory_manager", actor_id="act-m")}
    seen = {who: client.get(url, headers=headers).get_json() for who, headers in readers.items()}

    for who in ("anonymous", "another actor", "partner"):
        assert "contact_email" not in seen[who] and seen[who]["actor_id"] == record["actor_id"], who
        assert seen[who]["name"] == record["name"], who
    for who in ("itself", "territory manager"):
        assert seen[who]["contact_email"] == record["contact_email"], who
