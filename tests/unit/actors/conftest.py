"""In-memory fakes and an app wired to them: no server."""
from __future__ import annotations

import copy

import pytest

from vitawin_common import contracts
from vitawin_common.config import Settings

from vitawin_actors import bootstrap
from vitawin_actors.api import create_app


class FakeVolunteers:
    def __init__(self):
        self.docs: dict[str, dict] = {}

    def add(self, doc: dict) -> None:
        self.docs[doc["volunteer_id"]] = copy.deepcopy(doc)

    def get(self, volunteer_id: str) -> dict | None:
        return copy.deepcopy(self.docs.get(volunteer_id))

    def list(self, *, town=None, action_type=None, limit=50) -> list[dict]:
        found = [doc for doc in self.docs.values()
                 if town in (None, doc["town"]) and (action_type is None or action_type in doc["action_types"])]
        return copy.deepcopy(sorted(found, key=lambda doc: doc["created_at"], reverse=True)[:limit])


class FakeUnitOfWork:
    """Stores documents in a dict and published (event, channel) pairs in a list; writes made in a
    `with` block without commit() are rolled back."""

    def __init__(self):
        self.volunteers = FakeVolunteers()
        self.published: list[tuple] = []
        self.committed = False

    def __enter__(self):
        self._snapshot = (dict(self.volunteers.docs), list(self.published))
        self.committed = False
        return self

    def __exit__(self, *exc_info):
        if not self.committed:
            self.volunteers.docs, self.published = self._snapshot

    def publish(self, event, channel: str) -> None:
        self.published.append((event, channel))

    def commit(self) -> None:
        self.committed = True


@pytest.fixture
def territory():
    return bootstrap.territory()


@pytest.fixture
def contract_set():
    return contracts.load(Settings(service_name="actors-tests").contracts_dir)


@pytest.fixture
def uow():
    return FakeUnitOfWork()


@pytest.fixture
def client(uow, territory):
    app = create_app(uow_factory=lambda: uow, territory=territory)
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
