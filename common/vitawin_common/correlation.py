"""The correlation id that follows one client request through every event it causes."""
from __future__ import annotations

import contextvars
import re
import uuid

HEADER = "X-Correlation-ID"
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def new_id() -> str:
    return uuid.uuid4().hex


def accept(value: str | None) -> str:
    """Keep a caller's id when it is sane, otherwise make a fresh one (never log raw input)."""
    return value if value and _VALID.match(value) else new_id()


def get() -> str | None:
    return _current.get()


def set(value: str | None) -> contextvars.Token:  # noqa: A001 - mirrors ContextVar.set
    return _current.set(value)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)
