"""In-memory fakes and an app wired to them: no server. Access tokens: a key pair of the test run
(`keys`), apps that trust it (`verified`), the Authorization header of a token (`bearer`) and a
territory manager's (`manager`)."""
from __future__ import annotations

import copy

import pytest

from vitawin_common import contracts, identity
from vitawin_common.config import Settings
from vitawin_common.identity import TokenIssuer, TokenVerifier
from vitawin_common.testing import InMemoryRepository, InMemoryUnitOfWork

from vitawin_actors import bootstrap
from vitawin_actors.api import create_app
from vitawin_actors.domain import MAPPED_KINDS, PledgeFilter
from vitawin_actors.handlers import ConcurrentChange


class FakeVolunteers(InMemoryRepository):
    """VolunteerRepository's page (what `PledgeFilter.matches` selects), linked_to and replace (over
    the version read, ConcurrentChange otherwise)."""
    id_field = "volunteer_id"

    def linked_to(self, actor_id) -> list[dict]:
        return [copy.deepcopy(doc) for doc in self.docs.values() if doc.get("actor_id") == actor_id]

    def page(self, where=PledgeFilter(), *, page=1, page_size=50) -> tuple[list[dict], int]:
        found = self.newest(where.matches, len(self.docs))
        return found[(page - 1) * page_size: page * page_size], len(found)

    def replace(self, doc: dict, expected_version: int) -> None:
        stored = self.docs.get(doc["volunteer_id"])
        if stored is None or stored.get("version", 1) != expected_version:
            raise ConcurrentChange(doc["volunteer_id"])
        self.docs[doc["volunteer_id"]] = copy.deepcopy(doc)


class FakeActors(InMemoryRepository):
    """ActorRepository's page, map_documents, map_changes and replace over the in-memory documents
    (tombstones of erased actors are listed nowhere; an actor without a location, a pupil or a
    territory manager, is outside any bbox)."""
    id_field = "actor_id"
    MAP_FIELDS = ("actor_id", "kind", "name", "town", "location", "status")

    def page(self, *, kinds=None, town=None, bbox=None, page=1, page_size=50) -> tuple[list[dict], int]:
        found = self.newest(lambda doc: doc.get("status") != "erased" and (not kinds or doc["kind"] in kinds)
                            and town in (None, doc.get("town"))
                            and (bbox is None or ("location" in doc and bbox.contains(doc["location"]))),
                            len(self.docs))
        return found[(page - 1) * page_size: page * page_size], len(found)

    def _map_view(self, doc: dict) -> dict:
        return copy.deepcopy({name: doc[name] for name in self.MAP_FIELDS if name in doc})

    def map_documents(self) -> list[dict]:
        return [self._map_view(doc) for doc in list(self.docs.values()) if doc["kind"] in MAPPED_KINDS]

    def map_changes(self, since) -> list[dict]:
        docs = [doc for doc in list(self.docs.values()) if doc["kind"] in MAPPED_KINDS]
        created = [self._map_view(doc) for doc in docs if "created_at" in doc and doc["created_at"] >= since]
        erased = [{"actor_id": doc["actor_id"], "kind": doc["kind"], "status": doc["status"]}
                  for doc in docs if "erased_at" in doc and doc["erased_at"] >= since]
        return created + erased

    def replace(self, doc: dict) -> None:
        self.docs[doc["actor_id"]] = copy.deepcopy(doc)


@pytest.fixture
def territory():
    return bootstrap.territory()


@pytest.fixture
def contract_set():
    return contracts.load(Settings(service_name="actors-tests").contracts_dir)


@pytest.fixture
def uow():
    """Documents in `uow.volunteers.docs` and `uow.actors.docs`, published (event, channel) pairs in
    `uow.published`; writes made in a `with` block without commit() are rolled back."""
    uow = InMemoryUnitOfWork()
    uow.volunteers = uow.attach(FakeVolunteers())
    uow.actors = uow.attach(FakeActors())
    return uow


@pytest.fixture(scope="session")
def keys() -> tuple[bytes, bytes]:
    """The key pair of this test run, as PEM: (private, public)."""
    return identity.generate_keys()


@pytest.fixture
def verified(keys):
    """verified(app) makes `app` trust the tokens signed with `keys` (what AUTH_PUBLIC_KEY_FILE does
    in a stack) and returns it."""
    def trust(app):
        identity.init_app(app, TokenVerifier(keys[1]))
        return app
    return trust


@pytest.fixture
def bearer(keys):
    """bearer(role, **claims): the Authorization header of a token signed with `keys`, e.g.
    bearer("professional", actor_id="act-...")."""
    issuer = TokenIssuer(keys[0])

    def headers(role: str, **claims) -> dict[str, str]:
        return {"Authorization": f"Bearer {issuer.issue('acc-tests', role, **claims)}"}
    return headers


@pytest.fixture
def manager(bearer) -> dict[str, str]:
    """The Authorization header of a territory manager: who registers a pledge of no organisation
    (POST /api/v1/volunteers is for the professional of the pledge's organisation, or a manager)."""
    return bearer("territory_manager")


@pytest.fixture
def client(uow, territory, verified):
    app = verified(create_app(uow_factory=lambda: uow, territory=territory))
    return app.test_client()


@pytest.fixture
def payload():
    """A valid pledge in Vincennes (94080), a few hundred metres from the town centre."""
    return {
        "organisation_name": "Boulangerie des Vignerons",
        "contact_email": "contact@boulangerie-vignerons.example.fr",
        "town": "94080",
        "location": {"lat": 48.8478, "lon": 2.4385},
        "action_types": ["testimony", "internship"],
        "max_distance_km": 8,
    }
