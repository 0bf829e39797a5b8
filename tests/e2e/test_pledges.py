"""A pledge's lifecycle through the gateway: its events reach Kafka in order, on one key, and
matching follows them. The pledge belongs to an organisation of the directory; its professional
(a token with that actor_id) registers it (the organisation taken from the token), edits, pauses
and withdraws it; an anonymous caller and a professional of another organisation are refused and
store and publish nothing (the full matrix of who may register and change a pledge is in
tests/unit/actors/test_pledge_access.py)."""
from __future__ import annotations

import pytest
import requests
from pymongo import MongoClient

from support import bearer, eventually, read_topic, register_organisation, unique_email
from vitawin_common.contracts import load
from vitawin_common.events import from_record

pytestmark = pytest.mark.integration


PLACE = {"lat": 48.8150, "lon": 2.5100}  # Champigny-sur-Marne (94017)


def test_a_pledge_edited_paused_and_withdrawn_publishes_its_events_in_order_and_matching_follows(stack):
    api = f"{stack.gateway_url}/api/v1/volunteers"
    garage = {"town": "94017", "location": PLACE, "naf_code": "45.20A"}
    actor_id = register_organisation(stack.gateway_url, "Garage du Tremblay", **garage)
    professional = bearer(stack.env, "professional", actor_id=actor_id)
    stranger = bearer(stack.env, "professional",
                      actor_id=register_organisation(stack.gateway_url, "Carrosserie du Bois", **garage))
    body = {
        "organisation_name": "Garage du Tremblay", "contact_email": unique_email("garage"),
        "town": "94017", "location": PLACE,
        "action_types": ["internship", "apprenticeship"],
        "actions": {"internship": {"rome_codes": ["I1604"], "audience": "college", "levels": ["3e"],
                                   "periods": ["2027-W04"], "capacity_per_period": 2},
                    "apprenticeship": {"diplomas": ["CAP"], "places": 1}}}
    anonymous = requests.post(api, json={**body, "actor_id": actor_id})
    assert anonymous.status_code == 401 and anonymous.json()["message"] == "Connexion requise.", anonymous.text
    assert requests.post(api, json={**body, "actor_id": actor_id}, headers=stranger).status_code == 403
    actors = MongoClient(stack.env["MONGODB_URI"]).vitawin_actors
    assert actors.volunteers.count_documents({"actor_id": actor_id}) == 0, "a refused registration stored a pledge"

    answer = requests.post(api, json=body, headers=professional)  # its organisation: the token's
    assert answer.status_code == 201, answer.text
    pledge = answer.json()
    vid = pledge["volunteer_id"]
    assert pledge["actor_id"] == actor_id
    assert pledge["actions"]["internship"]["rome_jobs"][0]["code"] == "I1604"

    anonymous = requests.patch(f"{api}/{vid}", json={"max_distance_km": 12})
    assert anonymous.status_code == 401 and anonymous.json()["message"] == "Connexion requise.", anonymous.text
    assert requests.post(f"{api}/{vid}/pause", headers=stranger).status_code == 403
    assert requests.delete(f"{api}/{vid}", headers=stranger).status_code == 403

    assert requests.patch(f"{api}/{vid}", json={"max_distance_km": 12}, headers=professional).status_code == 200
    assert requests.post(f"{api}/{vid}/pause", headers=professional).status_code == 200
    assert requests.delete(f"{api}/{vid}", headers=professional).status_code == 204
    assert requests.delete(f"{api}/{vid}", headers=professional).status_code == 409

    contracts = load(stack.env["CONTRACTS_DIR"])
    def mine(records):
        return [r for r in records if r.key == vid.encode()]
    records = mine(read_topic(stack.env["KAFKA_BOOTSTRAP_SERVERS"], contracts.topic("volunteers"),
                              stop=lambda rs: len(mine(rs)) >= 4, timeout=30))
    events = [from_record(r.key, r.value, r.headers) for r in records]
    for event in events:
        contracts.validate(event.type, event.data)
    assert [e.type.split(".")[3] for e in events] == ["registered", "updated", "updated", "withdrawn"]
    assert [e.data["version"] for e in events] == [1, 2, 3, 4]
    assert events[2].data["status"] == "paused"
    assert len({r.partition for r in records}) == 1, "one key, one partition, one order"

    matching = MongoClient(stack.env["MONGODB_URI"]).vitawin_matching
    eventually(lambda: (matching.volunteers.find_one({"_id": vid}) or {}).get("status") == "withdrawn",
               message="matching marks the volunteer withdrawn")
