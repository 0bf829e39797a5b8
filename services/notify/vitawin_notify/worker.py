"""The notify worker: reads proposals and emails both parties. `python -m vitawin_notify.worker`"""
from __future__ import annotations

from vitawin_common import kafka, logs, mongo, worker

from vitawin_notify import bootstrap


def main() -> None:
    logs.configure(bootstrap.SERVICE)
    config = bootstrap.settings()
    kafka.ensure_topics(config)
    bootstrap.deliveries(config).ensure_indexes()
    producer = kafka.producer(config)  # for dead letters only: notify publishes no event
    try:
        loop = bootstrap.consumer_loop(config, producer)
        worker.run(consume=loop.run, background=[], ready=lambda: mongo.ping(config))
    finally:
        producer.close(timeout=10)


if __name__ == "__main__":
    main()
