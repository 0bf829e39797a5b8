"""Deliveries: recorded by the consumer for the subscriptions that want them, sent by the
dispatcher only; retried with exponential backoff and jitter for a day, then dead-lettered and the
subscription flagged failing; a slow partner holds only its own slots; endpoints are HTTPS (the
loopback in http only under the local setting). A fake clock and a fake sender: no network, no
waiting."""
from __future__ import annotations

from datetime import timedelta

import pytest

from vitawin_webhooks import domain, handlers, public
from vitawin_webhooks.dispatch import DEAD_LETTER_CHANNEL, DEAD_LETTERED, Dispatcher

from tests.unit.webhooks.webhooks_fakes import START, example

POLICY = domain.RetryPolicy(initial_s=30, max_s=3 * 3600, jitter_s=0)
TOWN, OTHER_TOWN = "94080", "94068"


class Sender:
    """Answers per endpoint: `answers[url]` is an Outcome (ok by default); records every call."""

    def __init__(self):
        self.answers: dict[str, domain.Outcome] = {}
        self.calls: list[tuple[str, dict, bytes]] = []

    def send(self, url, headers, body):
        self.calls.append((url, headers, body))
        return self.answers.get(url, domain.Outcome(True, 204))


class Pool:
    """An executor: runs each attempt at once, except those for `held` endpoints, which wait
    (a partner that does not answer) until `release()`."""

    def __init__(self):
        self.held_urls: set[str] = set()
        self.waiting: list = []

    def submit(self, fn, delivery, subscription):
        if subscription["url"] in self.held_urls:
            self.waiting.append((fn, delivery, subscription))
        else:
            fn(delivery, subscription)

    def release(self):
        waiting, self.waiting = self.waiting, []
        for fn, delivery, subscription in waiting:
            fn(delivery, subscription)

    def shutdown(self, **kwargs):
        pass


def subscribe(uow, clock, url="https://a.example/hook", types=(public.REQUEST_PUBLISHED,), towns=(TOWN,),
              owner="partner-a", status=domain.ACTIVE):
    doc = {**domain.new_subscription(owner=owner, url=url, event_types=list(types), towns=list(towns), label=None,
                                     now=clock()), "status": status}
    uow.subscriptions.add(doc)
    return doc


def record(uow, clock, n=1, town=TOWN, type_=public.REQUEST_PUBLISHED):
    recorder = handlers.Recorder(lambda: uow, POLICY, clock)
    made = 0
    for i in range(n):
        cause = example("fr.vitawin.request.created.v2", "class_testimony.json", request_id=f"req-{i:032x}")
        event = public.public_event(type_, f"req-{i:032x}", {"town": town}, cause)
        made += recorder.record(event)
    return made


@pytest.fixture
def sender():
    return Sender()


@pytest.fixture
def pool():
    return Pool()


@pytest.fixture
def dispatcher(uow, sender, pool, clock):
    return Dispatcher(lambda: uow, sender, policy=POLICY, clock=clock, per_subscription=2, slots=6, executor=pool)


# --- the retry policy ---

def test_the_backoff_doubles_from_30_seconds_up_to_3_hours():
    assert [POLICY.wait_after(n) for n in range(1, 11)] == [30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 10800]
    assert POLICY.wait_after(20) == 10800


def test_the_jitter_adds_at_most_its_amount():
    policy = domain.RetryPolicy(initial_s=30, max_s=3 * 3600, jitter_s=60)
    waits = {policy.wait_after(3) for _ in range(50)}
    assert all(120 <= wait <= 180 for wait in waits) and len(waits) > 1


def test_the_last_attempt_is_at_the_deadline_and_a_failure_then_is_final():
    deadline = START + timedelta(hours=24)
    assert POLICY.next_attempt(deadline, deadline - timedelta(minutes=5), 12) == deadline
    assert POLICY.next_attempt(deadline, deadline, 13) is None


def test_a_delivery_that_always_fails_is_tried_for_a_day_then_dead_lettered_and_its_subscription_flagged(
        uow, clock, sender, dispatcher):
    subscription = subscribe(uow, clock)
    sender.answers[subscription["url"]] = domain.Outcome(False, 503, "http_status")
    record(uow, clock)
    attempts_at = []
    for _ in range(100):
        if dispatcher.tick():
            attempts_at.append(clock())
        [delivery] = uow.deliveries.docs.values()
        if delivery["status"] == domain.DEAD:
            break
        clock.now = max(clock.now, delivery["next_attempt_at"])
    assert delivery["status"] == domain.DEAD
    assert attempts_at[0] == START and attempts_at[-1] == START + timedelta(hours=24)
    gaps = [(b - a).total_seconds() for a, b in zip(attempts_at, attempts_at[1:])]
    assert gaps[:4] == [30, 60, 120, 240] and max(gaps) == 10800
    assert delivery["attempts"] == len(attempts_at) == len(sender.calls)
    assert uow.subscriptions.get(subscription["subscription_id"])["status"] == domain.FAILING
    [(event, channel)] = uow.published
    assert (event.type, channel) == (DEAD_LETTERED, DEAD_LETTER_CHANNEL)
    assert event.data["attempts"] == delivery["attempts"] and event.data["last_status_code"] == 503
    assert subscription["url"] not in str(event.data)
    # a failing subscription gets nothing new, and nothing of it is sent
    assert record(uow, clock) == 0
    assert dispatcher.tick() == 0


def test_a_delivery_succeeds_after_failures(uow, clock, sender, dispatcher):
    subscription = subscribe(uow, clock)
    sender.answers[subscription["url"]] = domain.Outcome(False, None, "timeout")
    record(uow, clock)
    dispatcher.tick()
    clock.advance(seconds=30)
    del sender.answers[subscription["url"]]
    assert dispatcher.tick() == 1
    [delivery] = uow.deliveries.docs.values()
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (domain.DELIVERED, 2, 204)
    assert uow.published == [] and uow.subscriptions.get(subscription["subscription_id"])["status"] == domain.ACTIVE


def test_nothing_is_sent_before_it_is_due(uow, clock, sender, dispatcher):
    subscription = subscribe(uow, clock)
    sender.answers[subscription["url"]] = domain.Outcome(False, 500, "http_status")
    record(uow, clock)
    dispatcher.tick()
    clock.advance(seconds=29)
    assert dispatcher.tick() == 0 and len(sender.calls) == 1


# --- recording ---

def test_only_active_subscriptions_that_want_the_type_in_the_town_get_a_delivery(uow, clock):
    wanted = subscribe(uow, clock, url="https://a.example/h")
    subscribe(uow, clock, url="https://b.example/h", towns=(OTHER_TOWN,))
    subscribe(uow, clock, url="https://c.example/h", types=(public.PLEDGE_PUBLISHED,))
    subscribe(uow, clock, url="https://d.example/h", status=domain.PAUSED)
    assert record(uow, clock) == 1
    [delivery] = uow.deliveries.docs.values()
    assert delivery["subscription_id"] == wanted["subscription_id"]
    assert record(uow, clock) == 0, "the same event twice makes no second delivery"
    assert len(uow.deliveries.docs) == 1 and len(uow.events.docs) == 1


def test_the_consumer_never_sends(uow, clock, sender):
    subscribe(uow, clock)
    record(uow, clock, 3)
    assert sender.calls == []
    assert {d["status"] for d in uow.deliveries.docs.values()} == {domain.PENDING}


# --- isolation ---

def test_a_slow_partner_holds_its_own_slots_only_and_the_others_are_not_delayed(uow, clock, sender, pool, dispatcher):
    slow = subscribe(uow, clock, url="https://slow.example/h", owner="slow")
    fast = subscribe(uow, clock, url="https://fast.example/h", owner="fast")
    pool.held_urls.add(slow["url"])
    record(uow, clock, 10)
    for _ in range(10):
        dispatcher.tick()
    by_status = {}
    for delivery in uow.deliveries.docs.values():
        by_status.setdefault((delivery["subscription_id"], delivery["status"]), 0)
        by_status[(delivery["subscription_id"], delivery["status"])] += 1
    assert by_status[(fast["subscription_id"], domain.DELIVERED)] == 10
    assert by_status[(slow["subscription_id"], domain.SENDING)] == 2, "two slots, no more"
    assert by_status[(slow["subscription_id"], domain.PENDING)] == 8
    assert dispatcher.busy() == 2
    pool.release()
    assert dispatcher.busy() == 0
    for _ in range(5):
        dispatcher.tick()
        pool.release()
    assert all(d["status"] == domain.DELIVERED for d in uow.deliveries.docs.values())


def test_a_partner_holding_all_its_slots_is_not_even_read(uow, clock, sender, pool, dispatcher):
    """The dispatcher's reads do not grow with a hanging partner's backlog: while it holds its
    slots, its deliveries are not queried at all (bench/webhooks_delivery.py: reading them cost 97
    ms per tick and cut the other partners' ceiling)."""
    slow = subscribe(uow, clock, url="https://slow.example/h", owner="slow")
    fast = subscribe(uow, clock, url="https://fast.example/h", owner="fast")
    pool.held_urls.add(slow["url"])
    record(uow, clock, 10)
    read = []
    real_due = uow.deliveries.due
    real_due_subscriptions = uow.deliveries.due_subscriptions
    uow.deliveries.due = lambda subscription_id, now, limit: read.append(subscription_id) or real_due(
        subscription_id, now, limit)
    # a query over every subscription's due deliveries reads the hanging one's backlog too
    uow.deliveries.due_subscriptions = lambda now: read.append("every subscription") or real_due_subscriptions(now)
    dispatcher.tick()  # takes the slow partner's two slots
    read.clear()
    for _ in range(5):
        dispatcher.tick()
    assert fast["subscription_id"] in read
    assert slow["subscription_id"] not in read and "every subscription" not in read
    pool.release()
    dispatcher.tick()
    assert slow["subscription_id"] in read, "read again once a slot is free"


def test_a_paused_subscription_s_deliveries_wait_and_go_when_resumed(uow, clock, sender, dispatcher):
    subscription = subscribe(uow, clock)
    record(uow, clock, 2)
    uow.subscriptions._set(subscription["subscription_id"], {"status": domain.PAUSED})
    assert dispatcher.tick() == 0
    uow.subscriptions._set(subscription["subscription_id"], {"status": domain.ACTIVE})
    assert dispatcher.tick() == 2


def test_claims_of_a_dispatcher_that_died_go_back_to_pending_after_their_lease(uow, clock, pool, dispatcher):
    subscription = subscribe(uow, clock)
    pool.held_urls.add(subscription["url"])
    record(uow, clock)
    dispatcher.tick()
    assert dispatcher.release_stale() == 0
    clock.advance(minutes=3)
    assert dispatcher.release_stale() == 1
    [delivery] = uow.deliveries.docs.values()
    assert (delivery["status"], delivery["attempts"]) == (domain.PENDING, 0)


# --- endpoints ---

@pytest.mark.parametrize("url", ["https://partenaire.example/hooks", "https://93.184.215.14:8443/h?x=1"])
def test_https_endpoints_are_accepted(url):
    assert domain.endpoint_problem(url) is None


@pytest.mark.parametrize("url, reason", [
    ("http://partenaire.example/hooks", "HTTPS obligatoire"),
    ("http://127.0.0.1:9000/h", "HTTPS obligatoire"),
    ("https://127.0.0.1/h", "Adresse locale refusée"),
    ("https://localhost/h", "Adresse locale refusée"),
    ("https://10.0.0.5/h", "Adresse IP privée"),
    ("https://169.254.169.254/latest", "Adresse IP privée"),
    ("https://[::1]/h", "Adresse locale refusée"),
    ("https://user:pw@partenaire.example/h", "identifiants"),
    ("ftp://partenaire.example/h", "https://"),
    ("partenaire.example/h", "https://"),
    ("https://partenaire.example:99999/h", "Adresse invalide"),
])
def test_other_endpoints_are_refused_in_french(url, reason):
    assert reason in domain.endpoint_problem(url)


def test_the_local_setting_allows_http_to_the_loopback_only():
    assert domain.endpoint_problem("http://127.0.0.1:9000/h", allow_local=True) is None
    assert domain.endpoint_problem("http://localhost:9000/h", allow_local=True) is None
    assert domain.endpoint_problem("http://192.168.1.2/h", allow_local=True) is not None
    assert domain.endpoint_problem("http://partenaire.example/h", allow_local=True) is not None
    assert domain.allow_local_http({"WEBHOOKS_ALLOW_LOCAL_HTTP": "1"}) and not domain.allow_local_http({})
