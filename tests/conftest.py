"""Starts the real local stack (Tansu, SecantusDB, the SMTP sink, every service and the gateway)
once per test session, on ports apart from `make run`'s, only when a test asks for it, and stops
every process by PID at the end."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

BASE = int(os.environ.get("VITAWIN_TEST_PORT_BASE", "18080"))


@pytest.fixture(scope="session")
def infrastructure(tmp_path_factory):
    """Kafka, MongoDB and the SMTP sink only."""
    from stack import Stack

    var = tmp_path_factory.mktemp("stack")
    clock_file = var / "notify-clock"  # empty: the real time; tests write a moment to move notify's clock
    clock_file.write_text("")
    stack = Stack(var, base_port=BASE, kafka_port=BASE + 1012, mongodb_port=BASE + 1017, smtp_port=BASE + 1025,
                  extra_env={"NOTIFY_RETRY_INITIAL_S": "1", "NOTIFY_RETRY_MAX_S": "3", "NOTIFY_RETRY_JITTER_S": "0.5",
                             "NOTIFY_MAX_ATTEMPTS": "30", "NOTIFY_TICK_S": "1", "NOTIFY_CLOCK_FILE": str(clock_file),
                             # every test client is 127.0.0.1: the gateway's per-client limits would
                             # count the whole suite as one client (test_sign_in.py checks them on a
                             # gateway of its own)
                             "GATEWAY_RATE_LIMIT": "100000 per minute", "GATEWAY_AUTH_RATE_LIMIT": "10000 per minute"})
    try:
        stack.up_infrastructure()
    except BaseException:
        stack.down()
        raise
    yield stack
    stack.down()


@pytest.fixture(scope="session")
def stack(infrastructure):
    """The whole stack: infrastructure, every service API and worker, the gateway."""
    infrastructure.up_services()
    return infrastructure
