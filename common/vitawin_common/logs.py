"""JSON logs on stderr, each line carrying the service name and the correlation id."""
from __future__ import annotations

import logging
import os
import sys

from pythonjsonlogger.json import JsonFormatter

from vitawin_common import correlation


class _ContextFilter(logging.Filter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.correlation_id = correlation.get()
        return True


def configure(service: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(
        "{asctime}{levelname}{name}{message}{service}{correlation_id}",
        style="{", rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    ))
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
    # kafka-python is chatty at INFO (every rebalance, every connection).
    logging.getLogger("kafka").setLevel(logging.WARNING)
