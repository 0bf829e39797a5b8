"""Delivery you can trust (docs/notify.md, "Delivery"): each email keyed by (event id, recipient,
template) is sent at most once; a person's preferences are read just before sending; an SMTP
failure never blocks the consumer that met it.

    deliverer.deliver(email)            # from an event handler: first try
    deliverer.deliver(email, attempt)   # from the retry topic's handler

One email, one outcome, one transaction (the delivery record and its event):
- sent: record `sent`, publish `notification.sent.v1`;
- the person turned that category off (or reminders off, for a reminder): record `suppressed`,
  nothing sent, no event;
- the person wants a digest of that category: the email joins their digest (`queued`);
- the relay said "not now" (TransientMailError): keep the email to send (in MongoDB, the only
  place its address stays) and publish `notification.retry.v1` {delivery key, attempt,
  not_before} on the private retry channel, with no address; after the last attempt, or at once
  when the relay refuses the recipient for good (5xx): record `failed`, publish
  `notification.failed.v1` and a dead-letter entry (ids only).
The wait between attempts is tenacity's exponential backoff with jitter."""
from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping

import tenacity

from vitawin_common.events import new_event

from vitawin_notify import domain
from vitawin_notify.adapters import TransientMailError
from vitawin_notify.domain import Email, RecipientRejected

log = logging.getLogger(__name__)

SOURCE = "/vitawin/notify"
NOTIFICATIONS_CHANNEL = "notifications"
RETRY_CHANNEL = "notifyRetry"
DEAD_LETTER_CHANNEL = "notifyDeadLetter"
NOTIFICATION_SENT = "fr.vitawin.notification.sent.v1"
NOTIFICATION_FAILED = "fr.vitawin.notification.failed.v1"
NOTIFICATION_RETRY = "fr.vitawin.notification.retry.v1"

SENT, FAILED, RETRYING, SUPPRESSED, QUEUED = "sent", "failed", "retrying", "suppressed", "queued"
FINAL = frozenset({SENT, FAILED, SUPPRESSED, QUEUED})
IMMEDIATE, DAILY, WEEKLY, OFF = "immediate", "daily", "weekly", "off"
DIGEST_TEMPLATE = "digest"
ACCOUNT = "account"  # welcome, pledge confirmation, erasure: always sent, never in a digest
REMINDERS = "reminders"  # the preferences' switch (preferences.REMINDERS): off suppresses reminders
REMINDER_TEMPLATE, CONFIRMATION_TEMPLATE = "proposal_reminder", "proposal_to_confirm"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` tries in all; before try n+1, tenacity's wait_exponential_jitter for n failed
    tries: initial_s * 2**(n-1) capped at max_s, plus up to jitter_s of random jitter."""
    max_attempts: int = 6
    initial_s: float = 5.0
    max_s: float = 120.0
    jitter_s: float = 2.0

    def __post_init__(self):
        if self.max_attempts < 1 or self.initial_s < 0 or self.max_s < self.initial_s or self.jitter_s < 0:
            raise ValueError(f"invalid retry policy {self}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "RetryPolicy":
        return cls(max_attempts=int(env.get("NOTIFY_MAX_ATTEMPTS", cls.max_attempts)),
                   initial_s=float(env.get("NOTIFY_RETRY_INITIAL_S", cls.initial_s)),
                   max_s=float(env.get("NOTIFY_RETRY_MAX_S", cls.max_s)),
                   jitter_s=float(env.get("NOTIFY_RETRY_JITTER_S", cls.jitter_s)))

    def wait_after(self, failed_attempts: int) -> float:
        """Seconds to wait after `failed_attempts` failed tries (tenacity computes it)."""
        state = tenacity.RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
        state.attempt_number = failed_attempts
        strategy = tenacity.wait_exponential_jitter(multiplier=self.initial_s, max=self.max_s, jitter=self.jitter_s)
        return float(strategy(state))


def email_to_job(email: Email) -> dict:
    """What is kept to send an email again (MongoDB only: it holds the address)."""
    return dataclasses.asdict(email)


def email_from_job(job: Mapping) -> Email:
    names = {f.name for f in dataclasses.fields(Email)}
    return Email(**{name: value for name, value in job.items() if name in names})


def _category(email: Email) -> str:
    return getattr(email, "category", "proposals")


def is_reminder(email: Email) -> bool:
    """A reminder of a proposal still to answer: the professional's, or the school's to confirm."""
    return email.template == REMINDER_TEMPLATE or (
        email.template == CONFIRMATION_TEMPLATE and bool((email.context or {}).get("is_reminder")))


def _ids(email: Email) -> dict:
    """What a delivery's event and log lines say about it: never an address or a name, and for an
    email to a pupil's guardian not even the pupil's (pseudonymous) actor id: the delivery key
    stands for it (notify's own database keeps the link)."""
    role = getattr(email, "role", "contact")
    subject_id = email.key if role == "guardian" else (getattr(email, "subject_id", None) or email.event_id)
    return {"delivery_key": email.key, "template": email.template, "recipient_role": role,
            "subject_id": subject_id, "category": _category(email)}


class Deliverer:
    """`uow_factory()` gives a unit of work with `deliveries`, `preferences` and `digests`
    repositories and an outbox (`publish`, `commit`, one transaction per `with`); `mailer.send`
    raises TransientMailError or RecipientRejected; `clock()` is the time (tests move it)."""

    def __init__(self, uow_factory: Callable, mailer, policy: RetryPolicy | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.uow_factory, self.mailer = uow_factory, mailer
        self.policy, self.clock = policy or RetryPolicy(), clock

    def deliver(self, email: Email, attempt: int = 1) -> str:
        """Send `email` (try number `attempt`) unless already done; returns the outcome. A digest
        itself is sent to someone who wants digests (of course), never to someone who unsubscribed."""
        uow = self.uow_factory()
        status = uow.deliveries.status(email.key)
        if status in FINAL:
            log.info("email already handled; skipped", extra={**_ids(email), "status": status})
            return "already"
        if status == RETRYING and attempt <= uow.deliveries.attempts(email.key):
            return "already"  # a retry message delivered twice
        category = _category(email)
        recipient = domain.recipient_hash(email.to)
        mode = IMMEDIATE if category == ACCOUNT else uow.preferences.mode(recipient, category)
        if mode != OFF and is_reminder(email) and uow.preferences.mode(recipient, REMINDERS) == OFF:
            mode = OFF  # the person turned reminders off
        if mode == OFF:
            return self._record_final(uow, email, SUPPRESSED, attempt - 1)
        if mode in (DAILY, WEEKLY) and email.template != DIGEST_TEMPLATE:
            return self._queue_for_digest(uow, email, mode)
        try:
            self.mailer.send(email)
        except RecipientRejected:
            return self._fail(uow, email, attempt, "rejected")
        except TransientMailError as exc:
            if attempt >= self.policy.max_attempts:
                return self._fail(uow, email, attempt, "gave_up")
            return self._schedule_retry(uow, email, attempt, str(exc))
        # Remaining window: a crash after the relay accepted the email and before this record is
        # durable sends that one email again on redelivery (SMTP cannot join a MongoDB
        # transaction); the copy has the same Message-ID (from the delivery key), which lets
        # relays and mail clients that deduplicate on it drop it.
        return self._record_final(uow, email, SENT, attempt)

    def _record_final(self, uow, email: Email, status: str, attempts: int) -> str:
        now = self.clock()
        with uow:
            uow.deliveries.record(email.key, status=status, attempts=attempts, at=now,
                                  recipient_hash=domain.recipient_hash(email.to), **_ids_for_record(email))
            if status == SENT:
                uow.publish(new_event(NOTIFICATION_SENT, SOURCE, email.key,
                                      {**_ids(email), "attempts": attempts, "sent_at": _iso(now)},
                                      id=f"sent-{email.key}"), NOTIFICATIONS_CHANNEL)
            uow.commit()
        log.info(f"email {status}", extra=_ids(email))
        return status

    def _queue_for_digest(self, uow, email: Email, mode: str) -> str:
        now = self.clock()
        with uow:
            uow.digests.add(email.key, recipient_hash=domain.recipient_hash(email.to), mode=mode,
                            job=email_to_job(email), queued_at=now)
            uow.deliveries.record(email.key, status=QUEUED, attempts=0, at=now,
                                  recipient_hash=domain.recipient_hash(email.to), **_ids_for_record(email))
            uow.commit()
        log.info("email queued for a digest", extra={**_ids(email), "mode": mode})
        return QUEUED

    def _schedule_retry(self, uow, email: Email, attempt: int, reason: str) -> str:
        now = self.clock()
        not_before = now + timedelta(seconds=self.policy.wait_after(attempt))
        with uow:
            uow.deliveries.record(email.key, status=RETRYING, attempts=attempt, at=now,
                                  recipient_hash=domain.recipient_hash(email.to), job=email_to_job(email),
                                  next_at=not_before, **_ids_for_record(email))
            uow.publish(new_event(NOTIFICATION_RETRY, SOURCE, email.key,
                                  {"delivery_key": email.key, "template": email.template,
                                   "attempt": attempt + 1, "not_before": _iso(not_before)},
                                  id=f"retry-{email.key}-{attempt + 1}"), RETRY_CHANNEL)
            uow.commit()
        log.warning("email not accepted by the relay; retry scheduled",
                    extra={**_ids(email), "attempt": attempt, "reason": reason[:200]})
        return RETRYING

    def _fail(self, uow, email: Email, attempt: int, reason: str) -> str:
        now = self.clock()
        ids = _ids(email)
        with uow:
            uow.deliveries.record(email.key, status=FAILED, attempts=attempt, at=now,
                                  recipient_hash=domain.recipient_hash(email.to), reason=reason,
                                  **_ids_for_record(email))
            failed = new_event(NOTIFICATION_FAILED, SOURCE, email.key,
                               {**ids, "attempts": attempt, "failed_at": _iso(now), "reason": reason},
                               id=f"failed-{email.key}")
            uow.publish(failed, NOTIFICATIONS_CHANNEL)
            # The ops' dead-letter entry: the same facts (ids only), its own event id.
            uow.publish(dataclasses.replace(failed, id=f"dead-letter-{email.key}"), DEAD_LETTER_CHANNEL)
            uow.commit()
        log.error("email failed for good", extra={**ids, "attempts": attempt, "reason": reason})
        return FAILED


def _ids_for_record(email: Email) -> dict:
    ids = _ids(email)
    return {"template": ids["template"], "subject_id": email.subject_id, "event_id": email.event_id,
            "role": ids["recipient_role"], "category": ids["category"]}


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def on_retry(event, deliverer: Deliverer, wait_until: Callable[[datetime], None]) -> str:
    """A `notification.retry.v1`: wait until it is due (`wait_until` returns at that time, or
    raises when the worker stops, leaving the message to be read again), then try again, unless
    the delivery has been settled meanwhile (a duplicate message)."""
    data = event.data
    uow = deliverer.uow_factory()
    doc = uow.deliveries.get(data["delivery_key"])
    if doc is None or doc.get("status") != RETRYING or int(doc.get("attempts", 0)) + 1 != int(data["attempt"]):
        return "stale"
    wait_until(datetime.fromisoformat(data["not_before"].replace("Z", "+00:00")))
    return deliverer.deliver(email_from_job(doc["job"]), attempt=int(data["attempt"]))
