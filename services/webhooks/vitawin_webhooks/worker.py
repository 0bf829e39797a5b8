"""The webhooks worker: `python -m vitawin_webhooks.worker`. In one process:
- the consumer (group `webhooks`): internal events -> public events (outbox), and public events
  read back from their topics -> stored, with one pending delivery per subscription that wants
  them (offsets committed after that transaction);
- the outbox relay (public events, dead letters);
- the dispatcher: sends due deliveries, signed, a few at a time per subscription;
- housekeeping every 30 s (expired claims, public events past retention);
- health and metrics on METRICS_PORT."""
from __future__ import annotations

from vitawin_common import kafka, logs, worker

from vitawin_webhooks import bootstrap, topics


def main() -> None:
    logs.configure(bootstrap.SERVICE)
    config = bootstrap.settings()
    kafka.ensure_topics(config)
    topics.ensure_public_topics(config, bootstrap.contracts(config))
    bootstrap.prepare_database(config)
    producer = kafka.producer(config)
    try:
        loop = bootstrap.consumer_loop(config, producer)
        dispatcher = bootstrap.dispatcher(config)
        worker.run(consume=loop.run,
                   background=[bootstrap.outbox_relay(config, producer).run, dispatcher.run,
                               bootstrap.housekeeping(config, dispatcher)],
                   ready=bootstrap.ready(config))
    finally:
        producer.close(timeout=10)


if __name__ == "__main__":
    main()
