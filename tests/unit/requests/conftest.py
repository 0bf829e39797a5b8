"""In-memory fakes and an app wired to them: no server."""
from __future__ import annotations

import pytest

from vitawin_common import contracts
from vitawin_common.config import Settings
from vitawin_common.testing import InMemoryRepository, InMemoryUnitOfWork

from vitawin_requests import bootstrap
from vitawin_requests.api import create_app


class FakeRequests(InMemoryRepository):
    id_field = "request_id"

    def list(self, *, limit=50, **filters) -> list[dict]:
        return self.newest(lambda doc: all(doc[field] == value for field, value in filters.items()
                                           if value is not None), limit)


@pytest.fixture
def territory():
    return bootstrap.territory()


@pytest.fixture
def contract_set():
    return contracts.load(Settings(service_name="requests-tests").contracts_dir)


@pytest.fixture
def uow():
    """Documents in `uow.requests.docs`, published (event, channel) pairs in `uow.published`; writes
    made in a `with` block without commit() are rolled back."""
    uow = InMemoryUnitOfWork()
    uow.requests = uow.attach(FakeRequests())
    return uow


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
