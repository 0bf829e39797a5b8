from datetime import datetime, timezone

import pytest

from vitawin_notify.api import create_app
from vitawin_notify.domain import recipient_hash


@pytest.fixture
def deliveries(uow):
    sent_at = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
    for key, template in (("k1", "proposal_to_volunteer"), ("k2", "proposal_to_requester")):
        uow.deliveries.record_sent(key, proposal_id="prop-1", template=template, event_id="e1",
                                   recipient_hash=recipient_hash("x@example.fr"), sent_at=sent_at)
    return uow.deliveries


def test_the_ops_view_lists_templates_statuses_and_dates_only(deliveries):
    client = create_app(deliveries, ready=lambda: True).test_client()

    response = client.get("/api/v1/notifications/deliveries?proposal_id=prop-1")

    assert response.status_code == 200
    assert sorted(response.json, key=lambda d: d["template"]) == [
        {"template": "proposal_to_requester", "status": "sent", "sent_at": "2026-11-27T09:30:00+00:00"},
        {"template": "proposal_to_volunteer", "status": "sent", "sent_at": "2026-11-27T09:30:00+00:00"},
    ]
    assert client.get("/api/v1/notifications/deliveries?proposal_id=other").json == []


def test_a_missing_proposal_id_is_refused_in_french(deliveries):
    client = create_app(deliveries, ready=lambda: True).test_client()

    response = client.get("/api/v1/notifications/deliveries")

    assert response.status_code == 422
    assert response.json["errors"]["query"]["proposal_id"] == [
        "Indiquez l'identifiant de la proposition (proposal_id)."]


def test_readiness_follows_the_database_and_the_openapi_document_is_served(deliveries):
    client = create_app(deliveries, ready=lambda: False).test_client()

    assert client.get("/readyz").status_code == 503
    assert "/api/v1/notifications/deliveries" in client.get("/openapi.json").json["paths"]
