"""Two matching workers in one consumer group make exactly the proposals one worker would: every
eligible pair once, none twice, none missed, although each worker reads only some partitions of
the volunteers and the requests (each keeps the whole volunteer index from MongoDB)."""
from __future__ import annotations

import re

import pytest
import requests
from pymongo import MongoClient

from support import bearer, eventually, next_school_day, post_pledge, register_school, unique_email
from vitawin_common.territory import Location, distance_km

pytestmark = pytest.mark.integration

# Joinville-le-Pont, a corner no other test uses. Volunteers 0.3 km apart on a north-south line,
# requests (from two schools) on the same line: a pair is eligible within 1 km.
BASE = (48.8180, 2.4700)
VOLUNTEERS = 6
LIMIT_KM = 1.0


def test_two_workers_make_every_eligible_proposal_once(stack):
    stack.scale_workers("matching", 2)  # matching-worker-2, on its own metrics port
    try:
        _run(stack, stack.worker_port("matching", 2))
    finally:
        stack.scale_workers("matching", 1)


def _run(stack, second_port: int):
    gateway, env = f"{stack.gateway_url}/api/v1", stack.env
    mongo = MongoClient(env["MONGODB_URI"], tz_aware=True)
    def second_ready():
        try:
            return requests.get(f"http://127.0.0.1:{second_port}/readyz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False
    eventually(second_ready, timeout=60, message="second matching worker ready")
    # Post only once the group has given partitions to the second worker (a rebalance takes
    # seconds; kafka-python cannot describe Tansu's groups): its lag gauge names a requests
    # partition only once it holds one, and both members join the same generation.
    def second_assigned():
        text = requests.get(f"http://127.0.0.1:{second_port}/metrics").text
        return re.search(r'vitawin_consumer_lag\{[^}]*topic="vitawin.requests"', text)
    eventually(second_assigned, timeout=60, interval=0.5, message="second worker holding a requests partition")

    schools = [register_school(stack.gateway_url, mongo, town="94042",
                               location={"lat": BASE[0] + i * 0.004, "lon": BASE[1]}) for i in range(2)]
    volunteer_places = {}
    for i in range(VOLUNTEERS):
        place = {"lat": BASE[0] - 0.004 + i * 0.0027, "lon": BASE[1]}
        answer = post_pledge(f"{gateway}/volunteers", env, {
            "organisation_name": f"Atelier de Joinville {i}", "contact_email": unique_email("scale"), "town": "94042",
            "location": place, "action_types": ["testimony"], "max_distance_km": LIMIT_KM,
            "actions": {"testimony": {"weekly_contact_cap": 100}}})
        assert answer.status_code == 201, answer.text
        volunteer_places[answer.json()["volunteer_id"]] = place

    day = next_school_day(35).isoformat()
    request_places = {}
    for n in range(20):
        school = schools[n % 2]
        answer = requests.post(f"{gateway}/requests", headers=bearer(
            env, "school_referent", actor_id=school["actor_id"], school_uai=school["uai"]), json={
            "kind": "class_testimony", "date": day, "level": "3e", "professionals_wanted": 5,
            "contact_email": unique_email("scale-referent"), "max_distance_km": LIMIT_KM})
        assert answer.status_code == 201, answer.text
        request_places[answer.json()["request_id"]] = school["location"]

    # Slots (5 wanted + 2) exceed the volunteers in reach: the eligible pairs are all proposed,
    # whatever the order the two workers see the events in.
    expected = {(r, v) for r, rp in request_places.items() for v, vp in volunteer_places.items()
                if distance_km(Location(rp["lat"], rp["lon"]), Location(vp["lat"], vp["lon"])) <= LIMIT_KM}
    assert len(expected) > 20
    proposals = mongo.vitawin_matching.proposals

    def made():
        return proposals.count_documents({"request_id": {"$in": list(request_places)}})
    eventually(lambda: made() >= len(expected), timeout=90, interval=0.5,
               message=f"{len(expected)} proposals from two workers")
    stored = list(proposals.find({"request_id": {"$in": list(request_places)}}))
    assert {(p["request_id"], p["volunteer_id"]) for p in stored} == expected
    assert len(stored) == len(expected), "no pair twice"
    for request_id in request_places:
        ranks = sorted(p["rank"] for p in stored if p["request_id"] == request_id)
        assert ranks == list(range(1, len(ranks) + 1)), "ranks are a sequence per request"

    # Both workers took part: each handled events of its own partitions.
    metrics = [requests.get(f"http://127.0.0.1:{port}/metrics").text
               for port in (env["MATCHING_WORKER_PORT"], second_port)]
    for text in metrics:
        assert re.search(r'vitawin_events_handled_total\{[^}]*outcome="applied"[^}]*\} [1-9]', text)
