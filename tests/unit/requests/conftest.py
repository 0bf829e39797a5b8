"""In-memory fakes and an app wired to them: no server."""
from __future__ import annotations

import copy

import pytest

from vitawin_common import contracts
from vitawin_common.config import Settings

from vitawin_requests import bootstrap
from vitawin_requests.api import create_app


class FakeRequests:
    def __init__(self):
        self.docs: dict[str, dict] = {}

    def add(self, doc: dict) -> None:
        self.docs[doc["request_id"]] = copy.deepcopy(doc)

    def get(self, request_id: str) -> dict | None:
        return copy.deepcopy(self.docs.get(request_id))

    def list(self, *, limit=50, **filters) -> list[dict]:
        found = [doc for doc in self.docs.values()
                 if all(doc[field] == value for field, value in filters.items() if value is not None)]
        return copy.deepcopy(sorted(found, key=lambda doc: doc["created_at"], reverse=True)[:limit])


class FakeUnitOfWork:
    """Stores documents in a dict and published (event, channel) pairs in a list; writes made in a
    `with` block without commit() are rolled back."""

    def __init__(self):
        self.requests = FakeRequests()
        self.published: list[tuple] = []
        self.committed = False

    def __enter__(self):
        self._snapshot = (dict(self.requests.docs), list(self.published))
        self.committed = False
        return self

    def __exit__(self, *exc_info):
        if not self.committed:
            self.requests.docs, self.published = self._snapshot

    def publish(self, event, channel: str) -> None:
        self.published.append((event, channel))

    def commit(self) -> None:
        self.committed = True


@pytest.fixture
def territory():
    return bootstrap.territory()


@pytest.fixture
def contract_set():
    return contracts.load(Settings(service_name="requests-tests").contracts_dir)


@pytest.fixture
def uow():
    return FakeUnitOfWork()


@pytest.fixture
def client(uow, territory):
    app = create_app(uow_factory=lambda: uow, territory=territory)
    return app.test_client()


@pytest.fixture
def payload():
    """A valid request of a school in Fontenay-sous-Bois (94033), near the town centre."""
    return {
        "requester_kind": "school",
        "contact_email": "referent@college-saint-exupery.example.fr",
        "action_type": "testimony",
        "town": "94033",
        "location": {"lat": 48.8517, "lon": 2.4769},
        "max_distance_km": 15,
    }
