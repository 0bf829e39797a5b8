from datetime import datetime, timezone

import pytest

from vitawin_matching.api import create_app
from vitawin_matching.domain import Proposal

CREATED = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)


class FakeProposalQueries:
    def __init__(self, proposals):
        self.proposals = {p.proposal_id: p for p in proposals}
        self.calls = []

    def get(self, proposal_id):
        return self.proposals.get(proposal_id)

    def list(self, request_id, volunteer_id, limit):
        self.calls.append((request_id, volunteer_id, limit))
        found = [p for p in self.proposals.values()
                 if request_id in (None, p.request_id) and volunteer_id in (None, p.volunteer_id)]
        return found[:limit]


@pytest.fixture
def queries():
    return FakeProposalQueries([
        Proposal("prop-1", "req-1", "vol-a", "testimony", 1.2, 1, CREATED),
        Proposal("prop-2", "req-1", "vol-b", "testimony", 3.4, 2, CREATED),
        Proposal("prop-3", "req-2", "vol-a", "internship", 0.5, 1, CREATED),
    ])


@pytest.fixture
def client(queries):
    return create_app(proposals=queries, ready=lambda: True).test_client()


def test_list_filters_by_request(client, queries):
    response = client.get("/api/v1/proposals?request_id=req-1")
    assert response.status_code == 200
    assert [p["proposal_id"] for p in response.json] == ["prop-1", "prop-2"]
    assert queries.calls == [("req-1", None, 50)]


def test_list_filters_by_volunteer_with_a_limit(client, queries):
    response = client.get("/api/v1/proposals?volunteer_id=vol-a&limit=1")
    assert response.status_code == 200
    assert [p["proposal_id"] for p in response.json] == ["prop-1"]
    assert queries.calls == [(None, "vol-a", 1)]


def test_list_rejects_a_limit_out_of_range_in_french(client, queries):
    response = client.get("/api/v1/proposals?limit=0")
    assert response.status_code == 422
    assert response.json["errors"]["query"]["limit"] == ["Doit être compris entre 1 et 200."]
    assert queries.calls == []


def test_get_returns_the_proposal_without_contact_data(client):
    response = client.get("/api/v1/proposals/prop-2")
    assert response.status_code == 200
    assert response.json == {"proposal_id": "prop-2", "request_id": "req-1", "volunteer_id": "vol-b",
                             "action_type": "testimony", "distance_km": 3.4, "rank": 2,
                             "created_at": "2026-11-27T09:30:00+00:00", "score": None, "reasons": [],
                             "status": "pending", "deadline": None}
    assert "contact_email" not in response.get_data(as_text=True)


def test_get_unknown_proposal_is_404_in_french(client):
    response = client.get("/api/v1/proposals/prop-nope")
    assert response.status_code == 404
    assert response.json["code"] == 404
    assert response.json["message"] == "Proposition introuvable."


def test_openapi_document_and_readiness(queries):
    app = create_app(proposals=queries, ready=lambda: False)
    client = app.test_client()
    assert "/api/v1/proposals/{proposal_id}" in client.get("/openapi.json").json["paths"]
    assert client.get("/readyz").status_code == 503
