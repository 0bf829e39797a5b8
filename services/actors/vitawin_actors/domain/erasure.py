"""Erasure (GDPR, right to erasure). An erased actor leaves a tombstone: its id, its kind, when and
that it was erased; nothing else. A pledge linked to it loses its professional's personal data."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from vitawin_actors.domain.places import _iso, _ms, _now

ERASED = "erased"
TOMBSTONE_FIELDS = ("actor_id", "kind", "erased_at", "status")
PLEDGE_PERSONAL_FIELDS = ("organisation_name", "contact_email")  # what an erased pledge loses


def is_erased(doc: Mapping[str, Any]) -> bool:
    return doc.get("status") == ERASED


def tombstone(doc: Mapping[str, Any], now: datetime | None = None) -> dict:
    """What is kept of an erased actor: every personal datum is gone."""
    return {"actor_id": doc["actor_id"], "kind": doc["kind"],
            "erased_at": _ms(now or _now()), "status": ERASED}


def erased_event_data(tomb: Mapping[str, Any]) -> dict:
    """The data of fr.vitawin.actor.erased.v1: ids only."""
    return {"actor_id": tomb["actor_id"], "kind": tomb["kind"], "erased_at": _iso(tomb["erased_at"])}


def purge_pledge_document(doc: Mapping[str, Any]) -> dict:
    """A stored pledge without the personal data of its professional (kept for history: ids,
    status, version, place and actions)."""
    return {name: value for name, value in doc.items() if name not in PLEDGE_PERSONAL_FIELDS}
