"""Worker of the requests service: relays the outbox to Kafka (it consumes nothing yet)."""
from __future__ import annotations

from vitawin_common import kafka, logs, mongo, worker

from vitawin_requests import bootstrap


def main() -> None:
    logs.configure(bootstrap.SERVICE)
    settings = bootstrap.settings()
    kafka.ensure_topics(settings)
    bootstrap.ensure_indexes(settings)
    worker.run_outbox_relay(bootstrap.SERVICE, settings, mongo.database(settings))


if __name__ == "__main__":
    main()
