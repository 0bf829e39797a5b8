"""Two matching workers and two notify workers (as `make run WORKERS="matching=2 notify=2"` runs
them) share the load and do nothing twice: each worker of a service holds its own partitions and
handles events of them, every eligible pair is proposed once, and every email is sent once.

Counted from what the workers consumed (their `vitawin_events_handled_total`), never from the
broker's end offsets (Tansu's are wrong for a lag)."""
from __future__ import annotations

import re
import time
from collections import Counter

import pytest
import requests
from pymongo import MongoClient

from support import bearer, eventually, mails, next_school_day, post_pledge, register_school, unique_email
from vitawin_common.territory import Location, distance_km

pytestmark = pytest.mark.integration

# Bry-sur-Marne (94015), a corner no other test uses. Volunteers 0.27 km apart on a north-south
# line, requests of two schools on the same line: a pair is eligible within 1 km.
TOWN, BASE = "94015", (48.8400, 2.5230)
VOLUNTEERS, REQUESTS, LIMIT_KM = 6, 24, 1.0
REQUEST_CREATED, PROPOSAL_CREATED = "fr.vitawin.request.created.v2", "fr.vitawin.proposal.created.v1"


@pytest.fixture
def scaled(stack):
    """Two workers of matching and of notify, back to one each afterwards."""
    try:
        yield {service: stack.scale_workers(service, 2) for service in ("matching", "notify")}
    finally:
        for service in ("matching", "notify"):
            stack.scale_workers(service, 1)


def ready(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def metrics_of(port: int) -> str:
    return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def held(text: str, topic: str) -> set[int]:
    """Partitions of `topic` a worker holds: those its lag gauge names (it drops the ones it loses)."""
    return {int(labels["partition"]) for labels, _ in samples(text, "vitawin_consumer_lag") if labels["topic"] == topic}


def samples(text: str, name: str) -> list[tuple[dict, float]]:
    """(labels, value) of each sample of `name` in a /metrics page."""
    return [(dict(re.findall(r'(\w+)="([^"]*)"', labels)), float(value))
            for labels, value in re.findall(rf"^{name}\{{([^}}]*)\}} (\S+)$", text, re.M)]


def to(message) -> str:
    return message["To"].addresses[0].addr_spec


def applied(text: str, event_type: str) -> int:
    return int(sum(value for labels, value in samples(text, "vitawin_events_handled_total")
                   if labels["type"] == event_type and labels["outcome"] == "applied"))


def wait_shared(ports: list[int], topic: str, partitions: int) -> None:
    """Until the group has settled: each worker holds some partitions of `topic`, none twice, all
    held (a new member makes the group rebalance, in seconds)."""
    def settled():
        shares = [held(metrics_of(port), topic) for port in ports]
        together = [p for share in shares for p in share]
        return all(shares) and len(together) == len(set(together)) == partitions and shares
    eventually(settled, timeout=90, interval=0.5, message=f"{topic} shared by {len(ports)} workers")


def test_two_matching_and_two_notify_workers_share_the_load_and_do_nothing_twice(stack, scaled):
    env, gateway = stack.env, f"{stack.gateway_url}/api/v1"
    ports = {service: [stack.worker_port(service, i) for i in (1, 2)] for service in scaled}
    assert scaled == {"matching": ["matching-worker", "matching-worker-2"],
                      "notify": ["notify-worker", "notify-worker-2"]}
    for port in ports["matching"] + ports["notify"]:
        eventually(lambda: ready(port), timeout=90, message=f"worker on {port} ready")
    wait_shared(ports["matching"], "vitawin.requests", 3)
    wait_shared(ports["notify"], "vitawin.proposals", 3)
    before = {service: [metrics_of(port) for port in ports[service]] for service in ports}

    mongo = MongoClient(env["MONGODB_URI"], tz_aware=True)
    try:
        schools = [register_school(stack.gateway_url, mongo, town=TOWN,
                                   location={"lat": BASE[0] + i * 0.004, "lon": BASE[1]}) for i in range(2)]
        volunteers = {}  # id -> (place, address)
        for i in range(VOLUNTEERS):
            place, address = {"lat": BASE[0] - 0.004 + i * 0.0027, "lon": BASE[1]}, unique_email("shared")
            answer = post_pledge(f"{gateway}/volunteers", env, {
                "organisation_name": f"Atelier de Bry {i}", "contact_email": address, "town": TOWN,
                "location": place, "action_types": ["testimony"], "max_distance_km": LIMIT_KM,
                "actions": {"testimony": {"weekly_contact_cap": 100}}})
            assert answer.status_code == 201, answer.text
            volunteers[answer.json()["volunteer_id"]] = (place, address)
        eventually(lambda: mongo.vitawin_matching.volunteers.count_documents({"_id": {"$in": list(volunteers)}})
                   == VOLUNTEERS, timeout=60, message="pledges in matching")

        day = next_school_day(35).isoformat()
        requests_made = {}  # id -> (place, contact address)
        for n in range(REQUESTS):
            school, address = schools[n % 2], unique_email("shared-referent")
            answer = requests.post(f"{gateway}/requests", headers=bearer(
                env, "school_referent", actor_id=school["actor_id"], school_uai=school["uai"]), json={
                "kind": "class_testimony", "date": day, "level": "3e", "professionals_wanted": 5,
                "contact_email": address, "max_distance_km": LIMIT_KM})
            assert answer.status_code == 201, answer.text
            requests_made[answer.json()["request_id"]] = (school["location"], address)

        # Every eligible pair proposed once (slots exceed the volunteers in reach).
        expected = {(r, v) for r, (rp, _) in requests_made.items() for v, (vp, _) in volunteers.items()
                    if distance_km(Location(rp["lat"], rp["lon"]), Location(vp["lat"], vp["lon"])) <= LIMIT_KM}
        assert len(expected) > REQUESTS
        proposals = mongo.vitawin_matching.proposals
        mine = {"request_id": {"$in": list(requests_made)}}
        eventually(lambda: proposals.count_documents(mine) >= len(expected), timeout=120, interval=0.5,
                   message=f"{len(expected)} proposals")

        # Each proposal: one email to the professional, one to the request's contact.
        addresses = {a for _, a in volunteers.values()} | {a for _, a in requests_made.values()}
        def proposal_mails():
            return [m for m in mails(stack.maildir) if to(m) in addresses
                    and str(m["X-Vitawin-Template"]) in ("proposal_to_volunteer", "proposal_to_requester")]
        eventually(lambda: len(proposal_mails()) >= 2 * len(expected), timeout=120, interval=0.5,
                   message=f"{2 * len(expected)} proposal emails")
        time.sleep(3)  # a duplicate (an event handled twice after a rebalance) would land by now

        stored = list(proposals.find(mine))
        assert {(p["request_id"], p["volunteer_id"]) for p in stored} == expected
        assert len(stored) == len(expected), "no pair proposed twice"

        # The pledges may also be proposed for other tests' open requests within reach on this
        # shared stack: each such proposal emails our professional once too.
        elsewhere = [p for p in proposals.find({"volunteer_id": {"$in": list(volunteers)}})
                     if p["request_id"] not in requests_made]
        sent = proposal_mails()
        assert len(sent) == 2 * len(expected) + len(elsewhere), "no email sent twice"
        ids = Counter(str(m["Message-ID"]) for m in sent)
        assert max(ids.values()) == 1, f"an email sent twice: {ids.most_common(1)}"
        per_address = Counter((to(m), str(m["X-Vitawin-Template"])) for m in sent)
        for volunteer_id, (_, address) in volunteers.items():
            made = sum(1 for _, v in expected if v == volunteer_id)
            made += sum(1 for p in elsewhere if p["volunteer_id"] == volunteer_id)
            assert per_address[(address, "proposal_to_volunteer")] == made, volunteer_id
        for request_id, (_, address) in requests_made.items():
            made = sum(1 for r, _ in expected if r == request_id)
            assert per_address[(address, "proposal_to_requester")] == made, request_id
    finally:
        mongo.close()

    # The load was shared: each worker applied events of the partitions it holds.
    after = {service: [metrics_of(port) for port in ports[service]] for service in ports}
    shares = {
        "matching": [applied(a, REQUEST_CREATED) - applied(b, REQUEST_CREATED)
                     for a, b in zip(after["matching"], before["matching"])],
        "notify": [applied(a, PROPOSAL_CREATED) - applied(b, PROPOSAL_CREATED)
                   for a, b in zip(after["notify"], before["notify"])],
    }
    print(f"\nshares: requests matched per matching worker {shares['matching']} (of {REQUESTS}), "
          f"proposals notified per notify worker {shares['notify']} (of {len(expected)})")
    assert all(n > 0 for n in shares["matching"]), shares
    assert all(n > 0 for n in shares["notify"]), shares
    assert sum(shares["matching"]) >= REQUESTS and sum(shares["notify"]) >= len(expected)
