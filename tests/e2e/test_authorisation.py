"""Who may do what, through the gateway, on the real stack: each role against the endpoints that
read or change what it does not own (issue 7: the gateway authenticates, each service authorises
its objects). One world: two organisations with a pledge each, two schools, a request of school A
that got a proposal for organisation A's pledge. Each row says the status every caller gets, and
refused changes are checked to have changed nothing. Pledge changes have their own matrix in
tests/unit/actors and tests/e2e/test_pledges.py."""
from __future__ import annotations

import pytest
import requests
from pymongo import MongoClient

from support import (bearer, eventually, next_school_day, post_pledge, register_organisation, register_school,
                     unique_email)

pytestmark = pytest.mark.integration

SPOT = {"lat": 48.8330, "lon": 2.3980}  # Saint-Mandé (94067), south: no other test goes there
FAR = {"lat": 48.8262, "lon": 2.5452}  # Villiers-sur-Marne (94079)
TOWN = {"A": "94067", "B": "94079"}
CALLERS = ("anonymous", "pupil", "partner", "professional A", "professional B", "referent A", "referent B",
           "territory manager")


@pytest.fixture(scope="module")
def world(stack):
    api, env = f"{stack.gateway_url}/api/v1", stack.env
    mongo = MongoClient(env["MONGODB_URI"], tz_aware=True)
    orgs = {}
    for label, place in (("A", SPOT), ("B", FAR)):
        actor_id = register_organisation(stack.gateway_url, f"Atelier {label}", town=TOWN[label], location=place)
        pledge = post_pledge(f"{api}/volunteers", env, {
            "organisation_name": f"Atelier {label}", "contact_email": unique_email("pro"), "actor_id": actor_id,
            "town": TOWN[label], "location": place, "action_types": ["testimony"], "max_distance_km": 2})
        assert pledge.status_code == 201, pledge.text
        orgs[label] = actor_id
    schools = {label: register_school(stack.gateway_url, mongo, town=TOWN[label], location=place)
               for label, place in (("A", SPOT), ("B", FAR))}
    callers = {
        "anonymous": {},
        "pupil": bearer(env, "pupil", actor_id="act-" + "9" * 32, school_uai=schools["A"]["uai"]),
        "partner": bearer(env, "partner"),
        "professional A": bearer(env, "professional", actor_id=orgs["A"]),
        "professional B": bearer(env, "professional", actor_id=orgs["B"]),
        "referent A": bearer(env, "school_referent", actor_id=schools["A"]["actor_id"], school_uai=schools["A"]["uai"]),
        "referent B": bearer(env, "school_referent", actor_id=schools["B"]["actor_id"], school_uai=schools["B"]["uai"]),
        "territory manager": bearer(env, "territory_manager"),
    }
    made = requests.post(f"{api}/requests", headers=callers["referent A"], json={
        "kind": "class_testimony", "date": next_school_day(12).isoformat(), "level": "3e",
        "professionals_wanted": 1, "contact_email": unique_email("referent"), "max_distance_km": 2})
    assert made.status_code == 201, made.text
    request_id = made.json()["request_id"]
    proposal = eventually(lambda: mongo.vitawin_matching.proposals.find_one({"request_id": request_id}),
                          message="the proposal of school A's request")
    assert proposal["volunteer_actor_id"] == orgs["A"]
    yield {"api": api, "callers": callers, "request_id": request_id, "proposal_id": proposal["_id"], "mongo": mongo}
    mongo.close()


def statuses(world, method: str, path: str, **kwargs) -> dict[str, int]:
    return {name: requests.request(method, f"{world['api']}{path}", headers=headers, **kwargs).status_code
            for name, headers in world["callers"].items()}


def test_proposals_are_read_by_their_professional_their_school_and_territory_managers(world):
    assert statuses(world, "GET", f"/proposals/{world['proposal_id']}") == {
        "anonymous": 401, "pupil": 404, "partner": 404, "professional A": 200, "professional B": 404,
        "referent A": 200, "referent B": 404, "territory manager": 200}
    assert statuses(world, "GET", "/proposals", params={"request_id": world["request_id"]}) == {
        "anonymous": 401, "pupil": 403, "partner": 403, "professional A": 200, "professional B": 200,
        "referent A": 200, "referent B": 200, "territory manager": 200}
    seen = {name: [p["proposal_id"] for p in requests.get(f"{world['api']}/proposals", headers=headers,
                                                          params={"request_id": world["request_id"]}).json()]
            for name, headers in world["callers"].items() if name in ("professional A", "professional B",
                                                                       "referent A", "referent B", "territory manager")}
    mine = [world["proposal_id"]]
    assert seen == {"professional A": mine, "professional B": [], "referent A": mine, "referent B": [],
                    "territory manager": mine}


def test_only_the_parties_answer_a_proposal_and_a_refusal_changes_nothing(world):
    before = world["mongo"].vitawin_matching.proposals.find_one({"_id": world["proposal_id"]})
    outsiders = {name: headers for name, headers in world["callers"].items()
                 if name not in ("professional A", "referent A")}
    refused = {name: requests.post(f"{world['api']}/proposals/{world['proposal_id']}/decline", headers=headers
                                   ).status_code for name, headers in outsiders.items()}
    assert refused == {"anonymous": 401, "pupil": 403, "partner": 403, "professional B": 404, "referent B": 404,
                       "territory manager": 403}
    after = world["mongo"].vitawin_matching.proposals.find_one({"_id": world["proposal_id"]})
    assert (after["status"], after["version"]) == (before["status"], before["version"])


def test_requests_are_posted_by_schools_and_pupils_and_changed_by_their_school(world):
    body = {"kind": "class_testimony", "date": next_school_day(15).isoformat(), "level": "3e",
            "professionals_wanted": 1, "contact_email": unique_email("matrix")}
    posted = statuses(world, "POST", "/requests", json=body)
    assert {name: code for name, code in posted.items() if name not in ("referent A", "referent B")} == {
        "anonymous": 401, "pupil": 403, "partner": 403, "professional A": 403, "professional B": 403,
        "territory manager": 403}
    assert posted["referent A"] == posted["referent B"] == 201
    version = world["mongo"].vitawin_requests.requests.find_one({"_id": world["request_id"]})["version"]
    changed = statuses(world, "PATCH", f"/requests/{world['request_id']}", json={"class_size": 30})
    assert {name: code for name, code in changed.items() if name != "referent A"} == {
        "anonymous": 401, "pupil": 403, "partner": 403, "professional A": 403, "professional B": 403,
        "referent B": 403, "territory manager": 403}
    assert changed["referent A"] == 200
    assert world["mongo"].vitawin_requests.requests.find_one({"_id": world["request_id"]})["version"] == version + 1


def test_a_person_s_notifications_are_for_territory_managers_only(world):
    assert statuses(world, "GET", "/notifications/deliveries", params={"proposal_id": world["proposal_id"]}) == {
        "anonymous": 401, "pupil": 403, "partner": 403, "professional A": 403, "professional B": 403,
        "referent A": 403, "referent B": 403, "territory manager": 200}


def test_api_keys_are_managed_by_territory_managers_only(world):
    listed = statuses(world, "GET", "/auth/api-keys")
    assert listed == {"anonymous": 401, "pupil": 403, "partner": 403, "professional A": 403, "professional B": 403,
                      "referent A": 403, "referent B": 403, "territory manager": 200}
    made = statuses(world, "POST", "/auth/api-keys", json={"name": "Matrice", "role": "partner"})
    assert made == {**listed, "territory manager": 201}
