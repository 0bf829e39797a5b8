"""The partner-facing topics: contracts/partners.asyncapi.yaml, read next to the internal
asyncapi.yaml so that the outbox and the consumer loop know both documents' channels, and the
public topics made with their partitions and retention."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import yaml
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from vitawin_common.config import Settings
from vitawin_common.contracts import Contracts

log = logging.getLogger(__name__)

PARTNERS_DOCUMENT = "partners.asyncapi.yaml"


@dataclass(frozen=True)
class PublicTopic:
    channel: str
    address: str
    partitions: int
    retention_ms: int
    key: str


class PartnerContracts(Contracts):
    """`Contracts` whose channels are the internal document's and the partners' document's."""

    @cached_property
    def partners(self) -> dict:
        return yaml.safe_load((self.folder / PARTNERS_DOCUMENT).read_text(encoding="utf-8"))

    @cached_property
    def asyncapi(self) -> dict:
        internal = yaml.safe_load((self.folder / "asyncapi.yaml").read_text(encoding="utf-8"))
        return {**internal, "channels": {**internal["channels"], **self.partners["channels"]}}

    def public_topics(self) -> list[PublicTopic]:
        return [PublicTopic(name, spec["address"], int(spec["x-partitions"]), int(spec["x-retention-ms"]),
                            spec["x-key"])
                for name, spec in self.partners["channels"].items()]


@lru_cache(maxsize=None)
def load(folder: str | Path) -> PartnerContracts:
    return PartnerContracts(Path(folder))


def ensure_public_topics(settings: Settings, contracts: PartnerContracts) -> list[str]:
    """Create the public topics that do not exist yet, with their partitions and retention
    (retention.ms, cleanup.policy=delete). A broker that refuses the settings (the local stand-in
    may) gets the topic without them, and says so in the log."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers,
                             client_id=f"vitawin-{settings.service_name}-admin")
    try:
        existing = set(admin.list_topics())
        made = []
        for topic in contracts.public_topics():
            if topic.address in existing:
                continue
            configs = {"retention.ms": str(topic.retention_ms), "cleanup.policy": "delete"}
            try:
                admin.create_topics([NewTopic(topic.address, topic.partitions, 1, topic_configs=configs)])
            except TopicAlreadyExistsError:
                continue
            except KafkaError:
                log.warning("the broker refused the public topic's settings; created without them",
                            extra={"topic": topic.address})
                try:
                    admin.create_topics([NewTopic(topic.address, topic.partitions, 1)])
                except TopicAlreadyExistsError:
                    continue
            made.append(topic.address)
        return made
    finally:
        admin.close()
