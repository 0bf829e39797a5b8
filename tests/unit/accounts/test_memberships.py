"""Accounts from the `contacts` channel, removed on erasure (vitawin_accounts.handlers over the real
stores and a fake collection), and the worker's wiring (bootstrap.consumer_loop)."""
from __future__ import annotations

import copy
import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from kafka.structs import TopicPartition

from vitawin_common import kafka
from vitawin_common.config import Settings
from vitawin_common.events import to_record
from vitawin_common.testing import ProducerStandIn

from vitawin_accounts import bootstrap, domain
from vitawin_accounts.domain import UnknownKind, membership_from_contact
from vitawin_accounts.handlers import ACTOR_ERASED, CONTACT_REGISTERED

GUARDIAN = "parent.eleve@example.fr"


def accounts(db) -> list[dict]:
    return list(db["accounts"].docs.values())


def account_of(db, email: str) -> dict | None:
    return next((a for a in accounts(db) if a["email"] == email), None)


def roles(account: dict) -> list[tuple]:
    return [(m["role"], m["actor_id"], m.get("school_uai"), m["display_name"]) for m in account["memberships"]]


# --- From each kind of contact to a membership ----------------------------------------------------
@pytest.mark.parametrize("kind, role", [
    ("company", "professional"), ("craftsman", "professional"), ("local_authority", "professional"),
    ("association", "professional"), ("public_institution", "professional"), ("partner_organisation", "partner"),
    ("territory_manager", "territory_manager"),
])
def test_an_organisation_or_a_manager_gets_a_membership_with_the_role_of_its_kind(register, db, helpers, kind, role):
    register(kind, 1, "contact@entreprise.example.fr")

    account = account_of(db, "contact@entreprise.example.fr")
    expected_name = "Camille Martin" if kind == "territory_manager" else "Boulangerie des Vignerons"
    assert roles(account) == [(role, helpers.actor_id(1), None, expected_name)]
    assert account["_id"].startswith("acc-") and len(account["_id"]) == 4 + 32


def test_a_school_gets_a_school_referent_membership_with_its_uai(register, db, helpers):
    register("school", 2, "referent@college.example.fr")

    assert roles(account_of(db, "referent@college.example.fr")) == [
        ("school_referent", helpers.actor_id(2), "0940002X", "Collège Saint-Exupéry")]


def test_a_pupil_gets_a_pupil_membership_on_its_guardians_account_named_by_its_school_only(register, db, helpers):
    register("pupil", 3, GUARDIAN)

    assert roles(account_of(db, GUARDIAN)) == [("pupil", helpers.actor_id(3), "0940001W",
                                                "Élève (établissement 0940001W)")]


def test_an_unknown_kind_gives_no_role():
    with pytest.raises(UnknownKind):
        membership_from_contact({"actor_id": "act-1", "kind": "spaceship", "email": "a@b.fr"}, None)


def test_the_address_is_normalised_so_that_one_person_has_one_account(register, db, helpers):
    register("company", 1, "  Contact@Entreprise.Example.FR ")
    register("association", 2, "contact@entreprise.example.fr")
    register("pupil", 3, "CONTACT@entreprise.example.fr")

    assert [a["email"] for a in accounts(db)] == ["contact@entreprise.example.fr"]
    assert [m[1] for m in roles(accounts(db)[0])] == [helpers.actor_id(1), helpers.actor_id(2), helpers.actor_id(3)]


def test_a_replayed_registration_changes_nothing(memberships, db, helpers, clock):
    registered = helpers.contact_event("company", 1)
    memberships.on_contact_registered(registered)
    before = copy.deepcopy(db["accounts"].docs)

    clock.move(hours=2)
    memberships.on_contact_registered(registered)
    memberships.on_contact_registered(helpers.contact_event("company", 1, display_name="Autre nom"))

    assert db["accounts"].docs == before


def test_an_actor_registered_again_with_another_address_moves_to_that_account(register, db, helpers):
    register("company", 1, "ancienne@entreprise.example.fr")
    register("company", 1, "nouvelle@entreprise.example.fr")

    assert account_of(db, "ancienne@entreprise.example.fr") is None
    assert [m[1] for m in roles(account_of(db, "nouvelle@entreprise.example.fr"))] == [helpers.actor_id(1)]


# --- Erasure ---------------------------------------------------------------------------------------
def test_erasure_removes_the_membership_and_keeps_the_account_for_the_others(register, memberships, db, helpers):
    register("company", 1, GUARDIAN)
    register("pupil", 2, GUARDIAN)

    memberships.on_actor_erased(helpers.erased(1))

    assert [m[1] for m in roles(account_of(db, GUARDIAN))] == [helpers.actor_id(2)]


def test_erasure_of_the_last_membership_deletes_the_account_and_forgets_its_address(
        register, memberships, db, helpers, client, mailer):
    register("pupil", 2, GUARDIAN)
    client.post("/api/v1/auth/sign-in", json={"email": GUARDIAN})
    assert db["challenges"].docs

    memberships.on_actor_erased(helpers.erased(2, "pupil"))

    assert accounts(db) == []
    assert db["challenges"].docs == {}
    assert GUARDIAN not in repr(db["accounts"].docs) + repr(db["challenges"].docs) + repr(db["refresh_tokens"].docs)


def test_erasure_revokes_the_refresh_tokens_issued_for_the_actor(register, memberships, helpers, sign_in, client):
    register("company", 1, GUARDIAN)
    register("association", 4, GUARDIAN)
    for_erased = sign_in(GUARDIAN, helpers.actor_id(1)).json["refresh_token"]
    for_other = sign_in(GUARDIAN, helpers.actor_id(4)).json["refresh_token"]

    memberships.on_actor_erased(helpers.erased(1))

    refused = client.post("/api/v1/auth/token", json={"grant_type": "refresh_token", "refresh_token": for_erased})
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
    kept = client.post("/api/v1/auth/token", json={"grant_type": "refresh_token", "refresh_token": for_other})
    assert kept.status_code == 200
    assert [m["actor_id"] for m in kept.json["memberships"]] == [helpers.actor_id(4)]


def test_erasure_revokes_the_api_keys_of_the_actor(memberships, service, helpers, stores):
    key = service.create_api_key(name="Appli partenaire", role="partner", actor_id=helpers.actor_id(7),
                                 created_by="acc-manager")

    memberships.on_actor_erased(helpers.erased(7, "partner_organisation"))

    assert stores.api_keys.get(key["client_id"])["revoked_at"] is not None


def test_a_replayed_erasure_changes_nothing_and_a_later_registration_makes_no_membership(
        register, memberships, db, helpers, clock):
    register("company", 1, GUARDIAN)
    register("company", 2, GUARDIAN)
    memberships.on_actor_erased(helpers.erased(1))
    before = copy.deepcopy(db["accounts"].docs)

    clock.move(days=1)
    memberships.on_actor_erased(helpers.erased(1))
    register("company", 1, GUARDIAN)  # read after the erasure: the channels are not ordered together

    assert db["accounts"].docs == before


# --- The worker's wiring ---------------------------------------------------------------------------
class FakeKafkaConsumer:
    def __init__(self, batches, stop):
        self.batches, self.stop, self.committed = list(batches), stop, []

    def poll(self, timeout_ms=0):
        if self.batches:
            return self.batches.pop(0)
        self.stop.set()
        return {}

    def commit(self, offsets):
        self.committed.append({tp: meta.offset for tp, meta in offsets.items()})

    def seek(self, tp, offset):
        raise AssertionError("no event should fail")

    def assignment(self):
        return set()

    def close(self, autocommit=False):
        pass


def record(topic: str, offset: int, event) -> SimpleNamespace:
    key, value, headers = to_record(event)
    return SimpleNamespace(topic=topic, partition=0, offset=offset, key=key, value=value, headers=headers)


def test_the_worker_reads_contacts_and_actors_applies_both_events_and_dead_letters_a_poison_one(
        monkeypatch, memberships, db, helpers):
    stop = threading.Event()
    contacts, actors = TopicPartition("vitawin.contacts", 0), TopicPartition("vitawin.actors", 0)
    poison = helpers.contact_event("company", 9)
    poison = type(poison)(**{**poison.__dict__, "data": {**poison.data, "kind": "spaceship"}})
    batches = [{contacts: [record("vitawin.contacts", 0, helpers.contact_event("company", 1, GUARDIAN)),
                           record("vitawin.contacts", 1, helpers.contact_event("pupil", 2, GUARDIAN)),
                           record("vitawin.contacts", 2, poison)]},
               {actors: [record("vitawin.actors", 0, helpers.erased(1))]}]
    subscribed = {}

    def fake_consumer(settings, group_id, topics):
        subscribed.update(group_id=group_id, topics=topics)
        return FakeKafkaConsumer(batches, stop)
    monkeypatch.setattr(kafka, "consumer", fake_consumer)
    producer = ProducerStandIn()
    loop = bootstrap.consumer_loop(Settings(service_name="accounts"), producer, memberships)

    loop.run(stop)

    assert subscribed == {"group_id": "accounts", "topics": ["vitawin.contacts", "vitawin.actors"]}
    assert set(memberships.handlers()) == {CONTACT_REGISTERED, ACTOR_ERASED}
    assert [m[1] for m in roles(account_of(db, GUARDIAN))] == [helpers.actor_id(2)]
    assert [topic for topic, *_ in producer.sent] == ["vitawin.accounts.dlq"]
    assert loop.consumer.committed[-1] == {actors: 1}


def test_the_role_of_each_kind_is_a_role_of_the_access_tokens():
    from vitawin_common.identity import ROLES
    assert set(domain.ROLE_BY_KIND.values()) == set(ROLES)
    assert domain.Policy().link_ttl == timedelta(minutes=15) and domain.Policy().links_per_hour == 5
    assert domain.Policy().refresh_ttl == timedelta(days=30)
