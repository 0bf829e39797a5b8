"""End to end through the gateway, on the real broker, database and SMTP server."""
from __future__ import annotations

import json
import re
import uuid

import pytest
import requests
from pymongo import MongoClient

from support import (bearer, eventually, headers, mails_to, next_school_day, post_pledge, read_topic, register_school,
                     unique_email)
from vitawin_common.contracts import load
from vitawin_common.events import from_record, to_record, Event

pytestmark = pytest.mark.integration

PROPOSAL = "fr.vitawin.proposal.created.v1"


@pytest.fixture(scope="module")
def mongo(stack):
    client = MongoClient(stack.env["MONGODB_URI"], tz_aware=True)
    yield client
    client.close()


@pytest.fixture(scope="module")
def contracts(stack):
    return load(stack.env["CONTRACTS_DIR"])


def volunteer(email, lat, lon, action="mentoring", town="94080", distance=1.0):
    return {"organisation_name": "Atelier de reliure Vincennes", "contact_email": email, "town": town,
            "location": {"lat": lat, "lon": lon}, "action_types": [action], "max_distance_km": distance}


def class_testimony(email, distance=1.0):
    """A school's request for a professional's testimony in class, on the next school day."""
    return {"kind": "class_testimony", "date": next_school_day().isoformat(), "level": "3e",
            "contact_email": email, "max_distance_km": distance}


def referent_of(stack, school) -> dict:
    return bearer(stack.env, "school_referent", actor_id=school["actor_id"], school_uai=school["uai"])


def proposals_for(stack, request_id, count=1, timeout=40):
    topic = load(stack.env["CONTRACTS_DIR"]).topic("proposals")
    def mine(records):
        return [r for r in records if headers(r).get("ce_type") == PROPOSAL
                and json.loads(r.value)["request_id"] == request_id]
    records = read_topic(stack.env["KAFKA_BOOTSTRAP_SERVERS"], topic,
                         stop=lambda rs: len(mine(rs)) >= count, timeout=timeout)
    return mine(records)


def test_a_volunteer_and_a_request_give_one_proposal_event_and_one_email_per_party(stack, mongo, contracts):
    gateway = stack.gateway_url
    pro, school = unique_email("pro"), unique_email("referent")
    # West of Vincennes, more than 1 km from the places other tests use.
    college = register_school(gateway, mongo, location={"lat": 48.8420, "lon": 2.4250})
    answer = post_pledge(f"{gateway}/api/v1/volunteers", stack.env, volunteer(pro, 48.8410, 2.4240, action="testimony"))
    assert answer.status_code == 201, answer.text
    volunteer_id = answer.json()["volunteer_id"]
    # Wait until matching has the pledge, so that the request is what causes the proposal.
    eventually(lambda: mongo.vitawin_matching.volunteers.find_one({"_id": volunteer_id}),
               message="volunteer in matching's read model")

    correlation_id = f"e2e-{uuid.uuid4().hex}"
    answer = requests.post(f"{gateway}/api/v1/requests", json=class_testimony(school),
                           headers={"X-Correlation-ID": correlation_id, **referent_of(stack, college)})
    assert answer.status_code == 201, answer.text
    assert answer.headers["X-Correlation-ID"] == correlation_id
    request_id = answer.json()["request_id"]

    [record] = proposals_for(stack, request_id)
    event = from_record(record.key, record.value, record.headers)
    contracts.validate(PROPOSAL, event.data)
    assert event.source == "/vitawin/matching"
    assert event.subject == event.data["proposal_id"] == record.key.decode()
    assert event.correlation_id == correlation_id, "the gateway's correlation id reaches the proposal"
    assert event.data["volunteer_id"] == volunteer_id
    assert event.data["distance_km"] < 1

    def proposal_mails(address, template):  # the pledge's confirmation is another email
        return [m for m in mails_to(stack.maildir, address) if m["X-Vitawin-Template"] == template]
    to_pro = eventually(lambda: proposal_mails(pro, "proposal_to_volunteer"), message="email to the professional")
    to_school = eventually(lambda: proposal_mails(school, "proposal_to_requester"), message="email to the school")
    assert len(to_pro) == 1 and len(to_school) == 1
    assert "Vitawin" in to_pro[0]["Subject"] and "témoignage" in to_pro[0]["Subject"]
    assert event.data["proposal_id"] in to_pro[0].get_body(("plain",)).get_content()
    assert "professionnel" in to_school[0]["Subject"]

    listed = requests.get(f"{gateway}/api/v1/proposals", params={"request_id": request_id},
                          headers=referent_of(stack, college))
    assert [p["proposal_id"] for p in listed.json()] == [event.data["proposal_id"]]
    assert requests.get(f"{gateway}/api/v1/proposals", params={"request_id": request_id}).status_code == 401


def test_a_bad_payload_is_refused_field_by_field_and_nothing_is_stored_or_published(stack, mongo):
    actors = mongo.vitawin_actors
    before = (actors.volunteers.count_documents({}), actors.outbox.count_documents({}))
    body = volunteer("not-an-email", 48.8430, 2.4300, town="75056")
    body["action_types"] = ["juggling"]
    answer = post_pledge(f"{stack.gateway_url}/api/v1/volunteers", stack.env, body)
    assert answer.status_code == 422
    errors = answer.json()["errors"]["json"]
    assert {"contact_email", "town", "action_types"} <= set(errors)
    assert "invalide" in " ".join(errors["contact_email"]).lower()
    assert (actors.volunteers.count_documents({}), actors.outbox.count_documents({})) == before

    answer = requests.post(f"{stack.gateway_url}/api/v1/requests", data="{not json",
                           headers={"Content-Type": "application/json",
                                    **bearer(stack.env, "school_referent", school_uai="0940001W")})
    assert answer.status_code in (400, 422)
    assert answer.json()["message"]


def test_a_poison_event_is_dead_lettered_and_the_consumer_goes_on(stack, contracts, mongo):
    from kafka import KafkaProducer
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    marker = uuid.uuid4().hex
    producer.send(contracts.topic("requests"), key=marker.encode(), value=b"{{{ not an event")
    broken = Event(type="fr.vitawin.request.created.v1", source="/tests", subject=f"req-{marker}",
                   data={"request_id": f"req-{marker}", "requester_kind": "alien"})
    key, value, hdrs = to_record(broken)
    producer.send(contracts.topic("requests"), key=key, value=value, headers=hdrs)
    producer.flush()
    producer.close()

    # The stream goes on: a valid pair posted after the poison still meets.
    pro, school = unique_email("pro"), unique_email("referent")
    college = register_school(stack.gateway_url, mongo, town="94017", location={"lat": 48.8235, "lon": 2.5155})
    assert post_pledge(f"{stack.gateway_url}/api/v1/volunteers", stack.env,
                       volunteer(pro, 48.8230, 2.5150, action="testimony", town="94017")).status_code == 201
    answer = requests.post(f"{stack.gateway_url}/api/v1/requests", json=class_testimony(school),
                           headers=referent_of(stack, college))
    assert answer.status_code == 201
    assert len(proposals_for(stack, answer.json()["request_id"])) == 1

    def ours(records):
        return [r for r in records if marker in (r.key or b"").decode()]
    dead = ours(read_topic(bootstrap, contracts.topic("matchingDeadLetter"),
                           stop=lambda rs: len(ours(rs)) >= 2, timeout=30))
    assert len(dead) == 2
    reasons = [headers(r)["dlq_reason"] for r in dead]
    assert any("not a CloudEvent" in r for r in reasons)
    assert any("requester_kind" in r for r in reasons)


def test_every_process_serves_health_and_metrics(stack):
    env = stack.env
    for service in ("actors", "requests", "matching", "notify"):
        api = f"http://127.0.0.1:{env[f'{service.upper()}_PORT']}"
        worker = f"http://127.0.0.1:{env[f'{service.upper()}_WORKER_PORT']}"
        requests.get(f"{api}/openapi.json")  # at least one counted request per API
        for base in (api, worker):
            assert requests.get(f"{base}/healthz").status_code == 200
            assert requests.get(f"{base}/readyz").status_code == 200
        assert re.search(r'vitawin_http_requests_total\{[^}]*endpoint="/openapi.json"[^}]*\} [1-9]',
                         requests.get(f"{api}/metrics").text), service
    # The flow above made the matching worker handle events and the actors worker publish some.
    handled = requests.get(f"http://127.0.0.1:{env['MATCHING_WORKER_PORT']}/metrics").text
    assert re.search(r'vitawin_events_handled_total\{[^}]*outcome="applied"[^}]*\} [1-9]', handled)
    assert re.search(r'vitawin_consumer_lag\{', handled)
    published = requests.get(f"http://127.0.0.1:{env['ACTORS_WORKER_PORT']}/metrics").text
    assert re.search(r'vitawin_events_published_total\{[^}]*\} [1-9]', published)


def test_the_gateway_serves_the_openapi_document_of_the_whole_api(stack):
    document = requests.get(f"{stack.gateway_url}/api/v1/openapi.json").json()
    paths = set(document["paths"])
    for path in ("/api/v1/volunteers", "/api/v1/requests", "/api/v1/proposals"):
        assert path in paths
    assert not document.get("x-missing-services")


def test_every_event_the_services_published_satisfies_its_contract(stack, contracts):
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    checked = 0
    for channel in ("actors", "volunteers", "requests", "initiatives", "proposals"):
        for record in read_topic(bootstrap, contracts.topic(channel), timeout=3):
            names = headers(record)
            if not names.get("ce_source", "").startswith("/vitawin/"):
                continue  # records the tests injected on purpose (poison)
            event = from_record(record.key, record.value, record.headers)
            contracts.validate(event.type, event.data)
            assert record.key.decode() == event.subject
            assert event.correlation_id
            checked += 1
    assert checked >= 5


def test_no_contact_address_ever_reaches_a_log(stack):
    logs = {path.name: path.read_text(errors="replace") for path in stack.log_dir.glob("*.log")}
    leaks = [name for name, text in logs.items() if "@tests.vitawin.test" in text]
    assert logs and not leaks
