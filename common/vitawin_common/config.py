"""Configuration from environment variables, so the same code runs on the local stand-ins and on
Apache Kafka, MongoDB and an SMTP relay in production."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _find_contracts_dir() -> Path:
    explicit = os.environ.get("CONTRACTS_DIR")
    if explicit:
        return Path(explicit)
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            candidate = folder / "contracts"
            if (candidate / "asyncapi.yaml").is_file():
                return candidate
    raise RuntimeError("contracts/ not found: set CONTRACTS_DIR")


@dataclass(frozen=True)
class Settings:
    service_name: str
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    mongodb_uri: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongodb_database: str = "vitawin"
    contracts_dir: Path = field(default_factory=_find_contracts_dir)
    # Tansu makes a new group wait about half the session timeout: keep it short.
    kafka_session_timeout_ms: int = 6000
    kafka_heartbeat_interval_ms: int = 1000
    # How long a fetch may wait for data. Tansu holds every fetch this long even when records are
    # waiting (kafka-python's 500 ms default made a 160 ms median hop, 100 ms makes ~27 ms,
    # bench/matching_kafka.py); Apache Kafka answers as soon as there is data.
    kafka_fetch_max_wait_ms: int = 100
    dead_letter_limit: int = 1000

    @classmethod
    def from_env(cls, service_name: str, **overrides) -> "Settings":
        env = os.environ
        values = dict(
            service_name=service_name,
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", cls.kafka_bootstrap_servers),
            mongodb_uri=env.get("MONGODB_URI", cls.mongodb_uri),
            mongodb_database=env.get("MONGODB_DATABASE", f"vitawin_{service_name}"),
            kafka_session_timeout_ms=int(env.get("KAFKA_SESSION_TIMEOUT_MS", cls.kafka_session_timeout_ms)),
            kafka_heartbeat_interval_ms=int(env.get("KAFKA_HEARTBEAT_INTERVAL_MS", cls.kafka_heartbeat_interval_ms)),
            kafka_fetch_max_wait_ms=int(env.get("KAFKA_FETCH_MAX_WAIT_MS", cls.kafka_fetch_max_wait_ms)),
            dead_letter_limit=int(env.get("DEAD_LETTER_LIMIT", cls.dead_letter_limit)),
        )
        values.update(overrides)
        return cls(**values)


def territory_file() -> Path:
    """The territory this deployment serves is data (TERRITORY_FILE), not code."""
    explicit = os.environ.get("TERRITORY_FILE")
    if explicit:
        return Path(explicit)
    return _find_contracts_dir().parent / "territories" / "paris-est-marne-et-bois.json"
