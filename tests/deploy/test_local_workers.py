"""`make run WORKERS="matching=2 notify=2"`: deploy/local/stack.py runs that many worker processes of
a service, each with its own metrics port (tests/e2e/test_workers_scale.py runs them for real)."""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy" / "local"))
from stack import Stack, parse_workers  # noqa: E402


def test_the_workers_option_reads_service_counts():
    assert parse_workers("matching=2 notify=3") == {"matching": 2, "notify": 3}
    assert parse_workers("matching=2,notify=2") == {"matching": 2, "notify": 2}
    assert parse_workers("") == {}
    for wrong in ("matching", "nobody=2", "matching=two"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_workers(wrong)


def test_each_extra_worker_runs_the_services_worker_on_its_own_metrics_port(tmp_path):
    stack = Stack(tmp_path, base_port=40080, workers={"matching": 2, "notify": 3})
    assert stack.worker_names("matching") == ["matching-worker", "matching-worker-2"]
    assert stack.worker_names("notify") == ["notify-worker", "notify-worker-2", "notify-worker-3"]
    assert stack.worker_names("actors") == ["actors-worker"]
    ports = {name: re.search(r"METRICS_PORT=(\S+)", stack.commands[name]).group(1)
             for service in ("matching", "notify") for name in stack.worker_names(service)}
    assert ports == {"matching-worker": "$MATCHING_WORKER_PORT", "matching-worker-2": "40283",
                     "notify-worker": "$NOTIFY_WORKER_PORT", "notify-worker-2": "40284", "notify-worker-3": "40384"}
    assert stack.worker_port("notify", 1) == int(stack.env["NOTIFY_WORKER_PORT"]) == 40184
    for name in ("matching-worker-2", "notify-worker-3"):
        assert stack.commands[name].endswith(stack.commands[name.rsplit("-", 1)[0]].split(" ", 1)[1])
    all_ports = [stack.worker_port(s, i) for s in ("matching", "notify") for i in (1, 2, 3)]
    assert len(set(all_ports)) == len(all_ports)


def test_scaling_back_removes_the_extra_workers(tmp_path):
    stack = Stack(tmp_path, base_port=40080, workers={"notify": 3})
    assert stack.scale_workers("notify", 1) == ["notify-worker"]
    assert not [name for name in stack.commands if name.startswith("notify-worker-")]
    with pytest.raises(ValueError):
        stack.scale_workers("gateway", 2)  # no worker
    with pytest.raises(ValueError):
        stack.scale_workers("notify", 0)
