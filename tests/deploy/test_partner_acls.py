"""A partner with its own Kafka gets read access to the partner-facing topics and to its own
consumer groups, nothing else: deploy/kafka/partner-acls.sh (kafka-acls.sh, run here against stub
Kafka tools that record their arguments) and deploy/kafka/partner-kafkauser.yaml (Strimzi) grant
Read and Describe on the prefix `public.`, which covers every topic of the partners' contract and
no internal topic, and on the group prefix `partner-<name>-`."""
from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KAFKA = ROOT / "deploy" / "kafka"
SCRIPT = KAFKA / "partner-acls.sh"
READ_ONLY = {"Read", "Describe"}


def topics(document: str) -> list[str]:
    doc = yaml.safe_load((ROOT / "contracts" / document).read_text(encoding="utf-8"))
    return [channel["address"] for channel in doc["channels"].values()]


@pytest.fixture
def kafka_bin(tmp_path):
    """kafka-acls.sh and kafka-configs.sh stand-ins: each call appends its arguments to calls.txt."""
    calls = tmp_path / "calls.txt"
    for tool in ("kafka-acls.sh", "kafka-configs.sh"):
        stub = tmp_path / tool
        stub.write_text(f'#!/bin/sh\nprintf "%s" "{tool}" >> "{calls}"\n'
                        f'for a in "$@"; do printf " %s" "$(printf %s "$a" | sed "s/ /\\\\ /g")" >> "{calls}"; done\n'
                        f'echo >> "{calls}"\n')
        stub.chmod(0o755)
    return tmp_path


def run(kafka_bin, *args, **env):
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "KAFKA_BIN": str(kafka_bin), **env})


def calls(kafka_bin) -> list[list[str]]:
    path = kafka_bin / "calls.txt"
    return [shlex.split(line) for line in path.read_text().splitlines()] if path.exists() else []


def acl_grants(call: list[str]) -> tuple[str, set[str], tuple[str, str], str]:
    """(action, operations, (resource kind, name), pattern type) of one kafka-acls.sh call."""
    action = "--add" if "--add" in call else "--remove"
    operations = {call[i + 1] for i, arg in enumerate(call) if arg == "--operation"}
    kinds = [(arg[2:], call[i + 1]) for i, arg in enumerate(call) if arg in ("--topic", "--group", "--cluster",
                                                                            "--transactional-id")]
    assert len(kinds) == 1, call
    return action, operations, kinds[0], call[call.index("--resource-pattern-type") + 1]


def test_the_public_prefix_covers_every_partner_topic_and_no_internal_one():
    assert topics("partners.asyncapi.yaml") and all(t.startswith("public.") for t in topics("partners.asyncapi.yaml"))
    assert not [t for t in topics("asyncapi.yaml") if t.startswith("public.")]


def test_adding_a_partner_grants_read_and_describe_on_public_topics_and_its_groups_only(kafka_bin):
    result = run(kafka_bin, "add", "mairie-vincennes", PARTNER_PASSWORD="s3cret")
    assert result.returncode == 0, result.stderr
    made = calls(kafka_bin)
    acls = [acl_grants(call) for call in made if call[0] == "kafka-acls.sh"]
    assert acls == [("--add", READ_ONLY, ("topic", "public."), "prefixed"),
                    ("--add", READ_ONLY, ("group", "partner-mairie-vincennes-"), "prefixed")]
    for call in made:
        if call[0] == "kafka-acls.sh":
            assert call[call.index("--allow-principal") + 1] == "User:partner-mairie-vincennes"
            assert "--deny-principal" not in call
    [user] = [call for call in made if call[0] == "kafka-configs.sh"]
    assert user[user.index("--entity-name") + 1] == "partner-mairie-vincennes"
    assert "SCRAM-SHA-512=[iterations=8192,password=s3cret]" in user[user.index("--add-config") + 1]
    assert "consumer_byte_rate=" in user[user.index("--add-config") + 1]


def test_removing_a_partner_takes_the_same_grants_back(kafka_bin):
    assert run(kafka_bin, "remove", "mairie-vincennes").returncode == 0
    acls = [acl_grants(call) for call in calls(kafka_bin) if call[0] == "kafka-acls.sh"]
    assert acls == [("--remove", READ_ONLY, ("topic", "public."), "prefixed"),
                    ("--remove", READ_ONLY, ("group", "partner-mairie-vincennes-"), "prefixed")]


@pytest.mark.parametrize("args", [("add",), ("grant", "x"), ("add", "Mairie"), ("add", "a b"), ("add", "-x"),
                                  ("add", "x*")])
def test_a_bad_call_grants_nothing(kafka_bin, args):
    assert run(kafka_bin, *args).returncode == 2
    assert calls(kafka_bin) == []


def test_the_strimzi_user_is_read_only_on_public_topics_and_its_groups():
    user = yaml.safe_load((KAFKA / "partner-kafkauser.yaml").read_text(encoding="utf-8"))
    assert user["kind"] == "KafkaUser" and user["apiVersion"] == "kafka.strimzi.io/v1beta2"
    name = user["metadata"]["name"]
    assert name.startswith("partner-")
    spec = user["spec"]
    assert spec["authentication"]["type"] == "scram-sha-512"
    grants = [((acl["resource"]["type"], acl["resource"]["name"], acl["resource"]["patternType"]),
               set(acl["operations"])) for acl in spec["authorization"]["acls"]]
    assert grants == [(("topic", "public.", "prefix"), READ_ONLY), (("group", f"{name}-", "prefix"), READ_ONLY)]
    assert spec["quotas"]["consumerByteRate"] > 0
