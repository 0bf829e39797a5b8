"""In-memory fakes for the notify service: a deliveries repository and a mailer that keeps the
rendered messages instead of sending them; and, for notify's service layer (handlers.Notify), fakes
of store.py's repositories, a unit of work, links, a rendering mailer and a clock (NotifyHarness)."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path

import pytest

from vitawin_common import territory as territory_reference
from vitawin_common.config import territory_file
from vitawin_common.contracts import Contracts
from vitawin_common.contracts import load as load_contracts
from vitawin_common.events import Event
from vitawin_common.testing import InMemoryUnitOfWork

from vitawin_notify import domain as notify_domain
from vitawin_notify import handlers as notify_handlers
from vitawin_notify import messages as notify_messages
from vitawin_notify.adapters import compose, load_towns
from vitawin_notify.delivery import Deliverer, RetryPolicy

try:  # the preferences' own in-memory store (notify's handlers tests); a fake below otherwise
    from vitawin_notify.preferences import InMemoryPreferences
except ImportError:  # pragma: no cover
    InMemoryPreferences = None

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "contracts" / "examples" / "fr.vitawin.proposal.created.v1" / "basic.json"
SENDER = "Vitawin <ne-pas-repondre@vitawin.fr>"


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
def event_factory():
    return make_event


# --- Notify's service layer: fakes of store.py, a unit of work, links, a mailer and a clock --------
# (tests/unit/notify/test_handlers.py, test_schedule.py, test_consumer_wiring.py)
#
# The repositories keep store.py's semantics (upserts, $setOnInsert, $unset, the queries' filters
# and sort orders). Each write replaces a whole document (never changes one in place), so that
# InMemoryUnitOfWork's rollback (a shallow copy of `docs`) undoes it.

APP_URL = "https://vitawin.example.fr"
SCHEDULE_T0 = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)  # the examples' time


class _Repository:
    def __init__(self):
        self.docs: dict[str, dict] = {}

    def _put(self, key, doc):
        self.docs[key] = copy.deepcopy(doc)

    @staticmethod
    def _out(doc, *hidden):
        return {k: copy.deepcopy(v) for k, v in doc.items() if k not in hidden}


class FakeMongoDeliveries(_Repository):
    """store.MongoDeliveries."""

    def get(self, key):
        doc = self.docs.get(key)
        return copy.deepcopy(doc) if doc is not None else None

    def status(self, key):
        doc = self.docs.get(key)
        return doc.get("status") if doc else None

    def attempts(self, key):
        doc = self.docs.get(key)
        return int(doc.get("attempts", 0)) if doc else 0

    def record(self, key, *, status, attempts, at, recipient_hash, job=None, **fields):
        if job is None and "next_at" in fields:  # MongoDB: $set and $unset of one path conflict
            raise ValueError("Updating the path 'next_at' would create a conflict at 'next_at'")
        old = self.docs.get(key)
        doc = copy.deepcopy(old) if old is not None else {"_id": key, "first_at": at}
        doc.update(status=status, attempts=attempts, at=at, recipient_sha256=recipient_hash, **fields)
        if job is None:
            doc.pop("job", None)
            doc.pop("next_at", None)
        else:
            doc["job"] = job
        if status == "sent":
            doc["sent_at"] = at
        self._put(key, doc)

    def for_subject(self, subject_id):
        found = [d for d in self.docs.values() if d.get("subject_id") == subject_id]
        found.sort(key=lambda d: (d["first_at"], d.get("template") or ""))
        return [self._out(d, "_id", "job", "recipient_sha256") for d in found]

    def for_recipient(self, recipient_hash, limit=200):
        found = [d for d in self.docs.values() if d.get("recipient_sha256") == recipient_hash]
        found.sort(key=lambda d: d["at"])
        return [self._out(d, "_id", "job", "recipient_sha256") for d in found[:limit]]


class FakeMongoDigests(_Repository):
    """store.MongoDigests."""

    def add(self, key, *, recipient_hash, mode, job, queued_at):
        if key not in self.docs:  # $setOnInsert
            self._put(key, {"_id": key, "recipient_sha256": recipient_hash, "mode": mode, "job": job,
                            "queued_at": queued_at})

    def recipients_due(self, mode, queued_before):
        return sorted({d["recipient_sha256"] for d in self.docs.values()
                       if d["mode"] == mode and d["queued_at"] < queued_before})

    def items(self, recipient_hash, queued_before, mode):
        found = [d for d in self.docs.values()
                 if d["recipient_sha256"] == recipient_hash and d["mode"] == mode and d["queued_at"] < queued_before]
        found.sort(key=lambda d: (d["queued_at"], d["_id"]))
        return copy.deepcopy(found)

    def remove(self, keys):
        for key in keys:
            self.docs.pop(key, None)

    def forget_recipient(self, recipient_hash):
        gone = [key for key, doc in self.docs.items() if doc["recipient_sha256"] == recipient_hash]
        self.remove(gone)
        return len(gone)


def _is_date(value):
    return isinstance(value, datetime)


class FakeMongoRememberedProposals(_Repository):
    """store.MongoRememberedProposals ({"reminded_at": None} matches null or absent; a range
    query on a date never matches an absent or null field)."""

    def remember(self, doc):
        if doc["proposal_id"] not in self.docs:  # $setOnInsert
            self._put(doc["proposal_id"], {"_id": doc["proposal_id"], **doc})

    def get(self, proposal_id):
        doc = self.docs.get(proposal_id)
        return self._out(doc, "_id") if doc is not None else None

    def _set(self, proposal_id, **values):
        doc = self.docs.get(proposal_id)
        if doc is not None:
            self._put(proposal_id, {**doc, **values})

    def settle(self, proposal_id, status, at):
        doc = self.docs.get(proposal_id)
        if doc is not None and doc.get("settled_at") is None:  # once, as MongoRememberedProposals
            self._set(proposal_id, status=status, settled_at=at)

    def set_status(self, proposal_id, status):
        doc = self.docs.get(proposal_id)
        if doc is not None and doc.get("settled_at") is None:  # never over a settled one
            self._set(proposal_id, status=status)

    def due_for_reminder(self, created_before, now, limit=500):
        found = [d for d in self.docs.values()
                 if d.get("status") == "pending" and d.get("reminded_at") is None
                 and _is_date(d.get("created_at")) and d["created_at"] <= created_before
                 and _is_date(d.get("deadline_at")) and d["deadline_at"] > now]
        found.sort(key=lambda d: d["created_at"])
        return [self._out(d, "_id") for d in found[:limit]]

    def mark_reminded(self, proposal_id, at):
        doc = self.docs.get(proposal_id)
        if doc is None or doc.get("reminded_at") is not None:
            return False
        self._put(proposal_id, {**doc, "reminded_at": at})
        return True

    def forget_settled(self, settled_before):
        gone = [k for k, d in self.docs.items() if _is_date(d.get("settled_at")) and d["settled_at"] < settled_before]
        for key in gone:
            del self.docs[key]
        return len(gone)

    def forget_addresses_of(self, email_hashes):
        for key, doc in list(self.docs.items()):
            changed = dict(doc)
            for name in ("volunteer_email", "requester_email"):
                if doc.get(f"{name}_sha256") in email_hashes:
                    changed.pop(name, None)  # $unset: the field goes, its hash stays
            if changed != doc:
                self._put(key, changed)


class FakeMongoContacts(_Repository):
    """store.MongoContacts."""

    def __init__(self):
        super().__init__()
        self._order = 0

    def add(self, doc):
        self._order += 1
        self._put(doc["actor_id"], {"_id": doc["actor_id"], **doc, "__order": self._order})

    def get(self, actor_id):
        doc = self.docs.get(actor_id)
        return self._out(doc, "_id", "__order") if doc is not None else None

    def referent_of(self, school_uai):
        found = [d for d in self.docs.values() if d.get("kind") == "school" and d.get("school_uai") == school_uai]
        if not found:
            return None
        # sort registered_at descending (absent sorts lowest); ties: the later written
        newest = max(found, key=lambda d: (d.get("registered_at") is not None, d.get("registered_at") or "",
                                           d["__order"]))
        return self._out(newest, "_id", "__order")

    def forget(self, actor_id):
        self.docs.pop(actor_id, None)


class FakeMongoPupilRequests(_Repository):
    """store.MongoPupilRequests."""

    def track(self, doc):
        if doc["request_id"] not in self.docs:
            self._put(doc["request_id"], {**doc, "status": "open", "pending": [], "accepted": []})

    def close(self, request_id, status):
        if request_id in self.docs:
            self._put(request_id, {**self.docs[request_id], "status": status})

    def proposal_made(self, request_id, proposal_id):
        doc = self.docs.get(request_id)
        if doc is not None and proposal_id not in doc["pending"]:
            self._put(request_id, {**doc, "pending": doc["pending"] + [proposal_id]})

    def proposal_settled(self, request_id, proposal_id, accepted):
        doc = self.docs.get(request_id)
        if doc is None:
            return
        accepted_ids = doc["accepted"] + ([proposal_id] if accepted and proposal_id not in doc["accepted"] else [])
        self._put(request_id, {**doc, "pending": [p for p in doc["pending"] if p != proposal_id],
                               "accepted": accepted_ids})

    def schools_with_open_requests(self):
        return sorted({d["school_uai"] for d in self.docs.values() if d["status"] == "open"})

    def open_for(self, school_uai):
        found = [copy.deepcopy(d) for d in self.docs.values() if d["school_uai"] == school_uai and d["status"] == "open"]
        return sorted(found, key=lambda d: (d.get("created_at") or "", d["request_id"]))


class FakePreferenceStore:
    """Only when vitawin_notify.preferences has no InMemoryPreferences."""

    def __init__(self):
        self.docs: dict[str, dict] = {}

    def mode(self, recipient, category):
        doc = self.docs.get(recipient, {})
        return "off" if category in doc.get("unsubscribed", ()) else doc.get("modes", {}).get(category, "immediate")

    def choose(self, recipient, choices, now):
        doc = self.docs.setdefault(recipient, {"modes": {}, "unsubscribed": {}})
        for category, choice in choices.items():
            if choice == "off":
                doc["unsubscribed"][category] = now
            else:
                doc["modes"][category] = choice
                doc["unsubscribed"].pop(category, None)

    def unsubscribe(self, recipient, category, now):
        self.choose(recipient, {category: "off"}, now)


class FakeNotifyUnitOfWork(InMemoryUnitOfWork):
    """store.NotifyUnitOfWork over the harness's repositories. Like the real outbox, each published
    event is checked against its contract and its channel must exist; committed publications
    reach `harness.published`, the others are rolled back with the documents."""

    def __init__(self, harness):
        super().__init__()
        self.harness = harness
        self.deliveries = self.attach(harness.deliveries)
        self.digests = self.attach(harness.digests)
        self.proposals = self.attach(harness.proposals)
        self.contacts = self.attach(harness.contacts)
        self.pupil_requests = self.attach(harness.pupil_requests)
        self.requesters = self.attach(harness.requesters)
        self.preferences = harness.preferences

    def publish(self, event, channel):
        self.harness.contracts.validate(event.type, event.data)
        self.harness.contracts.topic(channel)
        super().publish(event, channel)

    def commit(self):
        if self.harness.fail_commits:
            self.harness.fail_commits -= 1
            raise RuntimeError("database down")
        super().commit()
        self.harness.published.extend(self.published)
        self.published = []


class FakeLinks:
    """Deterministic links; `answers` logs what was asked. No address in any URL."""

    def __init__(self, base=APP_URL):
        self.base = base
        self.answers: list[tuple[str, str, str, datetime]] = []

    def answer_url(self, proposal_id, side, answer, expires_at):
        self.answers.append((proposal_id, side, answer, expires_at))
        until = expires_at.astimezone(timezone.utc)
        return f"{self.base}/liens/{proposal_id}/{side}/{answer}?jusqua={until:%Y%m%dT%H%MZ}"

    def unsubscribe_url(self, address, category):
        return f"{self.base}/desinscription/{category}/{notify_domain.recipient_hash(address)[:16]}"


class RenderingMailer:
    """Renders every email with the real templates (adapters.compose) before "sending" it;
    `failures`: what the next sends raise (None: that one goes)."""

    def __init__(self):
        self.outbox: list[tuple] = []  # (Email, EmailMessage)
        self.failures: list[Exception | None] = []
        self.tries = 0

    def send(self, email):
        message = compose(email, SENDER)
        self.tries += 1
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        self.outbox.append((email, message))

    @property
    def emails(self):
        return [email for email, _ in self.outbox]

    @property
    def messages(self):
        return [message for _, message in self.outbox]

    def sent(self):
        """(template, address) of each email sent, in order."""
        return [(email.template, email.to) for email in self.emails]

    def to(self, address):
        return [(email, message) for email, message in self.outbox if email.to == address]


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def set(self, moment):
        self.now = moment
        return moment

    def advance(self, **delta):
        self.now = self.now + timedelta(**delta)
        return self.now


def example_event(name, example="basic", *, drop=(), event_id=None, **changes) -> Event:
    """contracts/examples/fr.vitawin.<name>/<example>.json as an Event; `changes` set data fields
    ("request__school_uai" sets data["request"]["school_uai"]), `drop` removes some."""
    envelope = json.loads((ROOT / "contracts" / "examples" / f"fr.vitawin.{name}" / f"{example}.json")
                          .read_text(encoding="utf-8"))
    data = copy.deepcopy(envelope["data"])

    def parent(dotted):
        *path, last = dotted.split("__")
        target = data
        for part in path:
            target = target[part]
        return target, last

    for dotted, value in changes.items():
        target, last = parent(dotted)
        target[last] = value
    for dotted in drop:
        target, last = parent(dotted)
        del target[last]
    time = datetime.fromisoformat(envelope["time"].replace("Z", "+00:00"))
    return Event(type=envelope["type"], source=envelope["source"], subject=envelope["subject"], data=data,
                 id=event_id or envelope["id"], time=time, correlation_id=envelope["correlationid"])


@lru_cache(maxsize=1)
def _territory():
    return notify_messages.Territory.from_reference(territory_reference.load(territory_file()))


class NotifyHarness:
    """`Notify` and the real `Deliverer` over in-memory repositories, a rendering mailer, fake
    links, the preferences' in-memory store and a clock the test moves."""

    def __init__(self, contracts, now=SCHEDULE_T0, policy=None, **settings):
        self.contracts = contracts
        self.clock = Clock(now)
        self.deliveries, self.digests = FakeMongoDeliveries(), FakeMongoDigests()
        self.proposals, self.contacts = FakeMongoRememberedProposals(), FakeMongoContacts()
        self.pupil_requests = FakeMongoPupilRequests()
        self.requesters = FakeMongoRequesters()  # defined at the end of this file
        self.preferences = InMemoryPreferences() if InMemoryPreferences is not None else FakePreferenceStore()
        self.published: list[tuple] = []
        self.fail_commits = 0
        self.links = FakeLinks()
        self.mailer = RenderingMailer()
        self.territory = _territory()
        self.settings = notify_handlers.Settings(territory=self.territory, links=self.links, app_url=APP_URL,
                                                 **settings)
        self.policy = policy or RetryPolicy(max_attempts=3, initial_s=5, max_s=60, jitter_s=0)
        self.deliverer = Deliverer(self.uow, self.mailer, self.policy, clock=self.clock)
        self.notify = notify_handlers.Notify(self.uow, self.deliverer, self.settings, clock=self.clock)

    def uow(self):
        return FakeNotifyUnitOfWork(self)

    def handle(self, event, validate=True):
        """What the consumer loop does with a record: check the contract, call the handler."""
        if validate:
            self.contracts.validate(event.type, event.data)
        return self.notify.handlers()[event.type](event)

    def example(self, name, example="basic", **kwargs):
        return example_event(name, example, **kwargs)

    def prefer(self, address, **choices):
        """proposals="daily", requests="off"..."""
        self.preferences.choose(notify_domain.recipient_hash(address), choices, self.clock())

    def published_types(self):
        return [(event.type, channel) for event, channel in self.published]

    def delivery(self, event_id, address, template):
        return self.deliveries.docs.get(notify_domain.delivery_key(event_id, address, template))


@pytest.fixture
def harness():
    return NotifyHarness(load_contracts(ROOT / "contracts"))


@pytest.fixture
def make_harness():
    return lambda **kwargs: NotifyHarness(load_contracts(ROOT / "contracts"), **kwargs)


@pytest.fixture
def example():
    return example_event


# --- issue 6: the link request -> pupil, for the guardians' copies -----------------------------------

class FakeMongoRequesters(_Repository):
    """store.MongoRequesters: {request_id, requester_actor_id, school_uai} by request id."""

    def add(self, doc):
        self._put(doc["request_id"], {"_id": doc["request_id"], **doc})  # replace_one, upsert

    def get(self, request_id):
        doc = self.docs.get(request_id)
        return self._out(doc, "_id") if doc is not None else None

    def forget_actor(self, actor_id):
        gone = [key for key, doc in self.docs.items() if doc["requester_actor_id"] == actor_id]
        for key in gone:
            del self.docs[key]
        return len(gone)


def emails_for_proposal(event_id, data, towns):
    """The emails of a proposal.created event with fake links and a fixed deadline (for the tests
    of templates, composing and sending that need real emails, not the handler's decisions)."""
    from vitawin_notify import messages
    territory = messages.Territory("Paris Est Marne et Bois", towns)
    return messages.proposal_created(event_id, data, territory, FakeLinks(), deadline=SCHEDULE_T0 + timedelta(days=7))

