"""The requests worker's wiring: which events it applies (schools from the actors topic, accepted
proposals from the proposals topic) and its expiry timer, on the in-memory unit of work."""
import threading
from datetime import datetime, timedelta, timezone

from vitawin_common.events import new_event

from vitawin_requests import worker
from tests.unit.requests.initiatives_fakes import FakeInitiatives

ACCEPTED = "fr.vitawin.proposal.accepted.v1"


def accepted(request_id, proposal_id="prop-0123456789abcdef0123"):
    return new_event(ACCEPTED, "/vitawin/matching", proposal_id, {
        "proposal_id": proposal_id, "request_id": request_id, "volunteer_id": "vol-1",
        "accepted_at": "2026-11-28T08:15:00.000Z"})


def test_the_worker_reads_schools_and_accepted_proposals_and_ignores_the_rest(uow):
    handlers = worker.event_handlers(lambda: uow)
    assert set(handlers) == {"fr.vitawin.actor.registered.v1", "fr.vitawin.actor.erased.v1", ACCEPTED}
    assert worker.CONSUMED_CHANNELS == ("actors", "proposals")


def test_an_accepted_proposal_counts_once_towards_its_request(uow, created, contract_set):
    request_id = created("class_testimony")["request_id"]  # two professionals wanted
    handle = worker.event_handlers(lambda: uow)[ACCEPTED]
    event = accepted(request_id)
    contract_set.validate(ACCEPTED, event.data)
    handle(event)
    handle(event)  # redelivered
    stored = uow.requests.get(request_id)
    assert (stored["status"], stored["accepted_count"], stored["version"]) == ("partly_matched", 1, 2)
    handle(accepted(request_id, "prop-1111111111111111111a"))
    assert uow.requests.get(request_id)["status"] == "fulfilled"


def test_an_acceptance_for_a_request_this_service_does_not_know_changes_nothing(uow):
    worker.event_handlers(lambda: uow)[ACCEPTED](accepted("req-" + "0" * 32))
    assert uow.requests.docs == {} and uow.published == []


def test_the_expiry_timer_runs_at_start_then_stops_when_asked(uow, created, caplog):
    uow.initiatives = uow.attach(FakeInitiatives())
    created("class_testimony")
    stop = threading.Event()
    later = datetime.now(timezone.utc) + timedelta(days=400)  # past every demo date
    calls = []

    def clock():
        calls.append(1)
        stop.set()  # one round, then the wait returns at once
        return later
    worker.expiry_timer(lambda: uow, interval_s=3600, now=clock)(stop)
    assert calls == [1]
    assert [doc["status"] for doc in uow.requests.docs.values()] == ["expired"]
    assert "expiry round failed" not in caplog.text


def test_a_failed_expiry_round_is_logged_and_the_timer_goes_on(caplog):
    stop = threading.Event()
    rounds = []

    def broken_uow():
        rounds.append(1)
        if len(rounds) >= 2:
            stop.set()
        raise RuntimeError("database down")
    worker.expiry_timer(broken_uow, interval_s=0.01)(stop)
    assert len(rounds) >= 2
    assert "expiry round failed" in caplog.text
