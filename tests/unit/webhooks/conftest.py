"""Fixtures of the webhooks service's unit tests (the fakes are in webhooks_fakes.py)."""
import pytest

from tests.unit.webhooks.webhooks_fakes import Clock, FakeUnitOfWork


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def uow():
    return FakeUnitOfWork()
