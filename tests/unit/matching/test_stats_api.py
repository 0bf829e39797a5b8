"""GET /api/v1/proposals/stats, the territory's dashboard figures of matching: territory managers
only (anonymous 401, every other role 403, French), proposals per town (their request's, from
matching's read model), action type, month (Paris time) and status, the answer and acceptance
rates and the median time to answer, for the territory and per town, the period and town filters,
and the bad query strings (422 in French). Over a fake source with `MongoProposalStats`' two
reads (the proposals of a period, the towns of the requests)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from vitawin_common import identity
from vitawin_common.identity import TokenIssuer, TokenVerifier

from vitawin_matching.api import create_app
from vitawin_matching.stats import PROPOSAL_FIELDS

URL = "/api/v1/proposals/stats"
UTC = timezone.utc
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


class FakeStatsSource:
    def __init__(self, proposals, towns):
        self.proposals, self.towns = proposals, towns
        self.asked = []

    def proposals_in(self, period, fields):
        self.asked.append((period, tuple(fields)))
        return [{name: doc[name] for name in fields if name in doc} for doc in self.proposals
                if period.contains(doc.get("created_at"))]

    def request_towns(self, town=None):
        return {rid: t for rid, t in self.towns.items() if town in (None, t)}


def proposal(n, request_id, action_type, created_at, status=None, answered_after=None, closed_after=None):
    doc = {"_id": f"prop-{n}", "request_id": request_id, "volunteer_id": f"vol-{n}", "action_type": action_type,
           "created_at": created_at, "school_uai": "0940585A", "volunteer_actor_id": f"act-{n}"}
    if status:
        doc["status"] = status
    if answered_after is not None:
        doc["answered_at"] = created_at + answered_after
    if closed_after is not None:
        doc["closed_at"] = created_at + closed_after
    return doc


@pytest.fixture
def source():
    h = lambda hours: timedelta(hours=hours)  # noqa: E731
    return FakeStatsSource([
        proposal(1, "req-a", "testimony", T0, "accepted", answered_after=h(10), closed_after=h(10)),
        proposal(2, "req-a", "testimony", T0, "declined", answered_after=h(30), closed_after=h(30)),
        proposal(3, "req-a", "testimony", T0, "expired", closed_after=h(168)),
        proposal(4, "req-b", "internship", T0 + h(24), "awaiting_confirmation", answered_after=h(2)),
        proposal(5, "req-b", "internship", T0 + h(25), "declined", closed_after=h(4)),  # the school first
        proposal(6, "req-c", "testimony", datetime(2026, 3, 31, 22, 30, tzinfo=UTC)),  # no status: pending (April)
        proposal(7, "req-gone", "mentoring", datetime(2026, 4, 2, tzinfo=UTC), "pending"),
    ], {"req-a": "94080", "req-b": "94033", "req-c": "94080"})


@pytest.fixture(scope="module")
def keys():
    return identity.generate_keys()


@pytest.fixture
def client(source, keys):
    app = create_app(proposals=object(), ready=lambda: True, uow_factory=lambda: None, stats=source)
    identity.init_app(app, TokenVerifier(keys[1]))
    return app.test_client()


def get(client, keys, query="", role="territory_manager"):
    token = TokenIssuer(keys[0]).issue("acc-1", role)
    return client.get(f"{URL}{query}", headers={"Authorization": f"Bearer {token}"})


def test_an_anonymous_caller_gets_a_401_in_french(client):
    answer = client.get(URL)
    assert answer.status_code == 401
    assert answer.json["message"] == "Connexion requise."


@pytest.mark.parametrize("role", ["pupil", "school_referent", "professional", "partner"])
def test_every_other_role_gets_a_403_in_french(client, keys, role):
    answer = get(client, keys, role=role)
    assert answer.status_code == 403
    assert answer.json["message"] == "Action réservée aux rôles : gestionnaire de territoire."


def test_proposals_are_counted_per_town_action_month_and_status(client, keys, source):
    answer = get(client, keys)
    assert answer.status_code == 200, answer.json
    proposals = answer.json["proposals"]
    assert proposals["total"] == 7
    assert proposals["by_status"] == {"pending": 2, "awaiting_confirmation": 1, "accepted": 1, "declined": 2,
                                      "expired": 1}
    assert proposals["rows"] == [
        {"town": "94033", "action_type": "internship", "month": "2026-03", "status": "awaiting_confirmation",
         "count": 1},
        {"town": "94033", "action_type": "internship", "month": "2026-03", "status": "declined", "count": 1},
        {"town": "94080", "action_type": "testimony", "month": "2026-03", "status": "accepted", "count": 1},
        {"town": "94080", "action_type": "testimony", "month": "2026-03", "status": "declined", "count": 1},
        {"town": "94080", "action_type": "testimony", "month": "2026-03", "status": "expired", "count": 1},
        {"town": "94080", "action_type": "testimony", "month": "2026-04", "status": "pending", "count": 1},
        {"town": None, "action_type": "mentoring", "month": "2026-04", "status": "pending", "count": 1},
    ]
    assert answer.json["period"] == {"from": None, "to": None, "months": ["2026-03", "2026-04"]}
    assert source.asked[0][1] == PROPOSAL_FIELDS


def test_answer_and_acceptance_rates_and_the_median_time_to_answer(client, keys):
    rates = get(client, keys).json["proposals"]["rates"]
    # answered: 1 accepted, 2 declined, 1 awaiting confirmation = 4 of 7; accepted 1 of 4;
    # first answers after 10, 30, 2 and 4 hours (the school's refusal): median 7.
    assert {k: rates[k] for k in ("proposed", "answered", "accepted", "answer_rate", "acceptance_rate",
                                  "median_answer_hours")} == {
        "proposed": 7, "answered": 4, "accepted": 1, "answer_rate": 0.5714, "acceptance_rate": 0.25,
        "median_answer_hours": 7.0}
    assert rates["by_town"] == [
        {"town": "94033", "proposed": 2, "answered": 2, "accepted": 0, "answer_rate": 1.0, "acceptance_rate": 0.0,
         "median_answer_hours": 3.0},
        {"town": "94080", "proposed": 4, "answered": 2, "accepted": 1, "answer_rate": 0.5, "acceptance_rate": 0.5,
         "median_answer_hours": 20.0},
        {"town": None, "proposed": 1, "answered": 0, "accepted": 0, "answer_rate": 0.0, "acceptance_rate": None,
         "median_answer_hours": None},  # a request matching does not know: no town
    ]


def test_the_period_and_the_town_select_what_is_counted(client, keys):
    body = get(client, keys, "?from=2026-04&to=2026-04&town=94080").json
    assert body["period"] == {"from": "2026-04", "to": "2026-04", "months": ["2026-04"]}
    assert body["town"] == "94080"
    assert body["proposals"]["rows"] == [
        {"town": "94080", "action_type": "testimony", "month": "2026-04", "status": "pending", "count": 1}]
    assert body["proposals"]["rates"]["answer_rate"] == 0.0
    nothing = get(client, keys, "?from=2025-01&to=2025-02").json["proposals"]
    assert nothing["total"] == 0 and nothing["rates"]["answer_rate"] is None and nothing["rates"]["by_town"] == []


def test_counts_only_no_id_leaves(client, keys):
    text = get(client, keys).get_data(as_text=True)
    for secret in ("prop-1", "req-a", "vol-1", "act-1", "0940585A"):
        assert secret not in text


@pytest.mark.parametrize("query, field, reason", [
    ("?from=26-01", "from", "Mois invalide : format attendu AAAA-MM"),
    ("?from=2026-05&to=2026-04", "to", "Le mois de fin (to) doit être le mois de début (from) ou un mois suivant."),
    ("?town=94", "town", "Code INSEE de commune invalide"),
])
def test_a_bad_query_string_is_a_422_in_french_naming_the_parameter(client, keys, query, field, reason):
    answer = get(client, keys, query)
    assert answer.status_code == 422
    assert any(reason in message for message in answer.json["errors"]["query"][field])


def test_stats_is_not_read_as_a_proposal_id(client, keys):
    """/api/v1/proposals/<id> is a neighbour: "stats" is this endpoint, never a proposal."""
    assert "proposals" in get(client, keys).json


def test_the_mongo_source_reads_the_period_s_proposals_and_the_requests_towns():
    from unittest.mock import MagicMock

    from vitawin_common.periods import MonthPeriod

    from vitawin_matching.adapters import MongoProposalStats

    db = {"proposals": MagicMock(), "requests": MagicMock()}
    source = MongoProposalStats(db)
    period = MonthPeriod("2026-03")
    source.proposals_in(period, PROPOSAL_FIELDS)
    db["proposals"].find.assert_called_once_with({"created_at": {"$gte": period.bounds()[0]}},
                                                 {"_id": False, **{name: True for name in PROPOSAL_FIELDS}})
    db["requests"].find.return_value = [{"_id": "req-a", "town": "94080"}, {"_id": "req-x"}]
    assert source.request_towns() == {"req-a": "94080", "req-x": None}
    db["requests"].find.assert_called_with({}, {"_id": True, "town": True})
    db["requests"].find.return_value = [{"_id": "req-a"}]
    assert source.request_towns("94080") == {"req-a": "94080"}
    db["requests"].find.assert_called_with({"town": "94080"}, {"_id": True})
