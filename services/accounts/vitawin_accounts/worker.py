"""The accounts worker: `python -m vitawin_accounts.worker`. In one process:
- the consumer (group "accounts") of `contacts` (fr.vitawin.contact.registered.v1: memberships)
  and `actors` (fr.vitawin.actor.erased.v1: memberships removed, sessions revoked), with the common
  consumer loop: offsets committed after the effect, idempotent handlers, poison events to the
  `accountsDeadLetter` channel;
- health and metrics on METRICS_PORT.
Accounts publishes no event: there is no outbox to relay."""
from __future__ import annotations

from vitawin_common import kafka, logs, worker

from vitawin_accounts import bootstrap


def main() -> None:
    logs.configure(bootstrap.SERVICE)
    config = bootstrap.settings()
    kafka.ensure_topics(config)
    bootstrap.prepare_database(config)
    producer = kafka.producer(config)  # dead letters only
    try:
        loop = bootstrap.consumer_loop(config, producer, bootstrap.memberships(config))
        worker.run(consume=loop.run, ready=bootstrap.ready(config))
    finally:
        producer.close(timeout=10)


if __name__ == "__main__":
    main()
