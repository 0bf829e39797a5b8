"""vitawin_common.worker.run_outbox_relay: the whole run of a worker that only relays its outbox."""
from unittest.mock import MagicMock

import pytest

from vitawin_common import worker
from vitawin_common.config import Settings
from vitawin_common.outbox import OutboxRelay


@pytest.fixture
def settings(tmp_path):
    return Settings("actors", contracts_dir=tmp_path)


@pytest.fixture
def producer(monkeypatch):
    producer = MagicMock()
    monkeypatch.setattr(worker.kafka, "producer", lambda settings: producer)
    return producer


def test_it_runs_the_relay_of_the_service_outbox_in_the_background_and_consumes_nothing(
        monkeypatch, settings, producer):
    runs, db = [], MagicMock()
    monkeypatch.setattr(worker, "run", lambda **kwargs: runs.append(kwargs))
    monkeypatch.setattr(worker.mongo, "ping", lambda s: s is settings)

    worker.run_outbox_relay("actors", settings, db)

    [run] = runs
    assert run["consume"] is None
    [relay_run] = run["background"]
    relay = relay_run.__self__
    assert isinstance(relay, OutboxRelay) and relay_run.__func__ is OutboxRelay.run
    assert (relay.service, relay.producer, relay.entries) == ("actors", producer, db["outbox"])
    assert run["ready"]() is True  # ready while MongoDB answers
    producer.close.assert_called_once_with(timeout=10)


def test_it_takes_another_readiness_check_when_given_one(monkeypatch, settings, producer):
    runs = []
    monkeypatch.setattr(worker, "run", lambda **kwargs: runs.append(kwargs))
    not_ready = lambda: False  # noqa: E731
    worker.run_outbox_relay("requests", settings, MagicMock(), ready=not_ready)
    assert runs[0]["ready"] is not_ready


def test_the_producer_is_closed_even_when_the_run_fails(monkeypatch, settings, producer):
    def crash(**kwargs):
        raise RuntimeError("health port taken")
    monkeypatch.setattr(worker, "run", crash)
    with pytest.raises(RuntimeError):
        worker.run_outbox_relay("actors", settings, MagicMock())
    producer.close.assert_called_once_with(timeout=10)


def test_periodic_runs_at_start_then_each_tick_and_logs_a_failed_round(caplog):
    import threading

    from vitawin_common.worker import periodic

    stop, rounds = threading.Event(), []

    def task():
        rounds.append(1)
        if len(rounds) == 2:
            raise RuntimeError("database down")
        if len(rounds) == 3:
            stop.set()
    periodic(task, 0.01, "test round")(stop)
    assert len(rounds) == 3, "a failed round does not stop the timer"
    assert "test round failed" in caplog.text


def test_periodic_can_wait_a_tick_before_its_first_round():
    import threading

    from vitawin_common.worker import periodic

    stop, rounds = threading.Event(), []
    stop.set()
    periodic(lambda: rounds.append(1), 0.01, "late round", at_start=False)(stop)
    assert rounds == []
    periodic(lambda: rounds.append(1), 0.01, "early round")(stop)
    assert rounds == [1]
