"""Worker of the requests service: relays the outbox to Kafka (it consumes nothing yet)."""
from __future__ import annotations

from vitawin_common import kafka, logs, worker

from vitawin_requests import bootstrap


def main() -> None:
    logs.configure(bootstrap.SERVICE)
    settings = bootstrap.settings()
    kafka.ensure_topics(settings)
    bootstrap.ensure_indexes(settings)
    relay = bootstrap.relay(settings)
    try:
        worker.run(consume=None, background=[relay.run], ready=bootstrap.ready(settings))
    finally:
        relay.producer.close(timeout=10)


if __name__ == "__main__":
    main()
