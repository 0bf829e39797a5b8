"""SIGKILL of the matching worker in the middle of a stream of 100 requests: after a restart every
expected proposal exists exactly once, and every party gets exactly one email per proposal."""
from __future__ import annotations

import json
import re
import time
from collections import Counter

import pytest
import requests
from pymongo import MongoClient

from support import (bearer, eventually, headers, mails, next_school_day, post_pledge, read_topic, register_school,
                     unique_email)
from vitawin_common.contracts import load

pytestmark = pytest.mark.integration

# Each volunteer gets one proposal per request: at most 100 a week (the pledge's weekly contact
# cap, whose maximum is 100), hence 100 requests.
REQUESTS = 100
# A spot of Saint-Maur-des-Fossés that no other test uses: the volunteers' distance limit is 0.5 km.
LAT, LON, TOWN = 48.7935, 2.4930, "94068"


def test_sigkill_of_the_matching_worker_mid_stream_loses_nothing_and_duplicates_nothing(stack):
    gateway, mongo = stack.gateway_url, MongoClient(stack.env["MONGODB_URI"], tz_aware=True)
    matching = mongo.vitawin_matching
    pros = [unique_email("crash-pro") for _ in range(2)]
    volunteer_ids = []
    for i, email in enumerate(pros):
        answer = post_pledge(f"{gateway}/api/v1/volunteers", stack.env, {
            "organisation_name": f"Imprimerie Saint-Maur {i}", "contact_email": email, "town": TOWN,
            "location": {"lat": LAT + i * 0.0005, "lon": LON}, "action_types": ["intervention"],
            "actions": {"intervention": {"weekly_contact_cap": 100}},
            "max_distance_km": 0.5})
        assert answer.status_code == 201, answer.text
        volunteer_ids.append(answer.json()["volunteer_id"])
    eventually(lambda: matching.volunteers.count_documents({"_id": {"$in": volunteer_ids}}) == 2,
               message="both volunteers in matching's read model")

    # One school at the spot; each of its 200 requests (class interventions) has its own referent
    # address. Top k is 3 and only 2 volunteers are in reach: each request gets both.
    school = register_school(gateway, mongo, town=TOWN, location={"lat": LAT, "lon": LON})
    session = requests.Session()
    session.headers.update(bearer(stack.env, "school_referent", actor_id=school["actor_id"], school_uai=school["uai"]))
    day = next_school_day().isoformat()
    request_ids, referents = [], {}

    def post_requests(numbers):
        for i in numbers:
            email = unique_email("crash-referent")
            answer = session.post(f"{gateway}/api/v1/requests", json={
                "kind": "class_intervention", "topic": f"Les métiers de l'imprimerie ({i})", "date": day,
                "level": "3e", "contact_email": email, "max_distance_km": 1})
            assert answer.status_code == 201, answer.text
            request_ids.append(answer.json()["request_id"])
            referents[answer.json()["request_id"]] = email

    def made():
        return matching.proposals.count_documents({"request_id": {"$in": request_ids}})

    # The kill lands in the middle of the stream by construction: the first part of the stream is
    # being matched when the worker dies, the rest is posted while it is dead.
    first_part = REQUESTS // 4
    post_requests(range(first_part))
    eventually(lambda: made() >= 2, timeout=60, interval=0.02, message="matching under way")
    stack.kill("matching-worker")
    at_kill = made()
    post_requests(range(first_part, REQUESTS))
    expected_pairs = {(r, v) for r in request_ids for v in volunteer_ids}
    killed_at = time.monotonic()
    time.sleep(1)
    stack.start("matching-worker")
    eventually(lambda: made() >= len(expected_pairs), timeout=180, interval=0.5,
               message=f"{len(expected_pairs)} proposals after restart (had {at_kill} at the kill)")

    recovered_in = time.monotonic() - killed_at
    stored = list(matching.proposals.find({"request_id": {"$in": request_ids}}))
    assert {(p["request_id"], p["volunteer_id"]) for p in stored} == expected_pairs
    assert len(stored) == len(expected_pairs)

    # On the topic: every pair has exactly one proposal id, and each proposal one event id (the
    # relay may re-send an event after a crash, with the same id, which consumers drop).
    wanted = set(request_ids)
    def ours(records):
        return [r for r in records if headers(r).get("ce_type") == "fr.vitawin.proposal.created.v1"
                and json.loads(r.value)["request_id"] in wanted]
    def distinct(records):
        return {json.loads(r.value)["proposal_id"] for r in ours(records)}
    records = ours(read_topic(stack.env["KAFKA_BOOTSTRAP_SERVERS"], load(stack.env["CONTRACTS_DIR"]).topic("proposals"),
                              stop=lambda rs: len(distinct(rs)) >= len(expected_pairs), timeout=60))
    by_pair: dict[tuple, set] = {}
    event_ids: dict[str, set] = {}
    for r in records:
        data = json.loads(r.value)
        by_pair.setdefault((data["request_id"], data["volunteer_id"]), set()).add(data["proposal_id"])
        event_ids.setdefault(data["proposal_id"], set()).add(headers(r)["ce_id"])
    assert set(by_pair) == expected_pairs
    assert all(len(ids) == 1 for ids in by_pair.values())
    assert all(len(ids) == 1 for ids in event_ids.values())
    print(f"\n[crash] {at_kill}/{len(expected_pairs)} proposals made at the SIGKILL, {2 * (REQUESTS - first_part)} posted while the worker was dead; all made "
          f"{recovered_in:.1f}s after it; {len(records) - len(event_ids)} events re-sent by the relay")

    # Email: one per party per proposal, no more, no less.
    proposal_ids = {p["_id"] for p in stored}
    recipients = set(pros) | set(referents.values())
    def deliveries():
        seen = Counter()
        for message in mails(stack.maildir):
            to = str(message["To"])
            who = next((r for r in recipients if r in to), None)
            if who is None:
                continue
            body = message.get_body(("plain",)).get_content()
            for pid in set(re.findall(r"prop-[0-9a-f]{20}", body)) & proposal_ids:
                seen[(who, pid)] += 1
        return seen
    expected_mails = 2 * len(expected_pairs)
    eventually(lambda: sum(deliveries().values()) >= expected_mails, timeout=180, interval=1,
               message=f"{expected_mails} emails")
    time.sleep(2)  # anything sent twice would land now
    seen = deliveries()
    assert sum(seen.values()) == expected_mails
    assert set(seen.values()) == {1}
    by_proposal = {p["_id"]: p for p in stored}
    for (who, pid), _ in seen.items():
        proposal = by_proposal[pid]
        assert who in (referents[proposal["request_id"]], *pros)
    mongo.close()


def test_sigterm_lets_a_worker_finish_commit_and_exit_cleanly(stack):
    proc = stack.procs["notify-worker"]
    started = time.monotonic()
    stack.stop("notify-worker", timeout=20)
    assert proc.returncode == 0, "SIGTERM is a clean stop, not a crash"
    assert time.monotonic() - started < 20
    assert "worker stopped" in (stack.log_dir / "notify-worker.log").read_text()
    stack.start("notify-worker")
    stack.wait_ready("notify")
