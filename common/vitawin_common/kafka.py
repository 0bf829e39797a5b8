"""Kafka clients made the same way everywhere, and topics created from the AsyncAPI channels."""
from __future__ import annotations

import logging

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from vitawin_common.config import Settings
from vitawin_common.contracts import load

log = logging.getLogger(__name__)


def producer(settings: Settings) -> KafkaProducer:
    # kafka-python defaults: acks=all and idempotence on. A little linger lets the relay batch.
    return KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=5,
                         client_id=f"vitawin-{settings.service_name}")


def consumer(settings: Settings, group_id: str, topics: list[str]) -> KafkaConsumer:
    return KafkaConsumer(
        *topics, bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group_id,
        enable_auto_commit=False, auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        max_poll_records=50, client_id=f"vitawin-{settings.service_name}",
    )


def ensure_topics(settings: Settings) -> list[str]:
    """Create every channel of contracts/asyncapi.yaml that does not exist yet. Partitions are
    fixed at creation (Tansu cannot add any later), so the AsyncAPI document sets them."""
    channels = load(settings.contracts_dir).channels().values()
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers,
                             client_id=f"vitawin-{settings.service_name}-admin")
    try:
        existing = set(admin.list_topics())
        missing = [c for c in channels if c.address not in existing]
        for channel in missing:
            try:
                admin.create_topics([NewTopic(channel.address, channel.partitions, 1)])
            except TopicAlreadyExistsError:
                pass  # another process won the race
        return [c.address for c in missing]
    finally:
        admin.close()
