"""The matching read models on a small stand-in for a pymongo collection (the queries and update
operators the adapters use, and MongoDB's upsert rule), no server. MongoVolunteers purges a
withdrawn volunteer's personal data: the organisation's name and contact e-mail go, its id, status,
version and the rest stay. MongoRequests keeps the newest state of a request: first write wins,
a newer version replaces (slots kept), a closing event applies unless a newer state is stored,
holds before the request, and leaves no contact e-mail; a hidden request (moderation) is no
candidate and gives no slot, whatever newer state comes, until it is shown again."""
from __future__ import annotations

import copy
from types import SimpleNamespace
from dataclasses import replace

from vitawin_common.territory import Location

from pymongo.errors import DuplicateKeyError

from vitawin_matching.adapters import MongoRequests, MongoVolunteers
from vitawin_matching.domain import Request, Volunteer, bounding_box


def _value(doc: dict, path: str):
    for part in path.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return _MISSING
        doc = doc[part]
    return doc


_MISSING = object()
_OPERATORS = {"$lt": lambda v, x: v is not _MISSING and v < x, "$lte": lambda v, x: v is not _MISSING and v <= x,
              "$gte": lambda v, x: v is not _MISSING and v >= x, "$ne": lambda v, x: v != x,
              "$gt": lambda v, x: v is not _MISSING and v > x,
              "$exists": lambda v, x: (v is not _MISSING) is bool(x),
              "$not": lambda v, x: not all(_OPERATORS[op](v, y) for op, y in x.items())}


def _matches(doc: dict, query: dict) -> bool:
    for key, condition in query.items():
        if key == "$or":
            if not any(_matches(doc, clause) for clause in condition):
                return False
        elif isinstance(condition, dict):
            if not all(_OPERATORS[op](_value(doc, key), x) for op, x in condition.items()):
                return False
        elif _value(doc, key) != condition:
            return False
    return True


class FakeCollection:
    """The part of a pymongo collection the read models use, with MongoDB's upsert rule: a query
    that names an _id present but does not match inserts, and the insert collides (DuplicateKeyError).
    update_one with $set, $setOnInsert, $max, $unset; find_one and find with equalities, $or, $lt,
    $lte, $gt, $gte, $ne, $exists, $not (projections ignored)."""

    def __init__(self):
        self.docs: dict[str, dict] = {}

    def update_one(self, query: dict, update: dict, upsert: bool = False, session=None):
        """$set, $setOnInsert, $max, $unset, $inc; returns what pymongo's UpdateResult says of it."""
        doc = self.docs.get(query["_id"])
        if doc is None or not _matches(doc, query):
            if not upsert:
                return SimpleNamespace(modified_count=0)
            if doc is not None:
                raise DuplicateKeyError("E11000 duplicate key error")
            doc = self.docs[query["_id"]] = {"_id": query["_id"]}
            doc.update(copy.deepcopy(update.get("$setOnInsert", {})))
        doc.update(copy.deepcopy(update.get("$set", {})))
        for name, value in update.get("$max", {}).items():
            doc[name] = max(doc.get(name, value), value)
        for name in update.get("$unset", {}):
            doc.pop(name, None)
        for name, step in update.get("$inc", {}).items():
            doc[name] = doc.get(name, 0) + step
        return SimpleNamespace(modified_count=1)

    def find_one(self, query: dict, projection=None, session=None) -> dict | None:
        doc = self.docs.get(query["_id"])
        return copy.deepcopy(doc) if doc is not None and _matches(doc, query) else None

    def find(self, query: dict) -> list[dict]:
        return [copy.deepcopy(d) for d in self.docs.values() if _matches(d, query)]


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
    assert set(stored) == {"_id", "status", "version", "stored_at", "changed_at"}
    assert (stored["status"], stored["version"]) == ("withdrawn", 2)


# --- MongoRequests -----------------------------------------------------------------------------
def requests() -> MongoRequests:
    return MongoRequests({"requests": FakeCollection()})


SCHOOL_REQUEST = Request(request_id="req-1", requester_kind="school", contact_email="referent@college.example.fr",
                         action_type="testimony", town="94033", location=Location(48.8475, 2.4392),
                         max_distance_km=15.0, kind="class_testimony", school_uai="0940001A", level="3e",
                         levels=("3e",), audience="college", professionals_wanted=2, rome_codes=("D1102",))


def state(request: Request, **changes) -> Request:
    return replace(request, **changes)


def test_a_request_is_stored_open_once_with_every_field_and_no_slot_taken():
    repository = requests()
    assert repository.add(SCHOOL_REQUEST)
    assert repository.add(state(SCHOOL_REQUEST, town="94080"))  # a replay: the first write stays
    stored = repository.collection.docs["req-1"]
    assert {key: value for key, value in stored.items() if key != "stored_at"} == {
        "_id": "req-1", "requester_kind": "school", "contact_email": "referent@college.example.fr",
        "action_type": "testimony", "town": "94033", "location": {"lat": 48.8475, "lon": 2.4392},
        "max_distance_km": 15.0, "kind": "class_testimony", "school_uai": "0940001A", "level": "3e",
        "levels": ["3e"], "audience": "college", "professionals_wanted": 2, "rome_codes": ["D1102"],
        "status": "open", "request_status": "open", "version": 1, "proposal_count": 0}


def test_an_open_candidate_reads_back_the_stored_request():
    repository = requests()
    pupil = state(SCHOOL_REQUEST, request_id="req-2", requester_kind="pupil", contact_email=None)
    repository.add(SCHOOL_REQUEST)
    repository.add(pupil)
    found = repository.open_candidates(["testimony"], bounding_box(SCHOOL_REQUEST.location, 5), k=3)
    assert sorted(found, key=lambda r: r.request_id) == [SCHOOL_REQUEST, pupil]


def test_a_request_stored_before_versions_existed_reads_as_version_1_and_open():
    repository = requests()
    repository.collection.docs["req-old"] = {
        "_id": "req-old", "requester_kind": "school", "contact_email": "referent@college.example.fr",
        "action_type": "testimony", "town": "94033", "location": {"lat": 48.8475, "lon": 2.4392},
        "max_distance_km": 15.0, "status": "open", "proposal_count": 1}
    [found] = repository.open_candidates(["testimony"], bounding_box(SCHOOL_REQUEST.location, 5), k=3)
    assert (found.version, found.status, found.kind, found.rome_codes) == (1, "open", None, ())
    assert repository.replace(state(SCHOOL_REQUEST, request_id="req-old", version=2, town="94080"))
    assert repository.collection.docs["req-old"]["town"] == "94080"
    assert repository.collection.docs["req-old"]["proposal_count"] == 1


def test_only_a_newer_version_replaces_and_the_slots_taken_stay():
    repository = requests()
    repository.add(SCHOOL_REQUEST)
    repository.collection.docs["req-1"]["proposal_count"] = 2
    assert repository.replace(state(SCHOOL_REQUEST, version=3, status="partly_matched", town="94080"))
    assert not repository.replace(state(SCHOOL_REQUEST, version=2, town="94017"))  # older
    assert repository.replace(state(SCHOOL_REQUEST, version=3, town="94017"))  # same version: held, unchanged
    stored = repository.collection.docs["req-1"]
    assert (stored["town"], stored["version"], stored["status"], stored["request_status"],
            stored["proposal_count"]) == ("94080", 3, "open", "partly_matched", 2)


def test_a_replace_to_a_closing_status_closes_without_the_contact_email():
    repository = requests()
    repository.add(SCHOOL_REQUEST)
    assert not repository.replace(state(SCHOOL_REQUEST, version=2, status="fulfilled"))
    stored = repository.collection.docs["req-1"]
    assert (stored["status"], stored["request_status"], stored["contact_email"]) == ("closed", "fulfilled", None)


def test_a_close_keeps_the_slots_and_drops_the_contact_email():
    repository = requests()
    repository.add(SCHOOL_REQUEST)
    repository.collection.docs["req-1"]["proposal_count"] = 1
    repository.close("req-1", "cancelled", 2)
    repository.close("req-1", "cancelled", 2)  # a replay
    stored = repository.collection.docs["req-1"]
    assert (stored["status"], stored["request_status"], stored["version"], stored["proposal_count"]) == \
        ("closed", "cancelled", 2, 1)
    assert "contact_email" not in stored and "@" not in repr(stored)
    assert repository.open_candidates(["testimony"], bounding_box(SCHOOL_REQUEST.location, 5), k=3) == []


def test_a_close_that_comes_first_leaves_a_closed_placeholder_the_created_event_does_not_reopen():
    repository = requests()
    repository.close("req-1", "expired", 4)
    assert not repository.add(SCHOOL_REQUEST)
    assert not repository.replace(state(SCHOOL_REQUEST, version=3))  # older than the close
    stored = repository.collection.docs["req-1"]
    assert set(stored) == {"_id", "status", "request_status", "version", "proposal_count", "stored_at", "updated_at"}
    assert (stored["status"], stored["request_status"], stored["version"], stored["proposal_count"]) == \
        ("closed", "expired", 4, 0)
    assert repository.replace(state(SCHOOL_REQUEST, version=5, status="open"))  # a newer state reopens it
    assert repository.collection.docs["req-1"]["status"] == "open"
    assert repository.collection.docs["req-1"]["proposal_count"] == 0


def test_a_close_older_than_the_stored_state_changes_nothing():
    repository = requests()
    repository.add(SCHOOL_REQUEST)
    repository.replace(state(SCHOOL_REQUEST, version=3, status="partly_matched"))
    before = copy.deepcopy(repository.collection.docs)
    repository.close("req-1", "fulfilled", 2)
    assert repository.collection.docs == before


# --- moderation ------------------------------------------------------------------------------------
def test_a_hidden_request_is_no_candidate_gives_no_slot_and_keeps_its_contact_email():
    repository = requests()
    repository.add(SCHOOL_REQUEST)
    assert repository.take_slot("req-1", 3) == 1
    repository.hide("req-1", 2)
    repository.hide("req-1", 2)  # a replay
    stored = repository.collection.docs["req-1"]
    assert (stored["status"], stored["hidden"], stored["version"], stored["proposal_count"]) == ("open", True, 2, 1)
    assert stored["contact_email"] == "referent@college.example.fr"
    assert repository.open_candidates(["testimony"], bounding_box(SCHOOL_REQUEST.location, 5), k=3) == []
    assert repository.take_slot("req-1", 3) is None


def test_a_newer_state_of_a_hidden_request_is_stored_but_not_held():
    repository = requests()
    repository.add(SCHOOL_REQUEST)
    repository.hide("req-1", 2)
    assert not repository.replace(state(SCHOOL_REQUEST, version=3, status="partly_matched", town="94080"))
    stored = repository.collection.docs["req-1"]
    assert (stored["town"], stored["request_status"], stored["hidden"], stored["version"]) == \
        ("94080", "partly_matched", True, 3)


def test_shown_again_it_is_returned_for_a_search_when_open_at_this_version():
    repository = requests()
    repository.add(SCHOOL_REQUEST)
    repository.hide("req-1", 2)
    found = repository.unhide("req-1", 3)
    assert found == state(SCHOOL_REQUEST, version=3)
    assert repository.collection.docs["req-1"]["hidden"] is False
    assert repository.take_slot("req-1", 3) == 1
    assert repository.unhide("req-1", 2) is None  # older: changes nothing, searches nothing
    assert repository.collection.docs["req-1"]["version"] == 3


def test_shown_again_a_closed_request_is_not_returned():
    repository = requests()
    repository.add(SCHOOL_REQUEST)
    repository.hide("req-1", 2)
    repository.close("req-1", "cancelled", 3)
    assert repository.unhide("req-1", 4) is None
    stored = repository.collection.docs["req-1"]
    assert (stored["status"], stored["hidden"], stored["version"]) == ("closed", False, 4)


def test_a_moderation_event_older_than_the_stored_state_changes_nothing():
    repository = requests()
    repository.add(SCHOOL_REQUEST)
    repository.replace(state(SCHOOL_REQUEST, version=3))
    before = copy.deepcopy(repository.collection.docs)
    repository.hide("req-1", 2)
    assert repository.collection.docs == before


def test_a_moderation_event_that_comes_first_leaves_a_closed_placeholder():
    repository = requests()
    repository.hide("req-1", 2)
    assert not repository.add(SCHOOL_REQUEST)
    stored = repository.collection.docs["req-1"]
    assert set(stored) == {"_id", "status", "hidden", "version", "proposal_count", "stored_at", "updated_at"}
    assert (stored["status"], stored["hidden"], stored["version"]) == ("closed", True, 2)
    assert repository.unhide("req-1", 3) is None  # no state to search with: a newer update brings it
