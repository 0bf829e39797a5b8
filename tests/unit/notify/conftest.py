"""In-memory fakes for the notify service: a deliveries repository and a mailer that keeps the
rendered messages instead of sending them."""
from __future__ import annotations

import copy
import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from vitawin_common.config import territory_file
from vitawin_common.contracts import Contracts
from vitawin_common.events import Event

from vitawin_notify.adapters import compose, load_towns

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "contracts" / "examples" / "fr.vitawin.proposal.created.v1" / "basic.json"
SENDER = "Vitawin <ne-pas-repondre@vitawin.fr>"


class FakeDeliveries:
    def __init__(self):
        self.docs: dict[str, dict] = {}

    def is_sent(self, key):
        return self.docs.get(key, {}).get("status") == "sent"

    def record_sent(self, key, **fields):
        self.docs[key] = {"status": "sent", **fields}

    def for_proposal(self, proposal_id):
        return [{k: d[k] for k in ("template", "status", "sent_at")}
                for d in self.docs.values() if d["proposal_id"] == proposal_id]


class FakeUnitOfWork:
    def __init__(self, deliveries=None):
        self.deliveries = deliveries or FakeDeliveries()


class FakeMailer:
    """Renders each email with the real templates; `failures` makes the next sends raise."""

    def __init__(self):
        self.sent: list[EmailMessage] = []
        self.failures: list[Exception | None] = []

    def send(self, email):
        message = compose(email, SENDER)
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        self.sent.append(message)


def make_event(**changes) -> Event:
    """The contract's example proposal, with `changes` applied to its data ("request__town" sets data["request"]["town"])."""
    envelope = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data = copy.deepcopy(envelope["data"])
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        target = data
        for part in path:
            target = target[part]
        target[last] = value
    return Event(type=envelope["type"], source=envelope["source"], subject=data["proposal_id"],
                 data=data, id=envelope["id"], correlation_id=envelope["correlationid"])


@pytest.fixture
def contracts():
    return Contracts(ROOT / "contracts")


@pytest.fixture
def towns():
    return load_towns(territory_file())


@pytest.fixture
def uow():
    return FakeUnitOfWork()


@pytest.fixture
def mailer():
    return FakeMailer()


@pytest.fixture
def event_factory():
    return make_event
