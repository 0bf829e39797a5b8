"""`python -m vitawin_matching.worker`: consumes `volunteers` and `requests` (group "matching"),
relays the proposals' outbox in the background, serves /metrics /healthz /readyz on METRICS_PORT."""
from __future__ import annotations

from vitawin_common import kafka, logs, worker

from vitawin_matching import bootstrap


def main() -> None:
    logs.configure(bootstrap.SERVICE)
    config = bootstrap.settings()
    kafka.ensure_topics(config)
    bootstrap.prepare_database(config)
    producer = kafka.producer(config)
    loop = bootstrap.consumer_loop(config, producer)
    relay = bootstrap.outbox_relay(config, producer)
    try:
        worker.run(consume=loop.run, background=[relay.run], ready=bootstrap.ready(config))
    finally:
        producer.close(timeout=10)


if __name__ == "__main__":
    main()
