"""Event contracts: one JSON Schema per event type and version, and the AsyncAPI channels, read
from the `contracts/` folder. This is the only thing services share about events."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import jsonschema
import yaml


class ContractViolation(ValueError):
    """Data that does not satisfy the JSON Schema of its event type."""


@dataclass(frozen=True)
class Channel:
    name: str
    address: str
    partitions: int


class Contracts:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._validators: dict[str, jsonschema.protocols.Validator] = {}

    def schema_path(self, event_type: str) -> Path:
        return self.folder / "schemas" / f"{event_type}.json"

    def knows(self, event_type: str) -> bool:
        return self.schema_path(event_type).is_file()

    def validator(self, event_type: str):
        if event_type not in self._validators:
            path = self.schema_path(event_type)
            if not path.is_file():
                raise ContractViolation(f"unknown event type {event_type!r}")
            schema = json.loads(path.read_text(encoding="utf-8"))
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            self._validators[event_type] = cls(schema, format_checker=cls.FORMAT_CHECKER)
        return self._validators[event_type]

    def validate(self, event_type: str, data) -> None:
        errors = sorted(self.validator(event_type).iter_errors(data), key=lambda e: list(e.path))
        if errors:
            reasons = "; ".join(_reason(e) for e in errors)
            raise ContractViolation(f"{event_type}: {reasons}")

    @cached_property
    def asyncapi(self) -> dict:
        return yaml.safe_load((self.folder / "asyncapi.yaml").read_text(encoding="utf-8"))

    @cached_property
    def _channels(self) -> dict[str, Channel]:
        # Read once: every outbox write looks its topic up here (4 ms a parse otherwise).
        return {
            name: Channel(name, spec["address"], int(spec.get("x-partitions", 1)))
            for name, spec in self.asyncapi["channels"].items()
        }

    def channels(self) -> dict[str, Channel]:
        return dict(self._channels)

    def topic(self, channel: str) -> str:
        return self.channels()[channel].address


def _reason(error) -> str:
    """Name the field and the rule it breaks, never the value: reasons end up in dead-letter
    headers and logs, and a value may be personal data."""
    path = "/".join(map(str, error.path)) or "(root)"
    if error.validator == "required":
        return f"{path}: {error.message}"  # quotes the missing field's name only
    return f"{path}: breaks {error.validator}={error.validator_value!r}"


@lru_cache(maxsize=None)
def load(folder: str | Path) -> Contracts:
    return Contracts(Path(folder))
