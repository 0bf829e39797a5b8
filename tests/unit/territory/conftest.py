"""The territory files, their schema and the builder (a script, loaded from its path): no network."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

TERRITORIES = Path(__file__).resolve().parents[3] / "territories"
SCHEMA = TERRITORIES / "territory.schema.json"


@pytest.fixture(scope="session")
def schema() -> dict:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def validator(schema) -> Draft202012Validator:
    return Draft202012Validator(schema)


@pytest.fixture(scope="session")
def builder():
    spec = importlib.util.spec_from_file_location("build_territory", TERRITORIES / "build_territory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
