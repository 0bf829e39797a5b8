"""No pupil personal data in any event of the `requests` channel: every event of a pupil's request,
through its whole lifecycle, validates against its contract and carries neither the pupil's actor
id or account, nor the words the pupil typed (keywords, a cancellation reason), nor any e-mail. (The
pupil's actor id travels only on the internal `requesters` channel: test_requester_event.py.)"""
import json
from datetime import datetime, timezone

import pytest

from vitawin_requests import handlers

KEYWORDS = "pâtisserie chez mon oncle Karim"
REASON = "J'ai trouvé seule, merci (Léa, 3e B)"


@pytest.fixture
def pupil_events(client, auth, uow, created, contract_set, the):
    """Every event of pupil requests taken through created, updated, cancelled, fulfilled, expired."""
    information = created("job_information", keywords=KEYWORDS)["request_id"]
    client.patch(f"/api/v1/requests/{information}", json={"max_distance_km": 12}, headers=auth("pupil"))
    client.patch(f"/api/v1/requests/{information}", json={"keywords": KEYWORDS + " !"}, headers=auth("referent"))
    response = client.post(f"/api/v1/requests/{information}/cancel", json={"reason": REASON}, headers=auth("pupil"))
    assert response.status_code == 200 and response.get_json()["cancel_reason"] == REASON  # kept, for its readers

    internship = created("discovery_internship")["request_id"]
    handlers.record_acceptance(uow, internship, "prop-1")

    apprenticeship = created("apprenticeship_search")["request_id"]
    assert handlers.expire_due(uow, datetime(2027, 6, 1, tzinfo=timezone.utc)) >= 1

    ids = {information, internship, apprenticeship}
    events = [event for event, channel in uow.published if event.subject in ids and channel == "requests"]
    assert [event.type.rsplit(".", 2)[-2] for event in events] == [
        "created", "updated", "updated", "cancelled", "created", "fulfilled", "created", "expired"]
    return events


def test_every_pupil_event_validates_against_its_contract(pupil_events, contract_set):
    for event in pupil_events:
        contract_set.validate(event.type, event.data)


def test_no_pupil_event_carries_the_pupil_what_they_typed_or_an_email(pupil_events, the):
    for event in pupil_events:
        text = json.dumps(event.data, ensure_ascii=False)
        for secret in (the.PUPIL_ID, the.LYCEE_PUPIL_ID, "account-pupil", "account-lycee_pupil", "oncle Karim", "Léa"):
            assert secret not in text, (event.type, secret)
        assert "@" not in text, event.type
        assert not {"keywords", "requester_actor_id", "requester_subject", "contact_email", "reason",
                    "cancel_reason"} & set(event.data), event.type


def test_a_pupil_request_is_placed_at_the_school_or_the_town_centre(pupil_events, the, territory):
    places = {(event.data["town"], event.data["location"]["lat"], event.data["location"]["lon"])
              for event in pupil_events if "location" in event.data}
    schools = {(s["town"], s["location"]["lat"], s["location"]["lon"]) for s in the.SCHOOLS.values()}
    centres = {(town.insee, town.centre.lat, town.centre.lon) for town in territory.towns.values()}
    assert places and places <= schools | centres


def test_the_contract_refuses_a_pupil_event_with_keywords_an_actor_id_or_an_email(pupil_events, contract_set):
    created = next(event for event in pupil_events if event.type.endswith("created.v2"))
    for extra in ({"keywords": KEYWORDS}, {"requester_actor_id": "act-x"}, {"contact_email": "lea@example.fr"}):
        with pytest.raises(ValueError):
            contract_set.validate(created.type, {**created.data, **extra})


def test_the_contract_requires_the_referent_contact_on_a_school_request(created, uow, contract_set):
    created("class_testimony")
    [(event, _)] = uow.published
    assert "contact_email" in event.data
    contract_set.validate(event.type, event.data)
    without = {key: value for key, value in event.data.items() if key != "contact_email"}
    with pytest.raises(ValueError):
        contract_set.validate(event.type, without)
