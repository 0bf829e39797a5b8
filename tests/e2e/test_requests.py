"""Requests and initiatives end to end through the gateway, on the real broker and database: a
school publishes each kind of request, pupils an information and an internship request, an
initiative is published and joined; every event satisfies its contract, no pupil datum reaches
any topic, and a pupil's request stays hidden from other pupils."""
from __future__ import annotations

import uuid

import pytest
import requests
from pymongo import MongoClient

from support import bearer, headers, next_school_day, next_school_weeks, read_topic, register_school, unique_email
from vitawin_common.contracts import load
from vitawin_common.events import from_record

pytestmark = pytest.mark.integration

LOCATION = {"lat": 48.8560, "lon": 2.4790}  # Fontenay-sous-Bois, north: no other test goes there


@pytest.fixture(scope="module")
def mongo(stack):
    client = MongoClient(stack.env["MONGODB_URI"], tz_aware=True)
    yield client
    client.close()


@pytest.fixture(scope="module")
def school(stack, mongo):
    weeks = next_school_weeks(2)
    return register_school(stack.gateway_url, mongo, town="94033", location=LOCATION, levels=("4e", "3e"),
                           internship_weeks=weeks) | {"weeks": weeks}


def test_a_school_and_its_pupils_publish_every_kind_and_the_events_keep_pupils_out(stack, mongo, school):
    gateway, env = f"{stack.gateway_url}/api/v1", stack.env
    referent = bearer(env, "school_referent", actor_id=school["actor_id"], school_uai=school["uai"])
    day, weeks, referent_email = next_school_day(14).isoformat(), school["weeks"], unique_email("referent")
    school_bodies = {
        "class_testimony": {"date": day, "level": "3e", "rome_codes": ["D1102"]},
        "class_intervention": {"date": day, "level": "4e", "topic": "Égalité filles-garçons dans les métiers"},
        "job_fair": {"date": day, "start_time": "09:00", "end_time": "12:30", "levels": ["4e", "3e"],
                     "professionals_wanted": 12},
        "internship_hosting": {"level": "3e", "period": weeks[:1], "pupils": 6},
    }
    created = {}
    for kind, body in school_bodies.items():
        answer = requests.post(f"{gateway}/requests", headers=referent,
                               json={"kind": kind, "contact_email": referent_email, **body})
        assert answer.status_code == 201, (kind, answer.text)
        created[answer.json()["request_id"]] = kind

    # Pupils: registered in the directory first (their actor id is in their token, never in an event).
    marker = uuid.uuid4().hex[:8]
    pupil = requests.post(f"{gateway}/actors", json={
        "kind": "pupil", "first_name": f"Prénom{marker}", "level": "3e", "school_uai": school["uai"],
        "town": "94033", "guardian_contact_email": unique_email("guardian")}).json()
    pupil_token = bearer(env, "pupil", actor_id=pupil["actor_id"], school_uai=school["uai"])
    keywords = f"cuisine {marker}"
    pupil_bodies = {
        "job_information": {"level": "3e", "rome_codes": ["G1602"], "keywords": keywords},
        "discovery_internship": {"level": "3e", "period": weeks[:1], "around": "school", "max_distance_km": 5},
    }
    for kind, body in pupil_bodies.items():
        answer = requests.post(f"{gateway}/requests", headers=pupil_token, json={"kind": kind, **body})
        assert answer.status_code == 201, (kind, answer.text)
        created[answer.json()["request_id"]] = kind

    # Another pupil cannot tell that a pupil's request exists; the referent of the school reads it.
    other_pupil = bearer(env, "pupil", actor_id="act-" + uuid.uuid4().hex, school_uai="0940002X")
    pupil_request = next(rid for rid, kind in created.items() if kind == "job_information")
    assert requests.get(f"{gateway}/requests/{pupil_request}", headers=other_pupil).status_code == 404
    assert requests.get(f"{gateway}/requests/{pupil_request}").status_code == 404
    assert requests.get(f"{gateway}/requests/{pupil_request}", headers=referent).status_code == 200

    contracts = load(env["CONTRACTS_DIR"])
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]

    def ours(records):
        return [r for r in records if (r.key or b"").decode() in created]
    records = ours(read_topic(bootstrap, contracts.topic("requests"), stop=lambda rs: len(ours(rs)) >= len(created),
                              timeout=30))
    assert sorted(headers(r)["ce_type"] for r in records) == ["fr.vitawin.request.created.v2"] * len(created)
    for record in records:
        event = from_record(record.key, record.value, record.headers)
        contracts.validate(event.type, event.data)
        assert event.data["kind"] == created[event.subject]
        if event.data["requester_kind"] == "pupil":
            assert "contact_email" not in event.data
            assert event.data["location"] == LOCATION, "a pupil's request is placed at the school"

    # Nothing that names the pupil, nor the words they typed, on any topic of the platform; the
    # pupil's (pseudonymous) actor id only on the directory's own stream and on the internal
    # `contacts` and `requesters` ones (for notify: where to write to the guardian, and for which
    # request), never with a request on a shared stream.
    secrets = [f"Prénom{marker}".encode(), keywords.encode()]
    for name, channel in contracts.channels().items():
        for record in read_topic(bootstrap, channel.address, timeout=2):
            blob = (record.key or b"") + (record.value or b"") + b"".join(v for _, v in (record.headers or []))
            assert not any(secret in blob for secret in secrets), channel.address
            assert name in ("actors", "contacts", "requesters") or pupil["actor_id"].encode() not in blob, channel.address


def test_a_cancelled_request_publishes_its_cancellation_after_its_creation(stack, school):
    gateway, env = f"{stack.gateway_url}/api/v1", stack.env
    referent = bearer(env, "school_referent", actor_id=school["actor_id"], school_uai=school["uai"])
    answer = requests.post(f"{gateway}/requests", headers=referent, json={
        "kind": "class_testimony", "date": next_school_day(21).isoformat(), "level": "3e",
        "contact_email": unique_email("referent")})
    assert answer.status_code == 201, answer.text
    request_id = answer.json()["request_id"]
    answer = requests.post(f"{gateway}/requests/{request_id}/cancel", headers=referent, json={"reason": "Sortie annulée"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "cancelled"
    assert requests.post(f"{gateway}/requests/{request_id}/cancel", headers=referent, json={}).status_code == 409

    contracts = load(env["CONTRACTS_DIR"])
    mine = lambda rs: [r for r in rs if r.key == request_id.encode()]  # noqa: E731
    records = mine(read_topic(env["KAFKA_BOOTSTRAP_SERVERS"], contracts.topic("requests"),
                              stop=lambda rs: len(mine(rs)) >= 2, timeout=30))
    assert [headers(r)["ce_type"] for r in records] == ["fr.vitawin.request.created.v2",
                                                        "fr.vitawin.request.cancelled.v1"]
    assert len({r.partition for r in records}) == 1
    versions = [from_record(r.key, r.value, r.headers).data["version"] for r in records]
    assert versions == [1, 2]


def test_an_initiative_is_published_then_joined_with_events_that_satisfy_their_contracts(stack, school):
    gateway, env = f"{stack.gateway_url}/api/v1", stack.env
    publisher = bearer(env, "professional", actor_id="act-" + uuid.uuid4().hex)
    answer = requests.post(f"{gateway}/initiatives", headers=publisher, json={
        "kind": "initiative", "title": "Semaine de l'industrie à Fontenay", "partner_kinds_sought": ["school"],
        "town": "94033", "contact_email": unique_email("initiative"),
        "description": "Visites d'ateliers pour les classes de 4e et de 3e."})
    assert answer.status_code == 201, answer.text
    initiative_id = answer.json()["initiative_id"]
    referent = bearer(env, "school_referent", actor_id=school["actor_id"], school_uai=school["uai"])
    answer = requests.post(f"{gateway}/initiatives/{initiative_id}/participants", headers=referent,
                           json={"message": "Deux classes de 3e intéressées."})
    assert answer.status_code in (200, 201), answer.text
    assert requests.post(f"{gateway}/initiatives/{initiative_id}/participants", headers=referent,
                         json={}).status_code == 409
    on_map = requests.get(f"{gateway}/initiatives/map.geojson").json()["features"]
    assert initiative_id in {f["properties"]["initiative_id"] for f in on_map}

    contracts = load(env["CONTRACTS_DIR"])
    mine = lambda rs: [r for r in rs if r.key == initiative_id.encode()]  # noqa: E731
    records = mine(read_topic(env["KAFKA_BOOTSTRAP_SERVERS"], contracts.topic("initiatives"),
                              stop=lambda rs: len(mine(rs)) >= 2, timeout=30))
    assert [headers(r)["ce_type"] for r in records] == ["fr.vitawin.initiative.published.v1",
                                                        "fr.vitawin.initiative.joined.v1"]
    for record in records:
        event = from_record(record.key, record.value, record.headers)
        contracts.validate(event.type, event.data)
        assert b"@" not in record.value and b"Deux classes" not in record.value


def test_the_requests_of_the_map_are_public_school_requests_only(stack, school):
    features = requests.get(f"{stack.gateway_url}/api/v1/requests/map.geojson").json()["features"]
    assert features, "the school's open requests are on the map"
    assert {f["properties"]["kind"] for f in features} <= {"class_testimony", "class_intervention", "job_fair",
                                                          "internship_hosting"}
    assert all("contact_email" not in f["properties"] for f in features)


def test_an_accepted_proposal_on_the_bus_fulfils_the_request_once_and_matching_closes_it(stack, mongo, school):
    """Matching's acceptance workflow is the matching issue's: here the accepted event is put on the
    proposals topic as matching will, twice (a redelivery), to check the requests side."""
    from kafka import KafkaProducer
    from vitawin_common.events import new_event, to_record

    gateway, env = f"{stack.gateway_url}/api/v1", stack.env
    referent = bearer(env, "school_referent", actor_id=school["actor_id"], school_uai=school["uai"])
    answer = requests.post(f"{gateway}/requests", headers=referent, json={
        "kind": "class_testimony", "date": next_school_day(28).isoformat(), "level": "3e",
        "professionals_wanted": 1, "contact_email": unique_email("referent")})
    assert answer.status_code == 201, answer.text
    request_id = answer.json()["request_id"]
    proposal_id = "prop-" + uuid.uuid4().hex[:20]
    event = new_event("fr.vitawin.proposal.accepted.v1", "/vitawin/matching", proposal_id, {
        "proposal_id": proposal_id, "request_id": request_id, "volunteer_id": "vol-" + uuid.uuid4().hex,
        "accepted_at": "2026-11-28T08:15:00.000Z"})
    contracts = load(env["CONTRACTS_DIR"])
    producer = KafkaProducer(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"])
    key, value, hdrs = to_record(event)
    for _ in range(2):
        producer.send(contracts.topic("proposals"), key=key, value=value, headers=hdrs)
    producer.flush()
    producer.close()

    from support import eventually
    eventually(lambda: requests.get(f"{gateway}/requests/{request_id}").json()["status"] == "fulfilled",
               timeout=30, message="request fulfilled")
    mine = lambda rs: [r for r in rs if r.key == request_id.encode()]  # noqa: E731
    records = mine(read_topic(env["KAFKA_BOOTSTRAP_SERVERS"], contracts.topic("requests"),
                              stop=lambda rs: len(mine(rs)) >= 2, timeout=30))
    assert [headers(r)["ce_type"] for r in records] == ["fr.vitawin.request.created.v2",
                                                        "fr.vitawin.request.fulfilled.v1"]
    eventually(lambda: (mongo.vitawin_matching.requests.find_one({"_id": request_id}) or {}).get("status") == "closed",
               timeout=30, message="matching closed the fulfilled request")
