"""Answers to proposals end to end, through the gateway, on the real broker and database: a
professional declines and the next candidate is proposed; another accepts, the request is
fulfilled by the requests service and closed in matching."""
from __future__ import annotations

import json

import pytest
import requests
from pymongo import MongoClient

from support import (bearer, eventually, headers, next_school_day, post_pledge, read_topic, register_organisation,
                     register_school, unique_email)
from vitawin_common.contracts import load

pytestmark = pytest.mark.integration

SPOT = {"lat": 48.8040, "lon": 2.4700}  # Saint-Maur-des-Fossés, west: no other test goes there


def test_a_decline_brings_the_next_candidate_and_an_acceptance_fulfils_the_request(stack):
    gateway, env = f"{stack.gateway_url}/api/v1", stack.env
    mongo = MongoClient(env["MONGODB_URI"], tz_aware=True)
    pros = {}
    for i, offset in enumerate((0.001, 0.002, 0.003, 0.004)):  # nearest first
        actor_id = register_organisation(stack.gateway_url, f"Imprimerie du Port {i}", town="94068", location=SPOT)
        answer = post_pledge(f"{gateway}/volunteers", env, {
            "organisation_name": f"Imprimerie du Port {i}", "contact_email": unique_email("pro"), "actor_id": actor_id,
            "town": "94068", "location": {"lat": SPOT["lat"] + offset, "lon": SPOT["lon"]},
            "action_types": ["testimony"], "max_distance_km": 1})
        assert answer.status_code == 201, answer.text
        pros[answer.json()["volunteer_id"]] = actor_id
    eventually(lambda: mongo.vitawin_matching.volunteers.count_documents({"_id": {"$in": list(pros)}}) == 4,
               message="the four pledges in matching")

    school = register_school(stack.gateway_url, mongo, town="94068", location=SPOT)
    referent = bearer(env, "school_referent", actor_id=school["actor_id"], school_uai=school["uai"])
    answer = requests.post(f"{gateway}/requests", headers=referent, json={
        "kind": "class_testimony", "date": next_school_day(10).isoformat(), "level": "3e",
        "professionals_wanted": 1, "contact_email": unique_email("referent"), "max_distance_km": 1})
    assert answer.status_code == 201, answer.text
    request_id = answer.json()["request_id"]

    def proposals():
        return requests.get(f"{gateway}/proposals", params={"request_id": request_id}, headers=referent).json()
    # Three proposals at a time (MATCHING_TOP_K): the three nearest.
    listed = eventually(lambda: proposals() if len(proposals()) == 3 else None, message="three proposals")
    first, second, third = sorted(listed, key=lambda p: p["rank"])
    assert all(0 < p["score"] <= 1 and p["reasons"][0].startswith("à ") for p in listed), listed
    assert [p["status"] for p in listed] == ["pending"] * 3
    pro_of = lambda p: bearer(env, "professional", actor_id=pros[p["volunteer_id"]])  # noqa: E731

    # A stranger cannot tell the proposal exists; its professional declines it.
    stranger = bearer(env, "professional", actor_id="act-" + "0" * 32)
    assert requests.post(f"{gateway}/proposals/{first['proposal_id']}/decline", headers=stranger).status_code == 404
    answer = requests.post(f"{gateway}/proposals/{first['proposal_id']}/decline", headers=pro_of(first))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "declined"
    listed = eventually(lambda: proposals() if len(proposals()) == 4 else None, message="the next candidate")
    fourth = max(listed, key=lambda p: p["rank"])
    assert fourth["rank"] == 4 and fourth["volunteer_id"] not in {first["volunteer_id"], second["volunteer_id"],
                                                                   third["volunteer_id"]}

    # The other accepts: a school's request needs no confirmation; the request is fulfilled.
    answer = requests.post(f"{gateway}/proposals/{second['proposal_id']}/accept", headers=pro_of(second))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "accepted"
    eventually(lambda: requests.get(f"{gateway}/requests/{request_id}", headers=referent).json()["status"] == "fulfilled",
               timeout=30, message="request fulfilled")
    eventually(lambda: (mongo.vitawin_matching.requests.find_one({"_id": request_id}) or {}).get("status") == "closed",
               timeout=30, message="request closed in matching")

    contracts = load(env["CONTRACTS_DIR"])
    ids = {p["proposal_id"] for p in (first, second, third, fourth)}
    mine = lambda rs: [r for r in rs if (r.key or b"").decode() in ids]  # noqa: E731
    records = mine(read_topic(env["KAFKA_BOOTSTRAP_SERVERS"], contracts.topic("proposals"),
                              stop=lambda rs: len(mine(rs)) >= 6, timeout=30))
    by_type = sorted((headers(r)["ce_type"], r.key.decode()) for r in records)
    assert by_type == sorted([("fr.vitawin.proposal.created.v1", p["proposal_id"])
                              for p in (first, second, third, fourth)]
                             + [("fr.vitawin.proposal.declined.v1", first["proposal_id"]),
                                ("fr.vitawin.proposal.accepted.v1", second["proposal_id"])])
    for record in records:
        contracts.validate(headers(record)["ce_type"], json.loads(record.value))
