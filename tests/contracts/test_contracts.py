"""The event contracts hold together: every JSON Schema is valid 2020-12 and versioned in its file
name, every example is a CloudEvents 1.0 envelope whose data satisfies its schema, and the AsyncAPI
document points at those schemas, each channel with an address and its partitions; so does the
partners' document (partners.asyncapi.yaml: the public topics). The negative tests show that the
checks can fail."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from vitawin_common.contracts import Contracts

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
SCHEMAS = CONTRACTS / "schemas"
EXAMPLES = CONTRACTS / "examples"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
# fr.vitawin.<entity>.<fact>.v<N>.json, and fr.vitawin.public.<entity>.<fact>.v<N>.json for partners
SCHEMA_FILE = re.compile(r"^fr\.vitawin\.(?:public\.)?[a-z][a-z_]*\.[a-z][a-z_]*\.v(?P<version>[1-9][0-9]*)\.json$")
# The internal streams' document, and the partners' one (public topics, their own contract)
DOCUMENTS = ("asyncapi.yaml", "partners.asyncapi.yaml")

SCHEMA_FILES = sorted(SCHEMAS.glob("*.json"))
EXAMPLE_FILES = sorted(EXAMPLES.glob("*/*.json"))


def load_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def asyncapi(document: str = "asyncapi.yaml") -> dict:
    return yaml.safe_load((CONTRACTS / document).read_text(encoding="utf-8"))


def validator_for(event_type: str) -> Draft202012Validator:
    schema = load_json(SCHEMAS / f"{event_type}.json")
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def check_envelope(envelope: dict, folder_type: str) -> None:
    """CloudEvents 1.0 required attributes, and the type of the folder it sits in."""
    if not isinstance(envelope, dict):
        raise AssertionError("an example is a JSON object")
    if envelope.get("specversion") != "1.0":
        raise AssertionError(f"specversion must be '1.0', not {envelope.get('specversion')!r}")
    for attribute in ("id", "source", "type"):
        value = envelope.get(attribute)
        if not isinstance(value, str) or not value:
            raise AssertionError(f"required CloudEvents attribute {attribute!r} missing or empty")
    if envelope["type"] != folder_type:
        raise AssertionError(f"type {envelope['type']!r} is not its folder's {folder_type!r}")
    for name in envelope:  # CloudEvents attribute names: lower-case letters and digits
        if name != "data" and not re.fullmatch(r"[a-z0-9]{1,20}", name):
            raise AssertionError(f"{name!r} is not a valid CloudEvents attribute name")


def local_ref(document: dict, ref: str):
    assert ref.startswith("#/"), f"{ref} is not a local reference"
    node = document
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"{ref} points at nothing"
        node = node[part]
    return node


# --- schemas -------------------------------------------------------------------------------

def test_there_are_schemas_and_examples():
    assert SCHEMA_FILES, "no schema found in contracts/schemas"
    assert EXAMPLE_FILES, "no example found in contracts/examples"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_schema_is_a_valid_2020_12_json_schema(path):
    schema = load_json(path)
    assert schema.get("$schema") == DRAFT_2020_12
    Draft202012Validator.check_schema(schema)
    assert schema.get("type") == "object", "event data is a JSON object"
    assert schema.get("$id", "").endswith(f"/{path.name}"), "the $id names the file"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_schema_names_its_version_in_its_file_name(path):
    assert SCHEMA_FILE.match(path.name), f"{path.name} is not fr.vitawin.<entity>.<fact>.v<N>.json"


def test_an_invalid_schema_is_caught():
    from jsonschema.exceptions import SchemaError
    with pytest.raises(SchemaError):
        Draft202012Validator.check_schema({"$schema": DRAFT_2020_12, "type": "object", "required": "town"})
    assert not SCHEMA_FILE.match("fr.vitawin.volunteer.registered.json")


# --- examples ------------------------------------------------------------------------------

def test_every_schema_has_an_example_and_every_example_folder_a_schema():
    schema_types = {path.name[: -len(".json")] for path in SCHEMA_FILES}
    example_types = {path.parent.name for path in EXAMPLE_FILES}
    assert example_types == schema_types
    assert {p.name for p in EXAMPLES.iterdir() if p.is_dir()} == schema_types


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_example_is_a_cloudevent_whose_data_validates_against_its_schema(path):
    envelope = load_json(path)
    check_envelope(envelope, path.parent.name)
    assert isinstance(envelope.get("data"), dict), "data is a JSON object"
    validator_for(envelope["type"]).validate(envelope["data"])
    Contracts(CONTRACTS).validate(envelope["type"], envelope["data"])  # what the services run


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_an_example_without_one_of_its_required_fields_fails_validation(path):
    envelope = load_json(path)
    required = validator_for(envelope["type"]).schema["required"]
    assert required, "a schema with no required field cannot protect consumers"
    for field in required:
        broken = copy.deepcopy(envelope["data"])
        del broken[field]
        with pytest.raises(ValidationError, match=re.escape(repr(field))):
            validator_for(envelope["type"]).validate(broken)


def test_a_broken_envelope_is_caught():
    envelope = load_json(EXAMPLE_FILES[0])
    folder = EXAMPLE_FILES[0].parent.name
    for broken in ({**envelope, "type": "fr.vitawin.something.else.v1"},
                   {k: v for k, v in envelope.items() if k != "source"},
                   {**envelope, "specversion": "0.3"}):
        with pytest.raises(AssertionError):
            check_envelope(broken, folder)


# --- AsyncAPI ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DOCUMENTS)
def test_asyncapi_is_version_3(name):
    assert str(asyncapi(name)["asyncapi"]) == "3.0.0"


def test_every_channel_has_an_address_and_partitions():
    channels = [channel for name in DOCUMENTS for channel in asyncapi(name)["channels"].items()]
    assert channels
    addresses = []
    for name, channel in channels:
        assert isinstance(channel.get("address"), str) and channel["address"], name
        partitions = channel.get("x-partitions")
        assert isinstance(partitions, int) and partitions >= 1, name
        addresses.append(channel["address"])
    assert len(addresses) == len(set(addresses)), "two channels share a topic"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_message_points_at_an_existing_schema_named_by_its_type(name):
    document = asyncapi(name)
    messages = document["components"]["messages"]
    assert messages
    for key, message in messages.items():
        ref = message["payload"]["$ref"]
        schema_path = (CONTRACTS / ref).resolve()
        assert schema_path.is_file(), f"message {key}: {ref} does not exist"
        assert schema_path.parent == SCHEMAS.resolve()
        assert message["name"] == schema_path.name[: -len(".json")], f"message {key} names another type"


def test_every_schema_is_referenced_by_a_message():
    messages = [m for name in DOCUMENTS for m in asyncapi(name)["components"]["messages"].values()]
    referenced = {(CONTRACTS / m["payload"]["$ref"]).resolve() for m in messages}
    assert {p.resolve() for p in SCHEMA_FILES} <= referenced, "a schema no message carries"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_reference_of_channels_and_operations_resolves(name):
    document = asyncapi(name)
    for name, channel in document["channels"].items():
        for message in (channel.get("messages") or {}).values():
            local_ref(document, message["$ref"])
    for name, operation in (document.get("operations") or {}).items():
        assert operation["action"] in ("send", "receive"), name
        local_ref(document, operation["channel"]["$ref"])
    carried = {m["$ref"] for c in document["channels"].values() for m in (c.get("messages") or {}).values()}
    assert carried == {f"#/components/messages/{key}" for key in document["components"]["messages"]}, \
        "every message travels on a channel"


def test_a_dangling_reference_is_caught():
    with pytest.raises(AssertionError):
        local_ref(asyncapi(), "#/channels/nowhere")
