"""The notify worker: `python -m vitawin_notify.worker`. In one process:
- the main consumer (proposals, requests, volunteers, contacts, actors, requesters): the emails
  each event calls for, first try;
- the retry consumer (its own group, the private `notifyRetry` channel): emails the relay could
  not take, each when it is due;
- the outbox relay (notification events, retries, dead-letter entries);
- the clock (every NOTIFY_TICK_S seconds, 60 by default): reminders, digests, forgetting settled
  proposals;
- health and metrics on METRICS_PORT."""
from __future__ import annotations

from vitawin_common import kafka, logs, worker

from vitawin_notify import bootstrap


def main() -> None:
    logs.configure(bootstrap.SERVICE)
    config = bootstrap.settings()
    kafka.ensure_topics(config)
    bootstrap.prepare_database(config)
    producer = kafka.producer(config)
    try:
        notify = bootstrap.notify(config)
        loop = bootstrap.consumer_loop(config, producer, notify)
        worker.run(consume=loop.run,
                   background=[bootstrap.outbox_relay(config, producer).run,
                               bootstrap.retry_consumer(config, producer, notify.deliverer),
                               bootstrap.clock(notify)],
                   ready=bootstrap.ready(config))
    finally:
        producer.close(timeout=10)


if __name__ == "__main__":
    main()
