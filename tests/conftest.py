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

    stack = Stack(tmp_path_factory.mktemp("stack"), base_port=BASE, kafka_port=BASE + 1012,
                  mongodb_port=BASE + 1017, smtp_port=BASE + 1025)
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
