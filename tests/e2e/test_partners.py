"""Partners end to end, through the gateway, on the real stack (issue 8).

A partner (role partner) subscribes to some public event types in one town, with a local HTTP
receiver on 127.0.0.1 (the test stack allows http to the loopback: WEBHOOKS_ALLOW_LOCAL_HTTP). The
test then lives a little of the territory there, full of personal data: an organisation named
after a person, a pledge with its e-mail, a school and its referent's e-mail, a class testimony
request, a pupil with a first name and a guardian's e-mail and a request of their own, an
initiative whose title names a person and whose description gives a phone number; the pledge is
proposed, accepted, withdrawn. Meanwhile another school asks in another town.

- The partner receives signed webhooks (Standard Webhooks, verified here with the
  `standardwebhooks` package) for the types and the town it chose, and nothing else; a second,
  slow partner does not delay it; it can list its deliveries, rotate its secret and replay.
- The personal-data test reads EVERY partner-facing topic (contracts/partners.asyncapi.yaml) from
  the start, and every webhook body and header received, and fails on any personal datum the test
  registered, and on anything shaped like an e-mail address or a phone number."""
from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml
from pymongo import MongoClient
from standardwebhooks import Webhook

from support import (bearer, eventually, next_school_day, post_pledge, read_topic, register_organisation,
                     register_school, unique_email)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOWN = "94069"  # Saint-Maurice: no other test goes there
OTHER_TOWN = "94015"  # Bry-sur-Marne
SPOT = {"lat": 48.8184, "lon": 2.4229}  # Saint-Maurice's centre
OTHER_SPOT = {"lat": 48.8386, "lon": 2.5238}  # Bry-sur-Marne's centre
PUBLISHED, CLOSED = "fr.vitawin.public.request.published.v1", "fr.vitawin.public.request.closed.v1"
PLEDGE, WITHDRAWN = "fr.vitawin.public.pledge.published.v1", "fr.vitawin.public.pledge.withdrawn.v1"
ACCEPTED, INITIATIVE = "fr.vitawin.public.proposal.accepted.v1", "fr.vitawin.public.initiative.published.v1"
WANTED = [PUBLISHED, CLOSED, PLEDGE, ACCEPTED, INITIATIVE]  # not WITHDRAWN
EMAIL = re.compile(rb"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(rb"(?<![\w-])(?:\+33[\s.]?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\w)")


class Receiver:
    """A partner's endpoint on 127.0.0.1: keeps every POST (path, headers, body), answers 204,
    after `delay` seconds (a slow partner)."""

    def __init__(self, delay: float = 0.0):
        self.received: list[tuple[str, dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.delay:
                    time.sleep(receiver.delay)
                receiver.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.delay = delay
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/vitawin/webhooks"

    def events(self) -> list[dict]:
        return [json.loads(body) for _, _, body in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def world(stack):
    api, env = f"{stack.gateway_url}/api/v1", stack.env
    mongo = MongoClient(env["MONGODB_URI"], tz_aware=True)
    fast, slow = Receiver(), Receiver(delay=12)  # slower than the dispatcher's 10 s read timeout
    partner = bearer(env, "partner", actor_id="act-" + uuid.uuid4().hex)
    other_partner = bearer(env, "partner")
    marker = uuid.uuid4().hex[:8]
    personal: list[str] = []

    def subscribe(headers, receiver):
        answer = requests.post(f"{api}/webhooks/subscriptions", headers=headers, json={
            "url": receiver.url, "event_types": WANTED, "towns": [TOWN], "label": "Observatoire"})
        assert answer.status_code == 201, answer.text
        return answer.json()
    subscription, slow_subscription = subscribe(partner, fast), subscribe(other_partner, slow)

    # An organisation named after a person, and its pledge.
    org_name, org_email = f"Menuiserie Jeanne Dufresne {marker}", unique_email(f"jeanne.dufresne.{marker}")
    org = register_organisation(stack.gateway_url, org_name, town=TOWN, location=SPOT, email=org_email)
    pledge_email = unique_email(f"j.dufresne.{marker}")
    pledge = post_pledge(f"{api}/volunteers", env, {
        "organisation_name": org_name, "contact_email": pledge_email, "actor_id": org, "town": TOWN,
        "location": SPOT, "action_types": ["testimony"], "max_distance_km": 2})
    assert pledge.status_code == 201, pledge.text
    personal += [org_name, org_email, pledge_email]

    # A school, its referent's request; a pupil and their own request.
    school = register_school(stack.gateway_url, mongo, town=TOWN, location=SPOT)
    referent = bearer(env, "school_referent", actor_id=school["actor_id"], school_uai=school["uai"])
    referent_email = unique_email(f"paul.marchand.{marker}")
    made = requests.post(f"{api}/requests", headers=referent, json={
        "kind": "class_testimony", "date": next_school_day(12).isoformat(), "level": "3e", "class_size": 27,
        "professionals_wanted": 1, "contact_email": referent_email, "max_distance_km": 2})
    assert made.status_code == 201, made.text
    request_id = made.json()["request_id"]
    personal += [school["contact_email"], referent_email]
    first_name, guardian = f"Prénom{marker}", unique_email(f"parent.{marker}")
    pupil = requests.post(f"{api}/actors", json={
        "kind": "pupil", "first_name": first_name, "level": "3e", "school_uai": school["uai"], "town": TOWN,
        "guardian_contact_email": guardian})
    assert pupil.status_code == 201, pupil.text
    pupil_token = bearer(env, "pupil", actor_id=pupil.json()["actor_id"], school_uai=school["uai"])
    keywords = f"ébénisterie {marker}"
    pupil_request = requests.post(f"{api}/requests", headers=pupil_token, json={
        "kind": "job_information", "level": "3e", "rome_codes": ["H2206"], "keywords": keywords})
    assert pupil_request.status_code == 201, pupil_request.text
    personal += [first_name, guardian, keywords, pupil.json()["actor_id"], pupil_request.json()["request_id"]]

    # An initiative whose words are personal.
    title, description = f"Atelier bois avec Jeanne Dufresne {marker}", f"Appeler le 07 98 76 54 32 ({marker})"
    initiative = requests.post(f"{api}/initiatives", headers=bearer(env, "professional", actor_id=org), json={
        "kind": "initiative", "title": title, "description": description, "partner_kinds_sought": ["school"],
        "town": TOWN, "contact_email": unique_email(f"atelier.{marker}")})
    assert initiative.status_code == 201, initiative.text
    personal += [title, description]

    # Another town: a school's request the partner did not ask for.
    other_school = register_school(stack.gateway_url, mongo, town=OTHER_TOWN, location=OTHER_SPOT)
    other = requests.post(f"{api}/requests", headers=bearer(
        env, "school_referent", actor_id=other_school["actor_id"], school_uai=other_school["uai"]), json={
        "kind": "class_testimony", "date": next_school_day(12).isoformat(), "level": "3e",
        "professionals_wanted": 1, "contact_email": unique_email(f"autre.{marker}")})
    assert other.status_code == 201, other.text

    # The pledge is proposed for the school's request and accepted (the request is then fulfilled),
    # then withdrawn (a type the partner did not ask for).
    proposal = eventually(lambda: mongo.vitawin_matching.proposals.find_one({"request_id": request_id}), timeout=60,
                          message="the proposal of the school's request")
    professional = bearer(env, "professional", actor_id=org)
    accepted = requests.post(f"{api}/proposals/{proposal['_id']}/accept", headers=professional)
    assert accepted.status_code == 200, accepted.text
    eventually(lambda: mongo.vitawin_requests.requests.find_one({"_id": request_id, "status": "fulfilled"}),
               timeout=60, message="the request fulfilled")
    withdrawn = requests.delete(f"{api}/volunteers/{pledge.json()['volunteer_id']}", headers=professional)
    assert withdrawn.status_code in (200, 204), withdrawn.text

    yield {"api": api, "env": env, "mongo": mongo, "fast": fast, "slow": slow, "partner": partner,
           "other_partner": other_partner, "subscription": subscription, "slow_subscription": slow_subscription,
           "request_id": request_id, "other_request_id": other.json()["request_id"],
           "initiative_id": initiative.json()["initiative_id"], "personal": personal}
    fast.close()
    slow.close()
    mongo.close()


def types_received(receiver) -> list[str]:
    return [event["type"] for event in receiver.events()]


def wait_for_the_partner_s_webhooks(world) -> list[dict]:
    """Every webhook the scenario calls for, once each is there."""
    def complete():
        events = world["fast"].events()
        ours = {(e["type"], e["data"].get("request_id") or e["data"].get("initiative_id") or e["data"].get("town"))
                for e in events}
        wanted = {(PUBLISHED, world["request_id"]), (CLOSED, world["request_id"]), (ACCEPTED, world["request_id"]),
                  (INITIATIVE, world["initiative_id"])}
        return events if wanted <= ours and PLEDGE in types_received(world["fast"]) else None
    return eventually(complete, timeout=90, interval=0.5, message="the partner's webhooks")


def test_the_partner_receives_signed_webhooks_for_its_types_and_its_town_only(world):
    events = wait_for_the_partner_s_webhooks(world)
    secret = world["subscription"]["secret"]
    for path, headers, body in world["fast"].received:
        assert path == "/vitawin/webhooks"
        assert headers["content-type"] == "application/cloudevents+json"
        verified = Webhook(secret).verify(body, headers)  # raises if the signature does not hold
        assert verified["id"] == headers["webhook-id"]
        assert verified["source"] == "/vitawin/public" and verified["specversion"] == "1.0"
    assert {e["type"] for e in events} <= set(WANTED), "only the types it chose"
    assert {e["data"]["town"] for e in events} == {TOWN}, "only the town it chose"
    assert world["other_request_id"] not in json.dumps(events)
    closed = next(e for e in events if e["type"] == CLOSED)
    assert (closed["data"]["outcome"], closed["data"]["accepted_count"]) == ("fulfilled", 1)
    published = next(e for e in events if e["type"] == PUBLISHED and e["data"]["request_id"] == world["request_id"])
    assert (published["data"]["levels"], published["data"]["pupil_count"]) == (["3e"], 27)
    # The types it did not ask for exist on the public topics all the same.
    withdrawn = read_topic(world["env"]["KAFKA_BOOTSTRAP_SERVERS"], "public.pledges.v1",
                           stop=lambda rs: any(dict(r.headers).get("ce_type") == WITHDRAWN.encode() for r in rs))
    assert any(dict(r.headers).get("ce_type") == WITHDRAWN.encode() for r in withdrawn)
    assert WITHDRAWN not in types_received(world["fast"])
    other = read_topic(world["env"]["KAFKA_BOOTSTRAP_SERVERS"], "public.requests.v1",
                       stop=lambda rs: any(r.key == world["other_request_id"].encode() for r in rs))
    assert any(r.key == world["other_request_id"].encode() for r in other), "the other town's request is public"


def test_the_partner_lists_its_deliveries_and_a_slow_partner_does_not_hold_it_up(world):
    wait_for_the_partner_s_webhooks(world)
    path = f"{world['api']}/webhooks/subscriptions/{world['subscription']['subscription_id']}/deliveries"
    listed = requests.get(path, headers=world["partner"], params={"limit": 200})
    assert listed.status_code == 200, listed.text
    assert {d["town"] for d in listed.json()} == {TOWN}
    # the receiver keeps a webhook before it answers, the dispatcher records the answer after it
    eventually(lambda: {d["status"] for d in requests.get(path, headers=world["partner"],
                                                          params={"limit": 200}).json()} == {"delivered"},
               timeout=15, message="every delivery recorded as delivered")
    assert requests.get(path, headers=world["other_partner"]).status_code == 404
    # The slow partner got the same events offered, answered too late, and will be tried again.
    slow_path = f"{world['api']}/webhooks/subscriptions/{world['slow_subscription']['subscription_id']}/deliveries"
    timed_out = eventually(lambda: [d for d in requests.get(slow_path, headers=world["other_partner"]).json()
                                    if d.get("last_error") == "timeout"], timeout=60, message="a slow partner's timeout")
    assert timed_out[0]["status"] in ("pending", "sending") and timed_out[0]["next_attempt_at"]


def test_a_rotated_secret_signs_the_replayed_webhooks_with_both_secrets(world):
    wait_for_the_partner_s_webhooks(world)
    base = f"{world['api']}/webhooks/subscriptions/{world['subscription']['subscription_id']}"
    rotated = requests.post(f"{base}/rotate-secret", headers=world["partner"], json={"grace_hours": 1})
    assert rotated.status_code == 200, rotated.text
    new_secret, old_secret = rotated.json()["secret"], world["subscription"]["secret"]
    before = len(world["fast"].received)
    since = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    replayed = requests.post(f"{base}/replay", headers=world["partner"], json={"since": since})
    assert replayed.status_code == 202, replayed.text
    count = replayed.json()["replayed"]
    assert count >= 5
    eventually(lambda: len(world["fast"].received) >= before + count, timeout=60, message="the replayed webhooks")
    first_ids = {headers["webhook-id"] for _, headers, _ in world["fast"].received[:before]}
    # The replay sends every stored public event since `since` that the subscription wants, those
    # of other tests on this shared stack included: each one delivered before comes again, with its id.
    again = {headers["webhook-id"] for _, headers, _ in world["fast"].received[before:]}
    assert first_ids <= again, "a replay sends each event again, with the event's id"
    for _, headers, body in world["fast"].received[before:]:
        Webhook(new_secret).verify(body, headers)
        Webhook(old_secret).verify(body, headers)


def test_no_personal_datum_on_any_partner_facing_topic_nor_in_any_webhook(world):
    wait_for_the_partner_s_webhooks(world)
    partners = yaml.safe_load((ROOT / "contracts" / "partners.asyncapi.yaml").read_text(encoding="utf-8"))
    topics = [channel["address"] for channel in partners["channels"].values()]
    assert len(topics) >= 4
    blobs: list[tuple[str, bytes]] = []
    for topic in topics:
        records = read_topic(world["env"]["KAFKA_BOOTSTRAP_SERVERS"], topic, timeout=3)
        blobs += [(topic, (r.key or b"") + b"\n" + (r.value or b"") + b"\n" +
                   b"\n".join(k.encode() + b"=" + v for k, v in (r.headers or []))) for r in records]
    assert len(blobs) >= 6, "the scenario's events are on the public topics"
    for receiver in (world["fast"], world["slow"]):
        blobs += [(f"webhook {path}", json.dumps(headers).encode() + b"\n" + body)
                  for path, headers, body in receiver.received]
    assert any(name.startswith("webhook") for name, _ in blobs)
    personal = [value.encode() for value in world["personal"]]
    leaks = [(name, value) for name, blob in blobs for value in personal if value in blob]
    assert not leaks, f"personal data on a partner-facing stream: {leaks[:5]}"
    shaped = [(name, match.group(0)) for name, blob in blobs for pattern in (EMAIL, PHONE)
              for match in pattern.finditer(blob)]
    assert not shaped, f"an e-mail address or a phone number on a partner-facing stream: {shaped[:5]}"


def test_the_personal_data_check_would_see_a_leak():
    blob = b'{"note": "Jeanne Dufresne, jeanne.dufresne@example.fr, 06 12 34 56 78"}'
    assert EMAIL.search(blob) and PHONE.search(blob)
    assert not PHONE.search(b'"school_uai": "0940585A", "id": "9b1d7d3e-4a8b-5c2e-9f10-3a4b5c6d7e8f"')
    assert not PHONE.search(b"plg-0612345678ab0612345678ab06123456 req-06123456789012345678901234567890")
