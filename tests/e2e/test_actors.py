"""The actors directory through the gateway, on the real broker and database."""
from __future__ import annotations

import json
import uuid

import pytest
import requests

from support import bearer, eventually, headers, post_pledge, read_topic, unique_email
from vitawin_common.contracts import load
from vitawin_common.events import from_record

pytestmark = pytest.mark.integration

ACTOR_REGISTERED = "fr.vitawin.actor.registered.v1"
PLACE = {"address": {"street": "1 avenue de Paris", "postcode": "94300"}, "town": "94080",
         "location": {"lat": 48.8470, "lon": 2.4380}}


def bodies(marker: str) -> dict[str, dict]:
    org = {"contact_email": unique_email("org"), "siret": "732 829 320 00074", "naf_code": "56.10A", **PLACE}
    return {
        "company": {"kind": "company", "name": f"Brasserie {marker}", **org},
        "craftsman": {"kind": "craftsman", "name": f"Ébénisterie {marker}", **org},
        "local_authority": {"kind": "local_authority", "name": f"Mairie {marker}", **org},
        "association": {"kind": "association", "name": f"Association {marker}", **org},
        "public_institution": {"kind": "public_institution", "name": f"Mission locale {marker}", **org},
        "partner_organisation": {"kind": "partner_organisation", "name": f"CCI {marker}", **org},
        "outside": {"kind": "company", "name": f"Siège Bercy {marker}", **org, "town": "75112",
                    "address": {"street": "1 quai de Bercy", "postcode": "75012"},
                    "location": {"lat": 48.8350, "lon": 2.3850}, "serves_territory_from_outside": True},
        "school": {"kind": "school", "name": f"Collège {marker}", "contact_email": unique_email("referent"),
                   "uai": "0940120V", "school_type": "college", "levels": ["4e", "3e"],
                   "internship_periods": {"3e": ["2027-W04"]}, **PLACE},
        "pupil": {"kind": "pupil", "first_name": f"Prénom{marker}", "level": "3e", "school_uai": "0940120V",
                  "town": "94080", "guardian_contact_email": unique_email("guardian")},
        "territory_manager": {"kind": "territory_manager", "name": f"Gestionnaire {marker}",
                              "contact_email": unique_email("manager"), "organisation_name": "Paris Est Marne et Bois"},
    }


def test_every_kind_of_actor_registers_and_its_event_satisfies_the_contract_without_pupil_data(stack):
    marker = uuid.uuid4().hex[:8]
    created = {}
    manager = bearer(stack.env, "territory_manager")  # only a territory manager registers one
    for label, body in bodies(marker).items():
        answer = requests.post(f"{stack.gateway_url}/api/v1/actors", json=body,
                               headers=manager if body["kind"] == "territory_manager" else {})
        assert answer.status_code == 201, (label, answer.text)
        created[answer.json()["actor_id"]] = body

    contracts = load(stack.env["CONTRACTS_DIR"])
    def ours(records):
        return [r for r in records if (r.key or b"").decode() in created]
    records = ours(read_topic(stack.env["KAFKA_BOOTSTRAP_SERVERS"], contracts.topic("actors"),
                              stop=lambda rs: len(ours(rs)) >= len(created), timeout=30))
    assert len(records) == len(created)
    for record in records:
        event = from_record(record.key, record.value, record.headers)
        assert event.type == ACTOR_REGISTERED
        contracts.validate(event.type, event.data)
        assert event.data["kind"] == created[event.subject]["kind"]

    # No pupil's name on any stream of the platform; the guardian's address only on the internal
    # `contacts` channel, which exists so that notify can write to the guardian (never partner-visible).
    pupil = bodies(marker)["pupil"]
    name, guardian = pupil["first_name"].encode(), created_pupil_guardian(created).encode()
    seen_guardian_on = set()
    for channel_name, channel in contracts.channels().items():
        for record in read_topic(stack.env["KAFKA_BOOTSTRAP_SERVERS"], channel.address, timeout=2):
            blob = (record.value or b"") + b"".join(v for _, v in (record.headers or []))
            assert name not in blob, channel.address
            if guardian in blob:
                seen_guardian_on.add(channel_name)
    assert seen_guardian_on == {"contacts"}

    # The map shows organisations and schools, never the pupil, and no email.
    features = requests.get(f"{stack.gateway_url}/api/v1/actors/map.geojson").json()["features"]
    on_map = {f["properties"]["actor_id"] for f in features}
    kinds = {created[a]["kind"] for a in on_map if a in created}
    assert "pupil" not in kinds and {"company", "school"} <= kinds
    assert "@" not in json.dumps(features)


def created_pupil_guardian(created: dict) -> str:
    return next(body["guardian_contact_email"] for body in created.values() if body["kind"] == "pupil")


def test_erasing_an_actor_purges_its_personal_data_and_publishes_a_tombstone(stack):
    marker = uuid.uuid4().hex[:8]
    company = bodies(marker)["company"]
    actor_id = requests.post(f"{stack.gateway_url}/api/v1/actors", json=company).json()["actor_id"]
    pledge = post_pledge(f"{stack.gateway_url}/api/v1/volunteers", stack.env, {
        "organisation_name": company["name"], "contact_email": company["contact_email"], "actor_id": actor_id,
        "town": "94080", "location": PLACE["location"], "action_types": ["testimony"]})
    assert pledge.status_code == 201, pledge.text
    volunteer_id = pledge.json()["volunteer_id"]

    assert requests.delete(f"{stack.gateway_url}/api/v1/actors/{actor_id}").status_code == 401  # anonymous
    manager = bearer(stack.env, "territory_manager")
    assert requests.delete(f"{stack.gateway_url}/api/v1/actors/{actor_id}", headers=manager).status_code == 204
    assert requests.get(f"{stack.gateway_url}/api/v1/actors/{actor_id}").status_code == 410
    assert requests.delete(f"{stack.gateway_url}/api/v1/actors/{actor_id}", headers=manager).status_code == 410

    from pymongo import MongoClient
    actors = MongoClient(stack.env["MONGODB_URI"]).vitawin_actors
    stored = json.dumps([actors.actors.find_one({"_id": actor_id}), actors.volunteers.find_one({"_id": volunteer_id})],
                        default=str)
    assert company["name"] not in stored and company["contact_email"] not in stored

    contracts = load(stack.env["CONTRACTS_DIR"])
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    def keyed(key, types):
        return lambda rs: [r for r in rs if r.key == key.encode() and headers(r)["ce_type"] in types]
    erased = keyed(actor_id, {"fr.vitawin.actor.erased.v1"})
    [tombstone] = erased(read_topic(bootstrap, contracts.topic("actors"), stop=erased, timeout=30))
    event = from_record(tombstone.key, tombstone.value, tombstone.headers)
    contracts.validate(event.type, event.data)
    assert set(event.data) == {"actor_id", "kind", "erased_at"}
    withdrawn = keyed(volunteer_id, {"fr.vitawin.volunteer.withdrawn.v1"})
    assert len(withdrawn(read_topic(bootstrap, contracts.topic("volunteers"), stop=withdrawn, timeout=30))) == 1
