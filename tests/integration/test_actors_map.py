"""The map's in-memory index kept fresh from the real database server (SecantusDB): two followers
stand for two processes (gunicorn workers or replicas); actors registered and erased through the
service's handlers and real unit of work (one transaction each) in "another process" are on, or
off, the very next answer of a follower loaded before; the catch-up reads only organisations and
schools, never a contact e-mail; the erased_at index exists."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from pymongo import MongoClient

from vitawin_common import contracts
from vitawin_common.config import Settings
from vitawin_common.outbox import Outbox
from vitawin_common.territory import Location

from vitawin_actors import handlers
from vitawin_actors.adapters import MongoUnitOfWork
from vitawin_actors.domain import (Actor, Address, BoundingBox, RegisterOrganisation, RegisterPupil, RegisterSchool)
from vitawin_actors.map_follower import MapIndexFollower

pytestmark = pytest.mark.integration

TERRITORY = BoundingBox(2.3, 48.7, 2.7, 48.95)
ADDRESS = Address("1 rue de Fontenay", "94300")


@pytest.fixture(scope="module")
def client(infrastructure):
    client = MongoClient(infrastructure.env["MONGODB_URI"], tz_aware=True)
    yield client
    client.close()


@pytest.fixture
def new_uow(client):
    name = f"it_actors_map_{uuid.uuid4().hex[:8]}"
    db = client[name]
    outbox = Outbox(db, contracts.load(Settings(service_name="actors-tests").contracts_dir))
    MongoUnitOfWork(client, db, outbox).ensure_indexes()
    yield lambda: MongoUnitOfWork(client, db, outbox)
    client.drop_database(name)


def follower(new_uow, **kwargs) -> MapIndexFollower:
    return MapIndexFollower(lambda: new_uow().actors, **kwargs)


def company(name: str, lat: float = 48.8478, lon: float = 2.4385) -> RegisterOrganisation:
    return RegisterOrganisation("company", name, "contact@example.fr", "12345678200010", "10.71C", ADDRESS, "94080",
                                Location(lat, lon))


def on_map(f: MapIndexFollower) -> set[str]:
    return {p.actor_id for p in f.fresh().select(TERRITORY)}


def test_another_process_writes_and_the_next_answer_shows_it(new_uow):
    before = handlers.register_actor(company("Boulangerie"), new_uow()).actor_id
    reader = follower(new_uow)
    assert on_map(reader) == {before}

    # "Another process": its own units of work; the reader learns nothing but what MongoDB holds.
    school = handlers.register_actor(RegisterSchool("Lycée", "r@example.fr", "0940120V", "college", ["3e"], ADDRESS,
                                                    "94080", Location(48.8470, 2.4400)), new_uow()).actor_id
    pupil = handlers.register_actor(RegisterPupil("Léa", "3e", "0940120V", "94080",
                                                  guardian_contact_email="g@example.fr"), new_uow()).actor_id
    assert on_map(reader) == {before, school}
    assert pupil not in reader.index and not reader.index.is_erased(pupil)

    handlers.erase_actor(before, new_uow())
    assert on_map(reader) == {school}
    assert reader.index.is_erased(before)
    assert on_map(reader) == {school}  # the erasure read again (within the margin): still gone


def test_the_catch_up_reads_only_the_map_fields_of_organisations_and_schools(new_uow):
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    kept = handlers.register_actor(company("Imprimerie"), new_uow()).actor_id
    erased = handlers.register_actor(company("Menuiserie"), new_uow()).actor_id
    handlers.register_actor(RegisterPupil("Léo", "4e", "0940120V", "94080", guardian_contact_email="p@example.fr"),
                            new_uow())
    handlers.erase_actor(erased, new_uow())
    docs = new_uow().actors.map_changes(since)
    assert [doc["actor_id"] for doc in docs] == [kept, erased]
    assert set(docs[0]) == {"actor_id", "kind", "name", "town", "location"}
    assert docs[1] == {"actor_id": erased, "kind": "company", "status": "erased"}
    assert "erased_at_1" in new_uow().actors.collection.index_information()


def test_the_margin_catches_a_document_whose_created_at_is_older_than_the_watermark(new_uow):
    reader = follower(new_uow, margin_s=15)
    assert on_map(reader) == set()
    # As an import batch committed a few seconds after its rows were read (and given created_at):
    late = Actor.register(company("Serrurerie"), now=datetime.now(timezone.utc) - timedelta(seconds=5))
    uow = new_uow()
    uow.actors.add(late.to_document())
    assert late.actor_id in on_map(reader)


def test_a_second_process_loads_what_the_first_one_has(new_uow):
    for n in range(30):
        handlers.register_actor(company(f"Organisation {n}", lat=48.84 + n / 2000), new_uow())
    first, second = follower(new_uow), follower(new_uow)
    first.start().join(timeout=60)
    assert first.last_load["points"] == 30
    assert first.fresh().feature_collection(TERRITORY, zoom=12) == second.fresh().feature_collection(TERRITORY,
                                                                                                    zoom=12)
