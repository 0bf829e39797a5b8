"""Runs a service's worker process: the consumer loop in the main thread, the outbox relay in a
thread, /metrics /healthz /readyz on a small HTTP server, and a clean stop on SIGTERM or Ctrl-C.
`run_outbox_relay` is the whole run of a worker that only relays its outbox."""
from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, make_server

from pymongo.database import Database

from vitawin_common import kafka, metrics, mongo
from vitawin_common.config import Settings
from vitawin_common.outbox import OutboxRelay

log = logging.getLogger(__name__)


def periodic(task: Callable[[], object], interval_s: float, name: str, *,
             at_start: bool = True) -> Callable[[threading.Event], None]:
    """A background task for `run`: call `task` (at start if `at_start`, then) every `interval_s`
    seconds until `stop` is set. A failed round is logged ("<name> failed") and the next tick tries
    again, so `task` must be safe to repeat (expiring what is due, catching up a read model)."""
    def every(stop: threading.Event) -> None:
        if not at_start and stop.wait(interval_s):
            return
        while True:
            try:
                task()
            except Exception:  # noqa: BLE001 - keep the timer alive; the next tick retries
                log.exception(f"{name} failed")
            if stop.wait(interval_s):
                return
    every.__name__ = name.replace(" ", "_")
    return every


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # scrapes every few seconds would flood the logs
        pass


def _health_app(ready: Callable[[], bool]):
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            body, content_type = metrics.exposition()
            start_response("200 OK", [("Content-Type", content_type)])
            return [body]
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status": "ok"}']
        if path == "/readyz":
            ok = ready()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"status": "ready"}' if ok else b'{"status": "not ready"}']
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"message": "Introuvable."}']
    return app


def serve_health(port: int, ready: Callable[[], bool]):
    # 127.0.0.1 unless told otherwise (a container sets METRICS_HOST=0.0.0.0 for Prometheus).
    host = os.environ.get("METRICS_HOST", "127.0.0.1")
    server = make_server(host, port, _health_app(ready), handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


def run(*, consume: Callable[[threading.Event], None] | None,
        background: list[Callable[[threading.Event], None]] = (),
        ready: Callable[[], bool] = lambda: True) -> None:
    stop = threading.Event()

    def on_signal(signum, frame):
        log.info("stopping on signal %s", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    port = int(os.environ.get("METRICS_PORT", "0"))
    server = serve_health(port, ready) if port else None
    threads = [threading.Thread(target=task, args=(stop,), name=getattr(task, "__name__", "task"))
               for task in background]
    for thread in threads:
        thread.start()
    try:
        if consume is not None:
            consume(stop)
        else:
            stop.wait()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
        if server:
            server.shutdown()
        log.info("worker stopped")


def run_outbox_relay(service: str, settings: Settings, db: Database,
                     ready: Callable[[], bool] | None = None) -> None:
    """The whole run of a worker that consumes nothing and only relays its service's outbox (in
    `db`) to Kafka, until SIGTERM. Ready while MongoDB answers, unless `ready` says otherwise."""
    producer = kafka.producer(settings)
    relay = OutboxRelay(db, producer, service)
    try:
        run(consume=None, background=[relay.run], ready=ready or (lambda: mongo.ping(settings)))
    finally:
        producer.close(timeout=10)
