"""Sending the deliveries: never from the consumer (it only records them), always from the
dispatcher, a background task of the worker.

Each `tick`: the active subscriptions with a free slot, taken in turn from where the last tick
stopped; for each, as many due deliveries as it has free slots (`per_subscription`, 2 by default)
and the worker has free slots (`slots`, 16), each claimed atomically (pending -> sending with a
lease) and handed to a thread pool that sends it with short timeouts. A slow or dead endpoint thus
holds at most its own `per_subscription` slots, for at most the timeouts, and everyone else's
deliveries go out meanwhile; a dispatcher that dies leaves its claims to expire (`release_stale`).

After each attempt, in one transaction: delivered; or pending again at the next time of the retry
policy; or, at the deadline (a day), dead, the subscription flagged `failing` and a
fr.vitawin.webhook.dead_lettered.v1 on the dead-letter topic (through the outbox)."""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Callable

import requests
from prometheus_client import Counter, Gauge

from vitawin_common.events import new_event

from vitawin_webhooks import domain, signing
from vitawin_webhooks.public import iso
from vitawin_webhooks.handlers import utcnow

log = logging.getLogger(__name__)

DEAD_LETTER_CHANNEL = "webhooksDeadLetter"
DEAD_LETTERED = "fr.vitawin.webhook.dead_lettered.v1"
SOURCE = "/vitawin/webhooks"

ATTEMPTS = Counter("vitawin_webhook_attempts_total", "Webhook delivery attempts, by outcome (delivered, retry, dead)",
                   ["outcome"])
IN_FLIGHT = Gauge("vitawin_webhook_in_flight", "Webhook deliveries being sent now", multiprocess_mode="max")


class HttpSender:
    """POSTs a webhook with `requests`: connect and read timeouts, no redirects followed (a
    redirect is a failure: the partner fixes its address), TLS verified, the answer's body never
    read. Endpoints are checked again before each attempt."""

    def __init__(self, connect_timeout_s: float = 3.05, read_timeout_s: float = 10.0, allow_local: bool = False):
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.allow_local = allow_local
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def send(self, url: str, headers: dict[str, str], body: bytes) -> domain.Outcome:
        if domain.endpoint_problem(url, self.allow_local):
            return domain.Outcome(False, None, "other")
        try:
            response = self._session().post(url, data=body, headers=headers, timeout=self.timeout,
                                            allow_redirects=False, stream=True)
            response.close()
        except requests.exceptions.SSLError:
            return domain.Outcome(False, None, "tls")
        except requests.exceptions.Timeout:
            return domain.Outcome(False, None, "timeout")
        except requests.exceptions.ConnectionError:
            return domain.Outcome(False, None, "connection")
        except requests.exceptions.RequestException:
            return domain.Outcome(False, None, "other")
        if 200 <= response.status_code < 300:
            return domain.Outcome(True, response.status_code)
        kind = "redirect" if 300 <= response.status_code < 400 else "http_status"
        return domain.Outcome(False, response.status_code, kind)


class Dispatcher:
    """`uow_factory()` gives a unit of work (see store.WebhooksUnitOfWork); `sender.send(url,
    headers, body)` an Outcome; `executor.submit(fn, *args)` runs an attempt (a thread pool; tests
    give their own); `clock()` is the time."""

    def __init__(self, uow_factory: Callable, sender, *, policy: domain.RetryPolicy,
                 clock: Callable[[], datetime] = utcnow, per_subscription: int = 2, slots: int = 16,
                 lease: timedelta = timedelta(minutes=2), executor: Executor | None = None):
        if per_subscription < 1 or slots < per_subscription:
            raise ValueError("per_subscription must be at least 1 and at most slots")
        self.uow_factory, self.sender, self.policy, self.clock = uow_factory, sender, policy, clock
        self.per_subscription, self.slots, self.lease = per_subscription, slots, lease
        self.executor = executor or ThreadPoolExecutor(max_workers=slots, thread_name_prefix="webhook")
        self.in_flight: dict[str, int] = {}
        self._lock = threading.Lock()
        self._turn = 0

    def busy(self) -> int:
        with self._lock:
            return sum(self.in_flight.values())

    def tick(self) -> int:
        """Start the due deliveries there is room for; how many were started."""
        free = self.slots - self.busy()
        if free <= 0:
            return 0
        uow = self.uow_factory()
        now = self.clock()
        subscriptions = {s["subscription_id"]: s for s in uow.subscriptions.active()}
        # Only the subscriptions with a free slot are looked at, each with one indexed query for at
        # most its free slots: a partner that hangs holds its slots and is not even read, however
        # long its backlog (a distinct over every due delivery took 97 ms per tick on SecantusDB
        # behind a hanging partner's 1,200, and cut the others' ceiling: bench/webhooks_delivery.py).
        with self._lock:
            open_ = sorted(sid for sid in subscriptions if self.in_flight.get(sid, 0) < self.per_subscription)
        if not open_:
            return 0
        self._turn = (self._turn + 1) % len(open_)
        started = 0
        for subscription_id in open_[self._turn:] + open_[:self._turn]:  # nobody always first
            with self._lock:
                room = min(self.per_subscription - self.in_flight.get(subscription_id, 0), free)
            if room <= 0:
                continue
            for delivery in uow.deliveries.due(subscription_id, now, room):
                claimed = uow.deliveries.claim(delivery["delivery_id"], now, now + self.lease)
                if claimed is None:
                    continue  # another dispatcher took it
                with self._lock:
                    self.in_flight[subscription_id] = self.in_flight.get(subscription_id, 0) + 1
                free -= 1
                started += 1
                IN_FLIGHT.inc()
                self.executor.submit(self.attempt, claimed, subscriptions[subscription_id])
            if free <= 0:
                break
        return started

    def attempt(self, delivery: dict, subscription: dict) -> str:
        """Send one claimed delivery and record the outcome; the delivery's new status."""
        try:
            uow = self.uow_factory()
            event = uow.events.get(delivery["event_id"])
            if event is None:  # purged past retention: nothing left to send
                outcome = domain.Outcome(False, None, "other")
            else:
                headers, body = signing.signed_request(event, domain.signing_secrets(subscription, self.clock()),
                                                       self.clock())
                outcome = self.sender.send(subscription["url"], headers, body)
            return self.record(delivery, outcome)
        except Exception:  # the claim's lease runs out and the delivery is tried again
            log.exception("webhook attempt failed", extra={"delivery_id": delivery["delivery_id"]})
            return domain.SENDING
        finally:
            with self._lock:
                left = self.in_flight.get(delivery["subscription_id"], 1) - 1
                if left > 0:
                    self.in_flight[delivery["subscription_id"]] = left
                else:
                    self.in_flight.pop(delivery["subscription_id"], None)
            IN_FLIGHT.dec()

    def record(self, delivery: dict, outcome: domain.Outcome) -> str:
        now = self.clock()
        fields = domain.after_attempt(delivery, outcome, now, self.policy)
        uow = self.uow_factory()
        with uow:
            uow.deliveries.update(delivery["delivery_id"], fields)
            if fields["status"] == domain.DEAD:
                uow.subscriptions.flag_failing(delivery["subscription_id"], now)
                uow.publish(dead_letter_event(delivery, fields), DEAD_LETTER_CHANNEL)
            uow.commit()
        ATTEMPTS.labels({domain.DELIVERED: "delivered", domain.PENDING: "retry", domain.DEAD: "dead"}[fields["status"]]).inc()
        log.info("webhook attempt", extra={"delivery_id": delivery["delivery_id"], "status": fields["status"],
                                           "attempts": fields["attempts"], "status_code": outcome.status_code,
                                           "error": outcome.error})
        return fields["status"]

    def release_stale(self) -> int:
        return self.uow_factory().deliveries.release_stale(self.clock())

    def run(self, stop: threading.Event, idle_s: float = 0.5) -> None:
        """The background task: tick until `stop`, waiting `idle_s` when there was nothing to start."""
        try:
            while not stop.is_set():
                try:
                    started = self.tick()
                except Exception:
                    log.exception("webhook dispatcher tick failed; retrying")
                    started = 0
                stop.wait(0.05 if started else idle_s)
        finally:
            self.executor.shutdown(wait=True, cancel_futures=True)


def dead_letter_event(delivery: dict, fields: dict):
    data = {"delivery_id": delivery["delivery_id"], "subscription_id": delivery["subscription_id"],
            "event_id": delivery["event_id"], "event_type": delivery["event_type"], "attempts": fields["attempts"],
            "created_at": iso(delivery["created_at"]), "dead_at": iso(fields["dead_at"])}
    if fields.get("last_status_code") is not None:
        data["last_status_code"] = fields["last_status_code"]
    if fields.get("last_error"):
        data["last_error"] = fields["last_error"]
    return new_event(DEAD_LETTERED, SOURCE, delivery["delivery_id"], data)
