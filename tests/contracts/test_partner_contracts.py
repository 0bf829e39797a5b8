"""The partners' contract (contracts/partners.asyncapi.yaml and the fr.vitawin.public.* schemas)
can carry no personal data and keeps its promises: every object of a public schema is closed,
every string is a code (an enum, a pattern or a date), never free text where a name could hide;
no field is named after a personal datum; the public topics are exactly those of the partners'
document, each with its key, partitions and retention; no internal event travels on them and no
public topic is internal. The negative tests show that the checks can fail."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
SCHEMAS = CONTRACTS / "schemas"
PUBLIC_SCHEMAS = sorted(SCHEMAS.glob("fr.vitawin.public.*.json"))
# Field names that would say "a person is here", whatever their type.
PERSONAL_NAMES = re.compile(r"(^|_)(name|first_name|last_name|email|e_mail|phone|mobile|address|street|postcode|"
                            r"location|lat|lon|title|description|topic|keywords|comment|message|siret|siren|"
                            r"actor_id|volunteer_id|proposal_id|guardian|birth|contact)($|_)")
THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def document(name: str) -> dict:
    return yaml.safe_load((CONTRACTS / name).read_text(encoding="utf-8"))


def open_objects(schema, path="") -> list[str]:
    """Paths of the object schemas under `schema` that are not closed (additionalProperties false)."""
    found = []
    if isinstance(schema, dict):
        is_object = schema.get("type") == "object" or "properties" in schema
        if is_object and schema.get("additionalProperties") is not False:
            found.append(path or "(root)")
        for key, value in schema.items():
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    found += open_objects(sub, f"{path}/{name}")
            elif key in ("items", "additionalProperties", "not", "if", "then", "else") and isinstance(value, dict):
                if key in ("not", "if", "then", "else"):
                    continue  # conditions restrict; they declare no field of their own
                found += open_objects(value, f"{path}[]")
            elif key in ("allOf", "anyOf", "oneOf"):
                for index, sub in enumerate(value):
                    if "properties" in sub and not set(sub["properties"]) <= set(schema.get("properties", {})):
                        found.append(f"{path}/{key}[{index}] declares fields of its own")
    return found


def free_strings(schema, path="") -> list[str]:
    """Paths of string fields that accept any text: no enum, const, pattern or date format."""
    found = []
    if isinstance(schema, dict):
        if schema.get("type") == "string" and not ({"enum", "const", "pattern"} & set(schema)) \
                and schema.get("format") not in ("date", "date-time"):
            found.append(path or "(root)")
        for key, value in schema.items():
            if key == "properties":
                for name, sub in value.items():
                    found += free_strings(sub, f"{path}/{name}")
            elif key == "items" and isinstance(value, dict):
                found += free_strings(value, f"{path}[]")
    return found


def field_names(schema) -> set[str]:
    names = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties":
                names |= set(value)
                for sub in value.values():
                    names |= field_names(sub)
            elif isinstance(value, (dict, list)):
                names |= field_names(value)
    elif isinstance(schema, list):
        for item in schema:
            names |= field_names(item)
    return names


def test_there_are_public_schemas():
    assert len(PUBLIC_SCHEMAS) >= 7


@pytest.mark.parametrize("path", PUBLIC_SCHEMAS, ids=lambda p: p.name)
def test_every_object_of_a_public_schema_is_closed(path):
    assert open_objects(load(path)) == []


@pytest.mark.parametrize("path", PUBLIC_SCHEMAS, ids=lambda p: p.name)
def test_no_public_field_takes_free_text(path):
    assert free_strings(load(path)) == []


@pytest.mark.parametrize("path", PUBLIC_SCHEMAS, ids=lambda p: p.name)
def test_no_public_field_is_named_after_a_personal_datum(path):
    assert sorted(name for name in field_names(load(path)) if PERSONAL_NAMES.search(name)) == []


def test_the_checks_catch_an_open_object_free_text_and_a_personal_field():
    leaky = {"type": "object", "additionalProperties": False, "properties": {
        "place": {"type": "object", "properties": {"town": {"type": "string", "pattern": "^[0-9]{5}$"}}},
        "note": {"type": "string", "maxLength": 100},
        "contact_email": {"type": "string", "format": "email"}}}
    assert open_objects(leaky) == ["/place"]
    assert free_strings(leaky) == ["/note", "/contact_email"]
    assert [n for n in field_names(leaky) if PERSONAL_NAMES.search(n)] == ["contact_email"]
    assert open_objects({"type": "object", "properties": {}}) == ["(root)"]


# --- the partners' document ----------------------------------------------------------------

def test_the_partners_document_carries_exactly_the_public_types_and_the_internal_one_none():
    partners, internal = document("partners.asyncapi.yaml"), document("asyncapi.yaml")
    public_types = {path.name[: -len(".json")] for path in PUBLIC_SCHEMAS}
    assert {m["name"] for m in partners["components"]["messages"].values()} == public_types
    assert not {m["name"] for m in internal["components"]["messages"].values()} & public_types


def test_public_topics_are_versioned_and_none_is_internal():
    partners, internal = document("partners.asyncapi.yaml"), document("asyncapi.yaml")
    for name, channel in partners["channels"].items():
        assert re.fullmatch(r"public\.[a-z]+\.v[1-9][0-9]*", channel["address"]), name
    for name, channel in internal["channels"].items():
        assert not channel["address"].startswith("public."), f"internal channel {name} on a public topic"


def test_every_public_topic_says_its_key_partitions_and_retention():
    for name, channel in document("partners.asyncapi.yaml")["channels"].items():
        binding = channel["bindings"]["kafka"]
        assert binding["topic"] == channel["address"], name
        assert binding["partitions"] == channel["x-partitions"] >= 1, name
        assert binding["topicConfiguration"]["retention.ms"] == channel["x-retention-ms"] == THIRTY_DAYS_MS, name
        assert channel["x-key"], name
        for ref in channel["messages"].values():
            message = document("partners.asyncapi.yaml")["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]
            schema = load(CONTRACTS / message["payload"]["$ref"])
            assert channel["x-key"] in schema["required"], f"{message['name']}: the key {channel['x-key']} is required"
            assert message["bindings"]["kafka"]["key"]["type"] == "string"


def test_the_type_version_and_the_topic_version_agree():
    doc = document("partners.asyncapi.yaml")
    for channel in doc["channels"].values():
        topic_version = channel["address"].rsplit(".", 1)[-1]
        for ref in channel["messages"].values():
            name = doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]["name"]
            assert name.startswith("fr.vitawin.public.") and name.endswith(f".{topic_version}"), name
