"""The common infrastructure with in-memory fakes: no broker, no database."""
from __future__ import annotations

import json
import logging
from collections import namedtuple
from pathlib import Path

import pytest
from flask import Flask, abort
from pythonjsonlogger.json import JsonFormatter

from vitawin_common import correlation
from vitawin_common.consumer import ConsumerLoop, PoisonEvent, TooManyDeadLetters
from vitawin_common.testing import ProducerStandIn
from vitawin_common.contracts import ContractViolation, load
from vitawin_common.events import Event, UndecodableEvent, from_record, new_event, to_record
from vitawin_common.web import init_app, openapi_settings, to_french

CONTRACTS = load(Path(__file__).resolve().parents[3] / "contracts")
Record = namedtuple("Record", "topic partition offset key value headers")
VOLUNTEER = json.loads((CONTRACTS.folder / "examples" / "fr.vitawin.volunteer.registered.v1" / "basic.json").read_text())




def record_of(event: Event, offset=0) -> Record:
    key, value, headers = to_record(event)
    return Record("vitawin.volunteers", 0, offset, key, value, headers)


def loop(handlers, limit=1000):
    return ConsumerLoop(service="test", consumer=None, producer=ProducerStandIn(), contracts=CONTRACTS,
                        handlers=handlers, dead_letter_channel="matchingDeadLetter", group_id="g",
                        dead_letter_limit=limit)


def volunteer_event(**changes) -> Event:
    return Event(type="fr.vitawin.volunteer.registered.v1", source="/vitawin/actors",
                 subject="vol-1", data={**VOLUNTEER["data"], **changes}, correlation_id="corr-1")


def test_a_cloudevent_survives_the_kafka_binding_both_ways():
    event = volunteer_event()
    key, value, headers = to_record(event)
    names = dict(headers)
    assert key == b"vol-1"
    assert names["ce_type"] == b"fr.vitawin.volunteer.registered.v1"
    assert names["ce_correlationid"] == b"corr-1"
    assert json.loads(value) == event.data
    back = from_record(key, value, headers)
    assert (back.id, back.type, back.source, back.subject, back.data, back.correlation_id) == \
        (event.id, event.type, event.source, event.subject, event.data, event.correlation_id)
    assert back.time == event.time


def test_a_record_without_cloudevent_headers_is_undecodable():
    with pytest.raises(UndecodableEvent):
        from_record(b"k", b"{not json", [])


def test_new_events_inherit_the_current_correlation_id():
    token = correlation.set("abc-123")
    try:
        assert new_event("t", "/s", "x", {}).correlation_id == "abc-123"
    finally:
        correlation.reset(token)


def test_contract_violations_name_the_field():
    with pytest.raises(ContractViolation, match="contact_email"):
        CONTRACTS.validate("fr.vitawin.volunteer.registered.v1", {**VOLUNTEER["data"], "contact_email": 3})


def test_the_consumer_applies_valid_events_with_their_correlation_id():
    seen = []
    consumer = loop({"fr.vitawin.volunteer.registered.v1": lambda e: seen.append(correlation.get())})
    assert consumer.handle_record(record_of(volunteer_event())) == "applied"
    assert seen == ["corr-1"]
    assert correlation.get() is None
    assert consumer.producer.sent == []


@pytest.mark.parametrize("record, reason", [
    (Record("vitawin.volunteers", 0, 7, b"k", b"garbage", []), "not a CloudEvent"),
    (record_of(volunteer_event(action_types=["juggling"]), 7), "action_types"),
])
def test_poison_goes_to_the_dead_letter_topic_with_its_reason(record, reason):
    consumer = loop({"fr.vitawin.volunteer.registered.v1": lambda e: pytest.fail("must not be applied")})
    assert consumer.handle_record(record) == "dead_lettered"
    [(topic, key, value, headers)] = consumer.producer.sent
    names = dict(headers)
    assert topic == "vitawin.matching.dlq"
    assert value == record.value and key == record.key
    assert reason in names["dlq_reason"].decode()
    assert names["dlq_offset"] == b"7" and names["dlq_topic"] == b"vitawin.volunteers"


def test_a_handler_can_declare_an_event_poison():
    def refuse(event):
        raise PoisonEvent("volunteer outside the territory")
    consumer = loop({"fr.vitawin.volunteer.registered.v1": refuse})
    assert consumer.handle_record(record_of(volunteer_event())) == "dead_lettered"


def test_transient_failures_propagate_so_the_loop_retries_from_the_same_offset():
    def flaky(event):
        raise ConnectionError("database away")
    consumer = loop({"fr.vitawin.volunteer.registered.v1": flaky})
    with pytest.raises(ConnectionError):
        consumer.handle_record(record_of(volunteer_event()))
    assert consumer.producer.sent == []


def test_events_of_other_types_are_ignored():
    consumer = loop({})
    assert consumer.handle_record(record_of(volunteer_event())) == "ignored"


def test_the_worker_stops_past_the_dead_letter_limit():
    consumer = loop({}, limit=2)
    garbage = Record("vitawin.volunteers", 0, 1, b"k", b"x", [])
    consumer.handle_record(garbage)
    consumer.handle_record(garbage)
    with pytest.raises(TooManyDeadLetters):
        consumer.handle_record(garbage)


def test_marshmallow_messages_are_shown_in_french():
    assert to_french({"json": {"email": ["Not a valid email address."], "n": ["Must be one of: a, b."]}}) == \
        {"json": {"email": ["Adresse e-mail invalide."], "n": ["Valeur non autorisée ; valeurs possibles : a, b."]}}


def test_flask_errors_are_french_json_with_the_correlation_id():
    app = Flask("t")

    @app.get("/boom")
    def boom():
        abort(404)

    init_app(app, "test")
    response = app.test_client().get("/boom", headers={"X-Correlation-ID": "c-42"})
    assert response.status_code == 404
    assert response.json == {"code": 404, "message": "Ressource introuvable.", "correlation_id": "c-42"}
    assert response.headers["X-Correlation-ID"] == "c-42"
    fresh = app.test_client().get("/healthz", headers={"X-Correlation-ID": "bad id with spaces"})
    assert fresh.headers["X-Correlation-ID"] != "bad id with spaces"


def test_every_api_serves_its_openapi_document_at_openapi_json():
    from flask_smorest import Api, Blueprint

    app = Flask("t")
    app.config.update(openapi_settings("Vitawin essai", "Description en français."))
    blp = Blueprint("things", "things", url_prefix="/api/v1/things")
    blp.route("")(lambda: {})
    Api(app).register_blueprint(blp)
    spec = app.test_client().get("/openapi.json").get_json()
    assert spec["openapi"] == "3.0.3"
    assert spec["info"] == {"title": "Vitawin essai", "version": "1.0.0", "description": "Description en français."}
    assert "/api/v1/things" in spec["paths"]
    assert "API_SPEC_OPTIONS" not in openapi_settings("Vitawin essai")


@pytest.fixture
def root_logging():
    """Put the process's logging back as it was after a test that configures it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_init_app_configures_json_logs_carrying_the_service_name(root_logging, capsys):
    init_app(Flask("t"), "actors")
    [handler] = root_logging.handlers
    assert isinstance(handler.formatter, JsonFormatter)
    logging.getLogger("vitawin.test").info("configured", extra={"volunteer_id": "vol-1"})
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (line["service"], line["message"], line["volunteer_id"], line["level"]) == \
        ("actors", "configured", "vol-1", "INFO")


def test_init_app_can_leave_logging_alone(root_logging):
    marker = logging.NullHandler()
    root_logging.handlers[:] = [marker]
    init_app(Flask("t"), "gateway", configure_logging=False)
    assert root_logging.handlers == [marker]


def test_contract_reasons_never_quote_the_offending_value():
    with pytest.raises(ContractViolation) as caught:
        CONTRACTS.validate("fr.vitawin.volunteer.registered.v1",
                           {**VOLUNTEER["data"], "contact_email": 3, "organisation_name": "Élise Dupont" * 30})
    assert "contact_email" in str(caught.value) and "organisation_name" in str(caught.value)
    assert "Élise" not in str(caught.value)


def test_outbox_order_is_a_strictly_increasing_clock_not_a_per_process_objectid():
    import time as clock

    from vitawin_common.outbox import next_seq
    before = clock.time_ns()
    seqs = [next_seq() for _ in range(1000)]
    assert seqs == sorted(set(seqs)) and seqs[0] >= before
