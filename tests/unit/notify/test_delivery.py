"""Delivery: once per key, preferences read at send time, transient failures through the retry
channel with tenacity's backoff, failures for good as events and dead letters (no address)."""
from __future__ import annotations

import copy
import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from vitawin_common.testing import InMemoryUnitOfWork

from vitawin_notify import delivery
from vitawin_notify.adapters import TransientMailError
from vitawin_notify.delivery import Deliverer, RetryPolicy
from vitawin_notify.domain import Email, RecipientRejected, recipient_hash

T0 = datetime(2027, 2, 1, 9, 0, tzinfo=timezone.utc)
TO = "contact@boulangerie.example.fr"


def email(**changes) -> Email:
    names = {f.name for f in dataclasses.fields(Email)}
    values = {"event_id": "evt-1", "template": "proposal_to_volunteer", "to": TO,
              "subject": "Vitawin : une demande", "context": {"proposal_id": "prop-1"},
              "role": "volunteer", "subject_id": "prop-1", "category": "proposals", "unsubscribe_url": None}
    values.update(changes)
    return Email(**{k: v for k, v in values.items() if k in names})


class Docs:
    def __init__(self):
        self.docs: dict[str, dict] = {}


class FakeDeliveries(Docs):
    def get(self, key):
        return copy.deepcopy(self.docs.get(key))

    def status(self, key):
        return self.docs.get(key, {}).get("status")

    def attempts(self, key):
        return self.docs.get(key, {}).get("attempts", 0)

    def record(self, key, *, status, attempts, at, recipient_hash, job=None, **fields):
        doc = dict(self.docs.get(key, {}), status=status, attempts=attempts, at=at,
                   recipient_sha256=recipient_hash, **fields)
        doc.pop("job", None)
        if job is not None:
            doc["job"] = copy.deepcopy(job)
        self.docs = {**self.docs, key: doc}


class FakeDigests(Docs):
    def add(self, key, **fields):
        self.docs = {**self.docs, key: fields}


class FakePreferences(Docs):
    def mode(self, rcpt, category):
        return self.docs.get(rcpt, {}).get(category, "immediate")


class FakeUow(InMemoryUnitOfWork):
    """One unit of work over the world's repositories; what it publishes reaches the world only
    when committed."""

    def __init__(self, world):
        super().__init__()
        self.world = world
        self.deliveries = self.attach(world.deliveries)
        self.digests = self.attach(world.digests)
        self.preferences = self.attach(world.preferences)

    def commit(self):
        super().commit()
        self.world.published.extend(self.published)
        self.published = []


class World:
    def __init__(self):
        self.deliveries, self.digests, self.preferences = FakeDeliveries(), FakeDigests(), FakePreferences()
        self.published: list = []
        self.now = T0

    def uow(self):
        return FakeUow(self)


class Mailer:
    def __init__(self, failures=()):
        self.failures = list(failures)
        self.sent: list[Email] = []

    def send(self, mail):
        if self.failures:
            failure = self.failures.pop(0)
            if failure is not None:
                raise failure
        self.sent.append(mail)


@pytest.fixture
def world():
    return World()


def deliverer(world, mailer, policy=RetryPolicy(max_attempts=3, initial_s=5, max_s=60, jitter_s=0)):
    return Deliverer(world.uow, mailer, policy, clock=lambda: world.now)


def types(world):
    return [(event.type, channel) for event, channel in world.published]


def test_an_email_is_sent_once_with_a_sent_event_that_names_no_one(world):
    mailer = Mailer()
    d = deliverer(world, mailer)
    assert d.deliver(email()) == "sent"
    assert d.deliver(email()) == "already"
    assert len(mailer.sent) == 1
    assert types(world) == [(delivery.NOTIFICATION_SENT, "notifications")]
    event = world.published[0][0]
    assert TO not in repr(event) and event.data["recipient_role"] == "volunteer"
    assert event.data["delivery_key"] == email().key and event.data["attempts"] == 1
    assert world.deliveries.docs[email().key]["status"] == "sent"
    assert "job" not in world.deliveries.docs[email().key]


def test_a_transient_failure_schedules_a_retry_without_the_address_and_keeps_the_email_in_the_database(world):
    d = deliverer(world, Mailer([TransientMailError("ConnectionRefusedError")]))
    assert d.deliver(email()) == "retrying"
    [(event, channel)] = world.published
    assert (event.type, channel) == (delivery.NOTIFICATION_RETRY, "notifyRetry")
    assert event.data == {"delivery_key": email().key, "template": "proposal_to_volunteer", "attempt": 2,
                          "not_before": (T0 + timedelta(seconds=5)).isoformat().replace("+00:00", "Z")}
    assert TO not in repr(event)
    doc = world.deliveries.docs[email().key]
    assert doc["status"] == "retrying" and doc["attempts"] == 1 and doc["job"]["to"] == TO


def test_the_retry_waits_until_due_then_sends_once_and_forgets_the_kept_email(world):
    mailer = Mailer([TransientMailError("x")])
    d = deliverer(world, mailer)
    d.deliver(email())
    retry = world.published[0][0]
    waited = []
    world.now = T0 + timedelta(seconds=1)
    assert delivery.on_retry(retry, d, waited.append) == "sent"
    assert waited == [T0 + timedelta(seconds=5)]
    assert len(mailer.sent) == 1
    assert delivery.on_retry(retry, d, waited.append) == "stale"  # the same retry message again
    assert len(mailer.sent) == 1
    doc = world.deliveries.docs[email().key]
    assert doc["status"] == "sent" and doc["attempts"] == 2 and "job" not in doc
    assert types(world)[-1] == (delivery.NOTIFICATION_SENT, "notifications")


def test_after_the_last_attempt_a_failed_event_and_a_dead_letter_entry(world):
    mailer = Mailer([TransientMailError("x")] * 3)
    d = deliverer(world, mailer)
    d.deliver(email())
    for _ in range(2):
        delivery.on_retry(world.published[-1][0], d, lambda when: None)
    assert mailer.sent == []
    assert types(world) == [(delivery.NOTIFICATION_RETRY, "notifyRetry")] * 2 + [
        (delivery.NOTIFICATION_FAILED, "notifications"), (delivery.NOTIFICATION_FAILED, "notifyDeadLetter")]
    failed, dead = world.published[-2][0], world.published[-1][0]
    assert failed.data["reason"] == "gave_up" and failed.data["attempts"] == 3
    assert dead.data == failed.data and dead.id != failed.id
    assert world.deliveries.docs[email().key]["status"] == "failed"
    assert "job" not in world.deliveries.docs[email().key]
    assert d.deliver(email()) == "already"


def test_a_recipient_refused_for_good_fails_at_once(world):
    d = deliverer(world, Mailer([RecipientRejected("550")]))
    assert d.deliver(email()) == "failed"
    assert world.published[0][0].data["reason"] == "rejected"


def test_an_unsubscribed_category_is_not_sent_but_account_emails_are(world):
    world.preferences.docs[recipient_hash(TO)] = {"proposals": "off"}
    mailer = Mailer()
    d = deliverer(world, mailer)
    assert d.deliver(email()) == "suppressed"
    assert d.deliver(email(template="pledge_confirmation", category="account", event_id="evt-2")) == "sent"
    assert [m.template for m in mailer.sent] == ["pledge_confirmation"]


def test_reminders_turned_off_suppress_the_reminders_only(world):
    world.preferences.docs[recipient_hash(TO)] = {"reminders": "off"}
    mailer = Mailer()
    d = deliverer(world, mailer)
    assert d.deliver(email(template="proposal_reminder", event_id="reminder:prop-1")) == "suppressed"
    assert d.deliver(email(template="proposal_to_confirm", event_id="confirm-reminder:prop-1",
                           context={"is_reminder": True}, role="referent")) == "suppressed"
    assert d.deliver(email(template="proposal_to_confirm", event_id="confirm:prop-1",
                           context={"is_reminder": False}, role="referent")) == "sent"
    assert d.deliver(email()) == "sent"
    assert [m.template for m in mailer.sent] == ["proposal_to_confirm", "proposal_to_volunteer"]
    assert world.published and all(event.data["template"] != "proposal_reminder" for event, _ in world.published)


def test_reminders_go_by_default(world):
    mailer = Mailer()
    assert deliverer(world, mailer).deliver(email(template="proposal_reminder", event_id="reminder:prop-1")) == "sent"
    assert [m.template for m in mailer.sent] == ["proposal_reminder"]


def test_a_digest_preference_queues_the_email_instead(world):
    world.preferences.docs[recipient_hash(TO)] = {"proposals": "weekly"}
    mailer = Mailer()
    d = deliverer(world, mailer)
    assert d.deliver(email()) == "queued"
    assert mailer.sent == []
    [item] = world.digests.docs.values()
    assert item["mode"] == "weekly" and item["job"]["to"] == TO


def test_nothing_is_kept_when_the_transaction_is_not_committed(world, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("database down")
    d = deliverer(world, Mailer())
    monkeypatch.setattr(FakeUow, "publish", boom)
    with pytest.raises(RuntimeError):
        d.deliver(email())
    assert world.deliveries.docs == {} and world.published == []


def test_the_backoff_is_tenacitys_exponential_with_jitter_capped():
    policy = RetryPolicy(max_attempts=8, initial_s=2, max_s=30, jitter_s=1)
    waits = [policy.wait_after(n) for n in range(1, 8)]
    for n, wait in enumerate(waits, start=1):
        base = min(2 * 2 ** (n - 1), 30)
        assert base <= wait <= min(base + 1, 30)
    assert RetryPolicy(jitter_s=0, initial_s=5, max_s=60).wait_after(3) == 20


def test_the_policy_comes_from_the_environment_and_refuses_nonsense():
    policy = RetryPolicy.from_env({"NOTIFY_MAX_ATTEMPTS": "4", "NOTIFY_RETRY_INITIAL_S": "1",
                                   "NOTIFY_RETRY_MAX_S": "10", "NOTIFY_RETRY_JITTER_S": "0"})
    assert policy == RetryPolicy(4, 1.0, 10.0, 0.0)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_an_email_to_a_pupils_guardian_names_no_pupil_even_by_id_in_its_event_and_logs(world, caplog):
    caplog.set_level("INFO")
    guardian = email(template="guardian_notice", role="guardian", subject_id="act-pupil-42", category="account",
                     to="parent@example.fr", event_id="evt-9")
    assert deliverer(world, Mailer()).deliver(guardian) == "sent"
    [(event, _)] = world.published
    assert "act-pupil-42" not in repr(event.data) and "parent@example.fr" not in repr(event.data)
    assert event.data["subject_id"] == guardian.key and event.data["recipient_role"] == "guardian"
    assert "act-pupil-42" not in caplog.text and "parent@example.fr" not in caplog.text
    assert world.deliveries.docs[guardian.key]["subject_id"] == "act-pupil-42"  # notify's own record keeps it
