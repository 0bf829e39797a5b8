"""GET /api/v1/requests/stats, the territory's dashboard figures of the requests service: territory
managers only (anonymous 401, every other role 403, French), requests per town, action type,
requester, month (Paris time) and status, initiatives per town, kind and month, the period and town
filters, and the bad query strings (422 in French). Over conftest.py's fakes, given `for_stats` as
the Mongo repositories have it (period and town); requests made through the API are counted too."""
from __future__ import annotations

import types
from datetime import datetime, timezone

import pytest

from vitawin_common.testing import InMemoryRepository

from tests.unit.requests.conftest import PAYLOADS, POSTER

URL = "/api/v1/requests/stats"
UTC = timezone.utc


def _for_stats(self, period, town, fields):
    """What the Mongo repositories' for_stats select: created in `period`, in `town` if given."""
    return [{name: doc[name] for name in fields if name in doc} for doc in self.docs.values()
            if period.contains(doc.get("created_at")) and town in (None, doc.get("town"))]


class FakeInitiatives(InMemoryRepository):
    id_field = "initiative_id"


@pytest.fixture
def store(uow):
    uow.initiatives = uow.attach(FakeInitiatives())
    for repository in (uow.requests, uow.initiatives):
        repository.for_stats = types.MethodType(_for_stats, repository)
    return uow


def request(store, n, town, action_type, requester_kind, created_at, status="open", **extra):
    store.requests.docs[f"req-{n}"] = {
        "request_id": f"req-{n}", "kind": "class_testimony", "requester_kind": requester_kind,
        "action_type": action_type, "school_uai": "0940585A", "town": town, "created_at": created_at,
        "status": status, "version": 1, "requester_actor_id": f"act-pupil-{n}", **extra}


def initiative(store, n, town, kind, created_at, status="open"):
    store.initiatives.docs[f"ini-{n}"] = {
        "initiative_id": f"ini-{n}", "kind": kind, "title": f"Titre {n}", "town": town, "created_at": created_at,
        "status": status, "contact_email": f"ini{n}@example.fr"}


@pytest.fixture
def fixtures(store):
    # 2026-03-31 22:30 UTC is 1 April in Paris (summer time): it counts in April.
    request(store, 1, "94080", "testimony", "school", datetime(2026, 3, 2, tzinfo=UTC))
    request(store, 2, "94080", "testimony", "school", datetime(2026, 3, 31, 22, 30, tzinfo=UTC), "fulfilled")
    request(store, 3, "94033", "internship", "pupil", datetime(2026, 4, 10, tzinfo=UTC), "expired",
            keywords="pâtisserie")
    request(store, 4, "94080", "testimony", "school", datetime(2026, 4, 11, tzinfo=UTC), "fulfilled", hidden=True)
    initiative(store, 1, "94080", "initiative", datetime(2026, 3, 5, tzinfo=UTC))
    initiative(store, 2, "94033", "call_for_projects", datetime(2026, 4, 5, tzinfo=UTC), "closed")
    return store


def get(client, auth, query="", who="manager"):
    return client.get(f"{URL}{query}", headers=auth(who))


def test_an_anonymous_caller_gets_a_401_in_french(client, fixtures):
    answer = client.get(URL)
    assert answer.status_code == 401
    assert answer.json["message"] == "Connexion requise."


@pytest.mark.parametrize("who", ["pupil", "referent", "professional", "partner"])
def test_every_other_role_gets_a_403_in_french(client, auth, fixtures, who):
    answer = get(client, auth, who=who)
    assert answer.status_code == 403
    assert answer.json["message"] == "Action réservée aux rôles : gestionnaire de territoire."


def test_the_role_is_checked_before_the_query_string(client, auth, fixtures):
    assert get(client, auth, "?to=bientôt", who="referent").status_code == 403


def test_requests_are_counted_per_town_action_requester_month_and_status(client, auth, fixtures):
    answer = get(client, auth)
    assert answer.status_code == 200, answer.json
    requests = answer.json["requests"]
    assert requests["total"] == 4, "a hidden request still counts"
    assert requests["by_status"] == {"open": 1, "partly_matched": 0, "fulfilled": 2, "cancelled": 0, "expired": 1}
    assert requests["rows"] == [
        {"town": "94080", "action_type": "testimony", "requester_kind": "school", "month": "2026-03",
         "status": "open", "count": 1},
        {"town": "94033", "action_type": "internship", "requester_kind": "pupil", "month": "2026-04",
         "status": "expired", "count": 1},
        {"town": "94080", "action_type": "testimony", "requester_kind": "school", "month": "2026-04",
         "status": "fulfilled", "count": 2},
    ]
    assert answer.json["period"] == {"from": None, "to": None, "months": ["2026-03", "2026-04"]}


def test_initiatives_are_counted_per_town_kind_and_month(client, auth, fixtures):
    initiatives = get(client, auth).json["initiatives"]
    assert initiatives["total"] == 2
    assert initiatives["by_status"] == {"open": 1, "closed": 1}
    assert initiatives["rows"] == [{"town": "94080", "kind": "initiative", "month": "2026-03", "count": 1},
                                   {"town": "94033", "kind": "call_for_projects", "month": "2026-04", "count": 1}]


def test_the_period_and_the_town_select_what_is_counted(client, auth, fixtures):
    body = get(client, auth, "?from=2026-04&to=2026-05&town=94080").json
    assert body["period"] == {"from": "2026-04", "to": "2026-05", "months": ["2026-04", "2026-05"]}
    assert body["town"] == "94080"
    assert body["requests"]["total"] == 2 and body["requests"]["by_status"]["fulfilled"] == 2
    assert body["initiatives"] == {"total": 0, "by_status": {"open": 0, "closed": 0}, "rows": []}


def test_counts_only_nothing_a_request_says_nor_who_made_it(client, auth, fixtures):
    text = get(client, auth).get_data(as_text=True)
    for secret in ("req-1", "act-pupil", "pâtisserie", "0940585A", "Titre", "@example.fr", "ini-1"):
        assert secret not in text


def test_requests_made_through_the_api_are_counted_in_their_month(client, auth, store):
    for kind in ("class_testimony", "job_information"):
        made = client.post("/api/v1/requests", json=PAYLOADS[kind](), headers=auth(POSTER[kind]))
        assert made.status_code == 201, made.json
    rows = get(client, auth).json["requests"]["rows"]
    assert rows == [  # conftest's clock: 27 November 2026; both schools' and pupils' requests
        {"town": "94080", "action_type": "testimony", "requester_kind": "pupil", "month": "2026-11",
         "status": "open", "count": 1},
        {"town": "94080", "action_type": "testimony", "requester_kind": "school", "month": "2026-11",
         "status": "open", "count": 1},
    ]


@pytest.mark.parametrize("query, field, reason", [
    ("?from=2026-00", "from", "Mois invalide : format attendu AAAA-MM"),
    ("?to=mars", "to", "Mois invalide"),
    ("?from=2026-05&to=2026-04", "to", "Le mois de fin (to) doit être le mois de début (from) ou un mois suivant."),
    ("?town=940800", "town", "Code INSEE de commune invalide"),
])
def test_a_bad_query_string_is_a_422_in_french_naming_the_parameter(client, auth, fixtures, query, field, reason):
    answer = get(client, auth, query)
    assert answer.status_code == 422
    assert any(reason in message for message in answer.json["errors"]["query"][field])


def test_the_repositories_ask_for_the_period_and_the_town_with_the_fields_only():
    from unittest.mock import MagicMock

    from vitawin_common.periods import MonthPeriod

    from vitawin_requests.adapters import RequestRepository
    from vitawin_requests.initiatives.adapters import InitiativeRepository
    from vitawin_requests.stats import INITIATIVE_FIELDS, REQUEST_FIELDS

    period = MonthPeriod("2026-01", "2026-03")
    start, end = period.bounds()
    for repository, fields in ((RequestRepository(MagicMock()), REQUEST_FIELDS),
                               (InitiativeRepository(MagicMock()), INITIATIVE_FIELDS)):
        repository.for_stats(period, "94080", fields)
        projection = {"_id": False, **{name: True for name in fields}}
        repository.collection.find.assert_called_once_with(
            {"created_at": {"$gte": start, "$lt": end}, "town": "94080"}, projection, session=None)
        assert [("town", 1), ("created_at", 1)] in repository.indexes, "the town and the period on one index"
    assert "keywords" not in REQUEST_FIELDS and "requester_actor_id" not in REQUEST_FIELDS
