"""`python -m vitawin_matching.worker`: consumes `volunteers`, `requests` and its own proposals'
declines and expiries (group "matching"), relays the proposals' outbox and expires unanswered
proposals (every MATCHING_EXPIRY_INTERVAL_S seconds, 60 by default) in the background, serves
/metrics /healthz /readyz on METRICS_PORT."""
from __future__ import annotations

import logging
import time

from vitawin_common import kafka, logs, worker

from vitawin_matching import bootstrap

log = logging.getLogger(__name__)


def main() -> None:
    logs.configure(bootstrap.SERVICE)
    config = bootstrap.settings()
    kafka.ensure_topics(config)
    bootstrap.prepare_database(config)
    producer = kafka.producer(config)
    follower = bootstrap.volunteer_index(config)
    started = time.monotonic()
    loaded = follower.load()  # before the first event: a search must see every volunteer
    log.info("volunteer index loaded", extra={"volunteers": loaded, "seconds": round(time.monotonic() - started, 2)})
    loop = bootstrap.consumer_loop(config, producer, follower)
    relay = bootstrap.outbox_relay(config, producer)
    expiry = bootstrap.expiry_timer(config)
    try:
        worker.run(consume=loop.run, background=[relay.run, expiry, follower.run], ready=bootstrap.ready(config))
    finally:
        producer.close(timeout=10)


if __name__ == "__main__":
    main()
