"""Prometheus metrics. Under gunicorn they run in multiprocess mode (PROMETHEUS_MULTIPROC_DIR), as
prometheus-client's docs say: the directory is wiped at start (see gunicorn_conf), the registry is
built per scrape, and dead workers are marked in `child_exit`."""
from __future__ import annotations

import os

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess)

HTTP_REQUESTS = Counter("vitawin_http_requests_total", "HTTP requests served",
                        ["service", "method", "endpoint", "status"])
HTTP_LATENCY = Histogram("vitawin_http_request_duration_seconds", "HTTP request latency",
                         ["service", "method", "endpoint"])
EVENTS_HANDLED = Counter("vitawin_events_handled_total", "Events consumed, by outcome",
                         ["service", "type", "outcome"])
EVENTS_DEAD_LETTERED = Counter("vitawin_events_dead_lettered_total", "Events sent to a dead-letter topic",
                               ["service", "topic", "reason"])
CONSUMER_LAG = Gauge("vitawin_consumer_lag", "Records behind the partition end, from the broker's end offsets",
                     ["service", "topic", "partition"], multiprocess_mode="max")
EVENTS_PUBLISHED = Counter("vitawin_events_published_total", "Events published from the outbox",
                           ["service", "topic"])
OUTBOX_BACKLOG = Gauge("vitawin_outbox_backlog", "Outbox entries not yet published",
                       ["service"], multiprocess_mode="max")
EMAILS = Counter("vitawin_emails_total", "E-mails handed to the SMTP relay, by template and outcome "
                 "(sent; refused: 5xx for every recipient; unavailable: anything else, to retry)",
                 ["template", "outcome"])


def registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)
        return reg
    from prometheus_client import REGISTRY
    return REGISTRY


def exposition() -> tuple[bytes, str]:
    return generate_latest(registry()), CONTENT_TYPE_LATEST
