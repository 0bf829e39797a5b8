"""The list of pledges (GET /api/v1/volunteers) against the in-memory unit of work: each filter
(town, action_type, rome, audience, status, bbox), rome and audience on ONE action of the pledge,
the envelope {items, page, page_size, total} newest first, its page boundaries, and the French
422 errors naming the field; then PledgeFilter's MongoDB query (its agreement with `matches` on a
real server is tests/integration/test_actors_queries.py)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from vitawin_common.territory import Location

from vitawin_actors import bootstrap
from vitawin_actors.domain import (ACTION_TYPES, ActionSettings, BoundingBox, Pledge, PledgeFilter,
                                   RegisterVolunteer, Volunteer)

URL = "/api/v1/volunteers"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
VINCENNES = (48.8478, 2.4385)  # 94080
FONTENAY = (48.8515, 2.4760)  # 94033
VILLIERS = (48.8270, 2.5440)  # 94079
AROUND_VINCENNES = "2.42,48.83,2.45,48.86"


def stored(n: int, town: str, place: tuple[float, float], actions: dict[str, tuple[tuple[str, ...], str]],
           status: str = "active") -> dict:
    """The document of a pledge registered n minutes after T0: {action_type: (rome codes, audience)}."""
    rome = bootstrap.rome()
    command = RegisterVolunteer(
        organisation_name=f"Organisation {n}", contact_email=f"pro{n}@example.fr", town=town,
        location=Location(*place), action_types=list(actions),
        actions={t: ActionSettings.build(t, rome_jobs=[rome.job(c) for c in codes], audience=audience)
                 for t, (codes, audience) in actions.items()})
    pledge = Pledge.register(command, now=T0 + timedelta(minutes=n))
    later = T0 + timedelta(minutes=n, seconds=30)
    if status == "paused":
        pledge = pledge.pause(later)
    elif status == "withdrawn":
        pledge = pledge.withdraw(later)
    return pledge.to_document()


def old_shape(n: int) -> dict:
    """A pledge stored before statuses and per-action settings: no status, no actions, no version."""
    command = RegisterVolunteer(organisation_name="Ancien", contact_email="ancien@example.fr", town="94080",
                                location=Location(48.8470, 2.4400), action_types=["testimony"])
    return Volunteer.register(command, now=T0 + timedelta(minutes=n)).to_document()


@pytest.fixture
def pledges(uow):
    """Six stored pledges, A (oldest) to F (newest); their ids by letter."""
    docs = {
        "A": stored(1, "94080", VINCENNES, {"testimony": (("D1102",), "college"),
                                            "internship": (("M1805",), "lycee")}),
        "B": stored(2, "94033", FONTENAY, {"internship": (("D1102",), "lycee")}),
        "C": stored(3, "94080", VINCENNES, {"mentoring": ((), "all")}, status="paused"),
        "D": stored(4, "94079", VILLIERS, {"job_fair": (("D1102",), "all")}),
        "E": old_shape(5),
        "F": stored(6, "94033", FONTENAY, {"intervention": (("M1805",), "college")}, status="withdrawn"),
    }
    for doc in docs.values():
        uow.volunteers.add(doc)
    return {letter: doc["volunteer_id"] for letter, doc in docs.items()}


def listed(client, query: str = "") -> dict:
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def letters(client, pledges, query: str = "") -> str:
    """The letters of the pledges listed, in the order of the list."""
    by_id = {vid: letter for letter, vid in pledges.items()}
    return "".join(by_id[item["volunteer_id"]] for item in listed(client, query)["items"])


# --- the envelope and its pages ------------------------------------------------------------------

def test_the_list_is_an_envelope_newest_first_with_the_total(client, pledges):
    page = listed(client)
    assert set(page) == {"items", "page", "page_size", "total"}
    assert (page["page"], page["page_size"], page["total"]) == (1, 50, 6)
    assert letters(client, pledges) == "FEDCBA"
    first = page["items"][0]
    assert first["volunteer_id"] == pledges["F"] and first["status"] == "withdrawn"
    assert first["actions"]["intervention"]["rome_codes"] == ["M1805"]


def test_pages_split_the_list_and_a_page_past_the_end_is_empty(client, pledges):
    assert letters(client, pledges, "page_size=4") == "FEDC"
    second = listed(client, "page_size=4&page=2")
    assert (second["page"], second["page_size"], second["total"]) == (2, 4, 6)
    assert letters(client, pledges, "page_size=4&page=2") == "BA"
    past = listed(client, "page_size=4&page=3")
    assert (past["items"], past["total"]) == ([], 6)
    assert letters(client, pledges, "page_size=1") == "F"
    assert letters(client, pledges, "page_size=1&page=6") == "A"
    assert letters(client, pledges, "page_size=200") == "FEDCBA"


def test_the_total_counts_what_the_filters_select_on_every_page(client, pledges):
    page = listed(client, "rome=D1102&page_size=2&page=2")
    assert (page["total"], len(page["items"])) == (3, 1)


def test_an_empty_list_is_an_empty_envelope(client):
    assert listed(client) == {"items": [], "page": 1, "page_size": 50, "total": 0}


# --- each filter -----------------------------------------------------------------------------------

@pytest.mark.parametrize("query, expected", [
    ("town=94080", "ECA"),
    ("town=94033", "FB"),
    ("action_type=internship", "BA"),
    ("action_type=testimony", "EA"),  # E: stored without settings, it still offers testimony
    ("status=active", "EDBA"),  # E: stored without a status, it is active
    ("status=paused", "C"),
    ("status=withdrawn", "F"),
    (f"bbox={AROUND_VINCENNES}", "ECA"),
    ("bbox=2.46,48.84,2.56,48.86", "FB"),
    ("bbox=2.53,48.82,2.56,48.84", "D"),
    ("bbox=2.0,48.0,2.1,48.1", ""),
])
def test_each_plain_filter(client, pledges, query, expected):
    assert letters(client, pledges, query) == expected


@pytest.mark.parametrize("query, expected", [
    ("rome=D1102", "DBA"),
    ("rome=d1102", "DBA"),  # read as D1102
    ("rome=M1805", "FA"),
    ("rome=A1101", ""),  # in the reference, offered by nobody
    ("audience=college", "FEDCA"),  # C, D, E: actions for all accept collégiens
    ("audience=lycee", "EDCBA"),
    ("audience=all", "EDC"),  # open to both publics: the actions for all only
])
def test_rome_and_audience_alone(client, pledges, query, expected):
    assert letters(client, pledges, query) == expected


@pytest.mark.parametrize("query, expected", [
    # A offers D1102 (testimony, collège) and lycée (internship, M1805), but no single action both.
    ("rome=D1102&audience=lycee", "DB"),
    ("rome=D1102&audience=college", "DA"),
    ("rome=M1805&audience=lycee", "A"),
    ("rome=M1805&audience=college", "F"),
    ("rome=D1102&audience=all", "D"),
])
def test_rome_and_audience_apply_together_to_one_action(client, pledges, query, expected):
    assert letters(client, pledges, query) == expected


@pytest.mark.parametrize("query, expected", [
    ("action_type=internship&rome=D1102", "B"),  # A's internship is M1805: its D1102 is a testimony
    ("action_type=testimony&rome=D1102", "A"),
    ("action_type=testimony&audience=lycee", "E"),  # A's testimony is for collège; E's has the default
    ("action_type=internship&audience=college", ""),
    ("action_type=job_fair&rome=D1102&audience=college", "D"),
    ("action_type=mentoring&rome=D1102", ""),
])
def test_with_an_action_type_rome_and_audience_apply_to_that_action(client, pledges, query, expected):
    assert letters(client, pledges, query) == expected


def test_filters_add_up(client, pledges):
    assert letters(client, pledges, "town=94080&audience=college&status=active") == "EA"
    assert letters(client, pledges, f"bbox={AROUND_VINCENNES}&rome=D1102&status=active") == "A"
    assert letters(client, pledges, "town=94033&rome=D1102&audience=lycee&action_type=internship&status=active"
                                    "&bbox=2.46,48.84,2.56,48.86") == "B"


def test_a_pledge_registered_through_the_api_is_found_by_its_rome_code_and_audience(client, payload, manager):
    body = {**payload, "actions": {"internship": {"rome_codes": ["d1104"], "audience": "college",
                                                  "levels": ["3e"]}}}
    created = client.post(URL, json=body, headers=manager)
    assert created.status_code == 201, created.get_json()
    vid = created.get_json()["volunteer_id"]
    assert [item["volunteer_id"] for item in listed(client, "rome=D1104&audience=college")["items"]] == [vid]
    assert listed(client, "rome=D1104&audience=lycee")["total"] == 0
    assert listed(client, "rome=D1104&action_type=testimony")["total"] == 0


# --- refused in French, naming the field ----------------------------------------------------------

@pytest.mark.parametrize("query, field, french", [
    ("rome=D9999", "rome", "Code ROME inconnu du référentiel ROME : D9999."),
    ("rome=boulanger", "rome", "Code ROME invalide"),
    ("audience=primaire", "audience", "Public inconnu ; valeurs possibles : college (collège)"),
    ("bbox=2.40,48.79,2.56", "bbox", "Emprise invalide : format attendu bbox=min_lon,min_lat,max_lon,max_lat"),
    ("bbox=a,b,c,d", "bbox", "Emprise invalide : format attendu"),
    ("bbox=2.56,48.79,2.40,48.86", "bbox", "le minimum doit précéder le maximum"),
    ("bbox=2.40,-95,2.56,48.86", "bbox", "latitudes entre -90 et 90"),
    ("page=0", "page", "Doit être supérieur ou égal à 1."),
    ("page=deux", "page", "Nombre entier attendu."),
    ("page_size=0", "page_size", "Doit être compris entre 1 et 200."),
    ("page_size=201", "page_size", "Doit être compris entre 1 et 200."),
    ("status=parti", "status", "Statut inconnu"),
    ("action_type=cooking", "action_type", "Type d'action inconnu"),
    ("town=75056", "town", "Commune inconnue"),
])
def test_bad_filters_are_refused_in_french_naming_the_field(client, pledges, query, field, french):
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 422
    errors = response.get_json()["errors"]["query"]
    assert list(errors) == [field]
    assert french in json.dumps(errors[field], ensure_ascii=False)


def test_the_openapi_document_describes_the_filters_and_the_envelope(client):
    spec = client.get("/openapi.json").get_json()
    get = spec["paths"][URL]["get"]
    parameters = {p["name"]: p for p in get["parameters"]}
    assert set(parameters) == {"town", "action_type", "rome", "audience", "status", "bbox", "page", "page_size"}
    assert "ouvertes aux deux : public all seulement" in parameters["audience"]["description"]
    assert "une même action" in get["description"]
    schema = get["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/VolunteerPage"}
    page = spec["components"]["schemas"]["VolunteerPage"]["properties"]
    assert set(page) == {"items", "page", "page_size", "total"}
    assert page["items"]["items"] == {"$ref": "#/components/schemas/Volunteer"}


# --- PledgeFilter: the MongoDB face -----------------------------------------------------------------

def test_no_filter_is_an_empty_query():
    assert PledgeFilter().to_query() == {}


def test_plain_filters_are_plain_conditions():
    box = BoundingBox.parse(AROUND_VINCENNES)
    assert PledgeFilter(town="94080", action_type="mentoring", status="paused", bbox=box).to_query() == {
        "town": "94080", "action_types": "mentoring", "status": "paused",
        "location.lon": {"$gte": 2.42, "$lte": 2.45}, "location.lat": {"$gte": 48.83, "$lte": 48.86}}
    assert PledgeFilter(status="active").to_query() == {"status": {"$in": ["active", None]}}


def test_with_an_action_type_the_per_action_conditions_bear_on_that_action():
    assert PledgeFilter(action_type="internship", rome="D1102", audience="college").to_query() == {
        "action_types": "internship", "actions.internship.rome_codes": "D1102",
        "actions.internship.audience": {"$in": ["college", "all", None]}}


def test_without_an_action_type_one_action_of_any_type_must_meet_them_all():
    query = PledgeFilter(town="94033", rome="D1102", audience="lycee").to_query()
    assert set(query) == {"town", "$or"}
    assert query["$or"] == [{"action_types": t, f"actions.{t}.rome_codes": "D1102",
                             f"actions.{t}.audience": {"$in": ["lycee", "all", None]}} for t in ACTION_TYPES]


def test_searching_all_asks_for_actions_open_to_both_publics():
    assert PledgeFilter(action_type="testimony", audience="all").to_query() == {
        "action_types": "testimony", "actions.testimony.audience": {"$in": ["all", None]}}


@pytest.mark.parametrize("values", [{"action_type": "cooking"}, {"rome": "d1102"}, {"audience": "primaire"},
                                   {"status": "parti"}])
def test_a_filter_refuses_values_the_api_would_have_refused(values):
    with pytest.raises(ValueError):
        PledgeFilter(**values)
