"""MongoVolunteers (the matching read model) purges a withdrawn volunteer's personal data: the
organisation's name and contact e-mail go, its id, status, version and the rest stay. Run against a
small stand-in for a pymongo collection (the update operators the adapter uses), no server."""
from __future__ import annotations

import copy

from vitawin_common.territory import Location

from vitawin_matching.adapters import MongoVolunteers
from vitawin_matching.domain import Volunteer


class FakeCollection:
    """update_one by _id with $set, $setOnInsert, $max, $unset (and upsert); find_one by _id."""

    def __init__(self):
        self.docs: dict[str, dict] = {}

    def update_one(self, query: dict, update: dict, upsert: bool = False) -> None:
        assert set(query) == {"_id"}, "this stand-in only matches on _id"
        doc = self.docs.get(query["_id"])
        if doc is None:
            if not upsert:
                return
            doc = self.docs[query["_id"]] = {"_id": query["_id"]}
            doc.update(update.get("$setOnInsert", {}))
        doc.update(update.get("$set", {}))
        for name, value in update.get("$max", {}).items():
            doc[name] = max(doc.get(name, value), value)
        for name in update.get("$unset", {}):
            doc.pop(name, None)

    def find_one(self, query: dict, projection=None) -> dict | None:
        doc = self.docs.get(query["_id"])
        return copy.deepcopy(doc) if doc is not None else None


def volunteers() -> MongoVolunteers:
    return MongoVolunteers({"volunteers": FakeCollection()})


VOLUNTEER = Volunteer(volunteer_id="vol-a", organisation_name="Boulangerie des Vignerons",
                      contact_email="contact@vignerons.example.fr", town="94080",
                      location=Location(48.8478, 2.4385), action_types=("testimony",), max_distance_km=10.0)


def test_a_withdrawn_volunteer_loses_its_name_and_contact_email_and_keeps_its_ids_and_status():
    repository = volunteers()
    assert repository.add(VOLUNTEER)
    repository.withdraw("vol-a", 2)
    stored = repository.collection.docs["vol-a"]
    assert "organisation_name" not in stored and "contact_email" not in stored
    assert (stored["_id"], stored["status"], stored["version"]) == ("vol-a", "withdrawn", 2)
    assert (stored["town"], stored["action_types"]) == ("94080", ["testimony"])  # not personal: kept
    assert "Vignerons" not in repr(stored) and "@" not in repr(stored)


def test_a_withdrawal_that_comes_first_stores_no_personal_data_and_a_late_registration_adds_none():
    repository = volunteers()
    repository.withdraw("vol-a", 2)
    assert not repository.add(VOLUNTEER)  # withdrawn first: the registered event is not held
    stored = repository.collection.docs["vol-a"]
    assert set(stored) == {"_id", "status", "version", "stored_at"}
    assert (stored["status"], stored["version"]) == ("withdrawn", 2)
