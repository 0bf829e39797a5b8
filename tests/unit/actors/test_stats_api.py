"""GET /api/v1/actors/stats, the territory's dashboard figures of the actors service: territory
managers only (anonymous 401, every other role 403, French), the counts of actors per kind, town and
month (Paris time), of organisations per NAF section, of pledges per town, action type, month and
status, the period and town filters, and the bad query strings (422 in French). Over the in-memory
fakes of conftest.py, given `for_stats` as the Mongo repositories have it (period and town)."""
from __future__ import annotations

import types
from datetime import datetime, timezone

import pytest

from vitawin_actors.domain.sectors import NAF_SECTIONS, naf_section, section_label

URL = "/api/v1/actors/stats"
UTC = timezone.utc


def _for_stats(self, period, town, fields):
    """What the Mongo repositories' for_stats select: created in `period`, in `town` if given."""
    return [{name: doc[name] for name in fields if name in doc} for doc in self.docs.values()
            if period.contains(doc.get("created_at")) and town in (None, doc.get("town"))]


@pytest.fixture
def store(uow):
    for repository in (uow.actors, uow.volunteers):
        repository.for_stats = types.MethodType(_for_stats, repository)
    return uow


def actor(store, n, kind, town, created_at, naf_code=None, **extra):
    doc = {"actor_id": f"act-{n}", "kind": kind, "town": town, "created_at": created_at, "name": f"Nom {n}",
           "contact_email": f"contact{n}@example.fr", **extra}
    if naf_code:
        doc["naf_code"] = naf_code
    if kind == "territory_manager":
        del doc["town"]
    store.actors.docs[doc["actor_id"]] = doc


def pledge(store, n, town, action_types, created_at, status="active"):
    store.volunteers.docs[f"vol-{n}"] = {
        "volunteer_id": f"vol-{n}", "organisation_name": f"Org {n}", "contact_email": f"pro{n}@example.fr",
        "town": town, "location": {"lat": 48.85, "lon": 2.43}, "action_types": action_types,
        "max_distance_km": 10.0, "created_at": created_at, "status": status, "version": 1}


@pytest.fixture
def fixtures(store):
    # 2026-01-31 23:30 UTC is 1 February in Paris: it counts in February.
    actor(store, 1, "company", "94080", datetime(2026, 1, 5, 10, tzinfo=UTC), "56.10A")
    actor(store, 2, "company", "94080", datetime(2026, 1, 31, 23, 30, tzinfo=UTC), "47.11B")
    actor(store, 3, "association", "94033", datetime(2026, 2, 10, tzinfo=UTC), "94.99Z")
    actor(store, 4, "school", "94080", datetime(2026, 2, 11, tzinfo=UTC), uai="0940001W")
    actor(store, 5, "pupil", "94033", datetime(2026, 3, 1, 12, tzinfo=UTC), first_name="Léa")
    actor(store, 6, "territory_manager", None, datetime(2026, 3, 2, tzinfo=UTC))
    actor(store, 7, "craftsman", "94033", datetime(2026, 3, 3, tzinfo=UTC), "43.22A")
    store.actors.docs["act-8"] = {"actor_id": "act-8", "kind": "company", "status": "erased",
                                  "erased_at": datetime(2026, 3, 4, tzinfo=UTC)}  # a tombstone
    pledge(store, 1, "94080", ["testimony", "internship"], datetime(2026, 1, 6, tzinfo=UTC))
    pledge(store, 2, "94080", ["testimony"], datetime(2026, 2, 6, tzinfo=UTC), "paused")
    pledge(store, 3, "94033", ["mentoring"], datetime(2026, 3, 6, tzinfo=UTC), "withdrawn")
    return store


def get(client, bearer, query="", role="territory_manager"):
    return client.get(f"{URL}{query}", headers=bearer(role))


# --- who may read them -------------------------------------------------------------------------------
def test_an_anonymous_caller_gets_a_401_in_french(client, fixtures):
    answer = client.get(URL)
    assert answer.status_code == 401
    assert answer.json["message"] == "Connexion requise."
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", ["pupil", "school_referent", "professional", "partner"])
def test_every_other_role_gets_a_403_in_french(client, bearer, fixtures, role):
    answer = get(client, bearer, role=role)
    assert answer.status_code == 403
    assert answer.json["message"] == "Action réservée aux rôles : gestionnaire de territoire."


def test_the_role_is_checked_before_the_query_string(client, bearer, fixtures):
    assert get(client, bearer, "?from=janvier", role="professional").status_code == 403
    assert client.get(f"{URL}?from=janvier").status_code == 401


# --- the figures ---------------------------------------------------------------------------------------
def test_actors_are_counted_per_kind_town_and_month_of_registration_in_paris_time(client, bearer, fixtures):
    answer = get(client, bearer)
    assert answer.status_code == 200, answer.json
    actors = answer.json["actors"]
    assert actors["total"] == 7, "the erased actor's tombstone counts nowhere"
    assert actors["rows"] == [
        {"kind": "company", "town": "94080", "month": "2026-01", "count": 1},
        {"kind": "association", "town": "94033", "month": "2026-02", "count": 1},
        {"kind": "company", "town": "94080", "month": "2026-02", "count": 1},
        {"kind": "school", "town": "94080", "month": "2026-02", "count": 1},
        {"kind": "craftsman", "town": "94033", "month": "2026-03", "count": 1},
        {"kind": "pupil", "town": "94033", "month": "2026-03", "count": 1},
        {"kind": "territory_manager", "town": None, "month": "2026-03", "count": 1},
    ]
    assert answer.json["period"] == {"from": None, "to": None, "months": ["2026-01", "2026-02", "2026-03"]}
    assert answer.json["town"] is None


def test_organisations_are_counted_per_naf_section_with_its_french_label(client, bearer, fixtures):
    sectors = get(client, bearer).json["sectors"]
    assert sectors["total"] == 4, "organisations only: no school, pupil or territory manager"
    assert sectors["rows"] == [
        {"section": "F", "label": "Construction", "count": 1},
        {"section": "G", "label": "Commerce ; réparation d'automobiles et de motocycles", "count": 1},
        {"section": "I", "label": "Hébergement et restauration", "count": 1},
        {"section": "S", "label": "Autres activités de services", "count": 1},
    ]


def test_pledges_are_counted_per_town_action_type_month_and_status(client, bearer, fixtures):
    pledges = get(client, bearer).json["pledges"]
    assert pledges["total"] == 3
    assert pledges["by_status"] == {"active": 1, "paused": 1, "withdrawn": 1}
    assert pledges["by_town"] == [{"town": "94033", "count": 1}, {"town": "94080", "count": 2}]
    assert pledges["by_month"] == [{"month": "2026-01", "count": 1}, {"month": "2026-02", "count": 1},
                                   {"month": "2026-03", "count": 1}], "each pledge once, whatever its actions"
    assert pledges["rows"] == [
        {"town": "94080", "action_type": "internship", "month": "2026-01", "status": "active", "count": 1},
        {"town": "94080", "action_type": "testimony", "month": "2026-01", "status": "active", "count": 1},
        {"town": "94080", "action_type": "testimony", "month": "2026-02", "status": "paused", "count": 1},
        {"town": "94033", "action_type": "mentoring", "month": "2026-03", "status": "withdrawn", "count": 1},
    ]


def test_the_period_and_the_town_select_what_is_counted(client, bearer, fixtures):
    answer = get(client, bearer, "?from=2026-02&to=2026-02&town=94080")
    assert answer.status_code == 200
    body = answer.json
    assert body["period"] == {"from": "2026-02", "to": "2026-02", "months": ["2026-02"]}
    assert body["town"] == "94080"
    assert body["actors"]["rows"] == [{"kind": "company", "town": "94080", "month": "2026-02", "count": 1},
                                      {"kind": "school", "town": "94080", "month": "2026-02", "count": 1}]
    assert body["sectors"]["rows"] == [{"section": "G", "label": section_label("G"), "count": 1}]
    assert body["pledges"]["total"] == 1 and body["pledges"]["by_status"]["paused"] == 1


def test_the_months_of_a_period_are_all_listed_even_without_data(client, bearer, fixtures):
    body = get(client, bearer, "?from=2025-11&to=2026-04").json
    assert body["period"]["months"] == ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04"]
    empty = get(client, bearer, "?from=2024-01&to=2024-02").json
    assert empty["actors"] == {"total": 0, "rows": []}
    assert empty["pledges"]["by_status"] == {"active": 0, "paused": 0, "withdrawn": 0}
    assert empty["period"]["months"] == ["2024-01", "2024-02"]


def test_counts_only_no_name_id_or_contact_leaves(client, bearer, fixtures):
    text = get(client, bearer).get_data(as_text=True)
    for secret in ("act-1", "vol-1", "Nom 1", "Org 1", "Léa", "@example.fr", "0940001W"):
        assert secret not in text


def test_an_actor_registered_through_the_api_is_counted_in_this_month(client, bearer, store, payload):
    organisation = {"kind": "company", "name": "Boulangerie", "contact_email": "b@example.fr",
                    "siret": "73282932000074", "naf_code": "10.71C",
                    "address": {"street": "1 rue de la Gare", "postcode": "94300"}, "town": "94080",
                    "location": {"lat": 48.8478, "lon": 2.4385}}
    registered = client.post("/api/v1/actors", json=organisation)
    assert registered.status_code == 201
    professional = bearer("professional", actor_id=registered.get_json()["actor_id"])  # pledges for it
    assert client.post("/api/v1/volunteers", json=payload, headers=professional).status_code == 201
    body = get(client, bearer).json
    month = datetime.now(timezone.utc).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")).strftime("%Y-%m")
    assert body["actors"]["rows"] == [{"kind": "company", "town": "94080", "month": month, "count": 1}]
    assert body["sectors"]["rows"] == [{"section": "C", "label": "Industrie manufacturière", "count": 1}]
    assert {(r["action_type"], r["status"], r["count"]) for r in body["pledges"]["rows"]} == {
        ("testimony", "active", 1), ("internship", "active", 1)}


# --- bad query strings ------------------------------------------------------------------------------------
@pytest.mark.parametrize("query, field, reason", [
    ("?from=2026-13", "from", "Mois invalide : format attendu AAAA-MM"),
    ("?from=janvier", "from", "Mois invalide"),
    ("?to=2026-1", "to", "Mois invalide"),
    ("?from=1999-12", "from", "de 2000-01 à 2099-12"),
    ("?from=2026-05&to=2026-04", "to", "Le mois de fin (to) doit être le mois de début (from) ou un mois suivant."),
    ("?town=Vincennes", "town", "Code INSEE de commune invalide"),
])
def test_a_bad_query_string_is_a_422_in_french_naming_the_parameter(client, bearer, fixtures, query, field, reason):
    answer = get(client, bearer, query)
    assert answer.status_code == 422
    messages = answer.json["errors"]["query"][field]
    assert any(reason in message for message in messages), messages


# --- the NAF reference ------------------------------------------------------------------------------------
@pytest.mark.parametrize("code, section", [("01.11Z", "A"), ("03.22Z", "A"), ("05.10Z", "B"), ("33.20D", "C"),
                                           ("35.11Z", "D"), ("56.10A", "I"), ("62.01Z", "J"), ("84.11Z", "O"),
                                           ("97.00Z", "T"), ("99.00Z", "U"), ("04.00Z", "?"), ("", "?"),
                                           (None, "?"), ("AB.CDE", "?")])
def test_a_naf_code_falls_in_the_section_of_its_division(code, section):
    assert naf_section(code) == section


def test_the_naf_sections_are_the_21_of_naf_rev_2_without_overlap():
    assert list(NAF_SECTIONS) == [chr(c) for c in range(ord("A"), ord("U") + 1)]
    divisions = [d for _, first, last in NAF_SECTIONS.values() for d in range(first, last + 1)]
    assert len(divisions) == len(set(divisions))


# --- what the Mongo repositories ask SecantusDB for ------------------------------------------------------------
def test_the_repositories_ask_for_the_period_and_the_town_with_the_fields_only():
    from unittest.mock import MagicMock

    from vitawin_common.periods import MonthPeriod

    from vitawin_actors.adapters import STATS_INDEX, ActorRepository, VolunteerRepository
    from vitawin_actors.domain.stats import ACTOR_FIELDS, PLEDGE_FIELDS

    period = MonthPeriod("2026-01", "2026-03")
    start, end = period.bounds()
    for repository, fields in ((ActorRepository(MagicMock()), ACTOR_FIELDS),
                               (VolunteerRepository(MagicMock()), PLEDGE_FIELDS)):
        repository.for_stats(period, "94080", fields)
        repository.for_stats(MonthPeriod(), None, fields)
        projection = {"_id": False, **{name: True for name in fields}}
        assert [c.args for c in repository.collection.find.call_args_list] == [
            ({"created_at": {"$gte": start, "$lt": end}, "town": "94080"}, projection), ({}, projection)]
        assert STATS_INDEX in repository.indexes, "the town and the period on one index"
    assert "contact_email" not in ACTOR_FIELDS + PLEDGE_FIELDS and "name" not in ACTOR_FIELDS
