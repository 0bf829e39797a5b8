"""The proposals' read API: who sees which (api.visible_scope: a professional its organisation's,
a referent its school's, a territory manager all; anonymous 401, pupils and partners 403 on the
list and 404 on one), filters, limits, French errors, no contact data."""
from datetime import datetime, timezone

import pytest

from vitawin_common import identity
from vitawin_common.identity import TokenIssuer, TokenVerifier

from vitawin_matching.api import create_app
from vitawin_matching.domain import Proposal

CREATED = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
ORG_A, ORG_B = "act-" + "a" * 32, "act-" + "b" * 32
SCHOOL_1, SCHOOL_2 = "0940001W", "0940002X"


class FakeProposalQueries:
    """Proposals with the stored fields the scopes test (volunteer_actor_id, school_uai)."""

    def __init__(self, rows):
        self.rows = {p.proposal_id: (p, stored) for p, stored in rows}
        self.calls = []

    @staticmethod
    def _in(stored, scope):
        return all(stored.get(key) == value for key, value in (scope or {}).items())

    def get(self, proposal_id, scope=None):
        row = self.rows.get(proposal_id)
        return row[0] if row and self._in(row[1], scope) else None

    def list(self, request_id, volunteer_id, limit, scope=None):
        self.calls.append((request_id, volunteer_id, limit, scope))
        found = [p for p, stored in self.rows.values() if self._in(stored, scope)
                 and request_id in (None, p.request_id) and volunteer_id in (None, p.volunteer_id)]
        return found[:limit]


@pytest.fixture
def queries():
    return FakeProposalQueries([
        (Proposal("prop-1", "req-1", "vol-a", "testimony", 1.2, 1, CREATED), {"volunteer_actor_id": ORG_A, "school_uai": SCHOOL_1}),
        (Proposal("prop-2", "req-1", "vol-b", "testimony", 3.4, 2, CREATED), {"volunteer_actor_id": ORG_B, "school_uai": SCHOOL_1}),
        (Proposal("prop-3", "req-2", "vol-a", "internship", 0.5, 1, CREATED), {"volunteer_actor_id": ORG_A, "school_uai": SCHOOL_2}),
    ])


@pytest.fixture(scope="module")
def keys():
    return identity.generate_keys()


@pytest.fixture
def client(queries, keys):
    app = create_app(proposals=queries, ready=lambda: True)
    identity.init_app(app, TokenVerifier(keys[1]))
    return app.test_client()


def as_(keys, role, **claims):
    return {"Authorization": f"Bearer {TokenIssuer(keys[0]).issue('acc-1', role, **claims)}"}


def ids(response):
    return [p["proposal_id"] for p in response.json]


def test_list_filters_by_request(client, queries, keys):
    response = client.get("/api/v1/proposals?request_id=req-1", headers=as_(keys, "territory_manager"))
    assert response.status_code == 200
    assert ids(response) == ["prop-1", "prop-2"]
    assert queries.calls == [("req-1", None, 50, {})]


def test_list_filters_by_volunteer_with_a_limit(client, queries, keys):
    response = client.get("/api/v1/proposals?volunteer_id=vol-a&limit=1", headers=as_(keys, "territory_manager"))
    assert response.status_code == 200
    assert ids(response) == ["prop-1"]
    assert queries.calls == [(None, "vol-a", 1, {})]


def test_a_professional_sees_its_organisation_s_proposals_and_a_referent_its_school_s(client, keys):
    assert ids(client.get("/api/v1/proposals", headers=as_(keys, "professional", actor_id=ORG_A))) == [
        "prop-1", "prop-3"]
    assert ids(client.get("/api/v1/proposals?request_id=req-1",
                          headers=as_(keys, "professional", actor_id=ORG_B))) == ["prop-2"]
    assert ids(client.get("/api/v1/proposals", headers=as_(keys, "school_referent", school_uai=SCHOOL_2))) == [
        "prop-3"]
    assert client.get("/api/v1/proposals/prop-3", headers=as_(keys, "professional", actor_id=ORG_B)).status_code == 404
    assert client.get("/api/v1/proposals/prop-3",
                      headers=as_(keys, "school_referent", school_uai=SCHOOL_2)).status_code == 200


@pytest.mark.parametrize("role, claims, status", [
    (None, {}, 401), ("pupil", {"school_uai": SCHOOL_1, "actor_id": "act-" + "c" * 32}, 403),
    ("partner", {}, 403), ("professional", {}, 403), ("school_referent", {}, 403)])
def test_anyone_else_cannot_list_proposals(client, queries, keys, role, claims, status):
    response = client.get("/api/v1/proposals", headers=as_(keys, role, **claims) if role else {})
    assert response.status_code == status and response.json["message"]
    assert queries.calls == []
    one = client.get("/api/v1/proposals/prop-1", headers=as_(keys, role, **claims) if role else {})
    assert one.status_code == (401 if role is None else 404)


def test_list_rejects_a_limit_out_of_range_in_french(client, queries, keys):
    response = client.get("/api/v1/proposals?limit=0", headers=as_(keys, "territory_manager"))
    assert response.status_code == 422
    assert response.json["errors"]["query"]["limit"] == ["Doit être compris entre 1 et 200."]
    assert queries.calls == []


def test_get_returns_the_proposal_without_contact_data(client, keys):
    response = client.get("/api/v1/proposals/prop-2", headers=as_(keys, "professional", actor_id=ORG_B))
    assert response.status_code == 200
    assert response.json == {"proposal_id": "prop-2", "request_id": "req-1", "volunteer_id": "vol-b",
                             "action_type": "testimony", "distance_km": 3.4, "rank": 2,
                             "created_at": "2026-11-27T09:30:00+00:00", "score": None, "reasons": [],
                             "status": "pending", "deadline": None}
    assert "contact_email" not in response.get_data(as_text=True)


def test_get_unknown_proposal_is_404_in_french(client, keys):
    response = client.get("/api/v1/proposals/prop-nope", headers=as_(keys, "territory_manager"))
    assert response.status_code == 404
    assert response.json["code"] == 404
    assert response.json["message"] == "Proposition introuvable."


def test_openapi_document_and_readiness(queries):
    app = create_app(proposals=queries, ready=lambda: False)
    client = app.test_client()
    assert "/api/v1/proposals/{proposal_id}" in client.get("/openapi.json").json["paths"]
    assert client.get("/readyz").status_code == 503
