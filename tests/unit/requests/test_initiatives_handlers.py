"""Initiative use cases over the in-memory unit of work: each change stores the document and its
event together, events come in order with growing versions and validate against their contracts
without any e-mail or message text; calls for projects close at their deadline with a fixed now;
a refused or concurrent change writes and publishes nothing. And the MongoDB repository's queries."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from vitawin_common.territory import Location

from vitawin_requests.initiatives import handlers
from vitawin_requests.initiatives.adapters import InitiativeRepository
from vitawin_requests.initiatives.domain import Party, PublishInitiative
from vitawin_requests.initiatives.filters import BoundingBox, InitiativeFilter
from vitawin_requests.initiatives.rules import ConcurrentChange, InitiativeConflict, InvalidInitiative, NotAllowed

from tests.unit.requests.initiatives_fakes import (MANAGER, NOW, ORG, PARTNER, SCHOOL, TODAY,
                                                   load_territory, make_uow, validate_event)

PUBLISHER = Party("professional", ORG)
REFERENT = Party("school_referent", SCHOOL)
PARTNER_PARTY = Party("partner", PARTNER)
CONTACT = "projets@numerique-est.example.fr"
SECRET_MESSAGE = "Notre projet : contactez-nous à prof@lycee.example.fr"


@pytest.fixture(scope="module")
def places():
    return load_territory()


@pytest.fixture
def store():
    return make_uow()


def command(**changes) -> PublishInitiative:
    fields = {"kind": "call_for_projects", "title": "Appel à projets : découverte des métiers du numérique",
              "description": "Projets d'établissements.", "partner_kinds_sought": ["school", "company"],
              "town": "94080", "contact_email": CONTACT, "deadline": date(2026, 12, 15),
              "location": Location(48.8478, 2.4385)}
    fields.update(changes)
    return PublishInitiative(**fields)


def publish(store, places, now=NOW, **changes):
    return handlers.publish_initiative(command(**changes), PUBLISHER, store, places, TODAY, now=now)


def test_a_lifecycle_publishes_its_events_in_order_with_growing_versions(store, places):
    initiative = publish(store, places)
    iid = initiative.initiative_id
    handlers.join_initiative(iid, REFERENT, SECRET_MESSAGE, store, TODAY, now=NOW + timedelta(hours=1))
    handlers.join_initiative(iid, PARTNER_PARTY, None, store, TODAY, now=NOW + timedelta(hours=2))
    handlers.leave_initiative(iid, PARTNER, PARTNER_PARTY, store, TODAY, now=NOW + timedelta(hours=3))
    handlers.update_initiative(iid, {"title": "Métiers du numérique", "contact_email": "autre@example.fr"}, PUBLISHER,
                               store, places, TODAY, now=NOW + timedelta(hours=4))
    handlers.close_initiative(iid, PUBLISHER, store, now=NOW + timedelta(hours=5))

    assert [(event.type, event.data["version"]) for event, _ in store.published] == [
        ("fr.vitawin.initiative.published.v1", 1), ("fr.vitawin.initiative.joined.v1", 2),
        ("fr.vitawin.initiative.joined.v1", 3), ("fr.vitawin.initiative.left.v1", 4),
        ("fr.vitawin.initiative.updated.v1", 5), ("fr.vitawin.initiative.closed.v1", 6)]
    for event, channel in store.published:
        validate_event(event)
        assert (channel, event.subject, event.source) == ("initiatives", iid, "/vitawin/requests")
        serialised = json.dumps(event.data, ensure_ascii=False)
        assert "@" not in serialised and "Notre projet" not in serialised and "contact_email" not in event.data
    updated = store.published[4][0].data
    assert updated["changed_fields"] == ["title", "contact_email"] and updated["title"] == "Métiers du numérique"
    closed = store.published[5][0].data
    assert (closed["reason"], closed["participant_count"], closed["closed_at"]) == (
        "closed_by_publisher", 1, "2026-11-27T14:30:00.000Z")
    doc = store.initiatives.docs[iid]
    assert (doc["version"], doc["status"], doc["contact_email"]) == (6, "closed", "autre@example.fr")
    assert doc["participants"] == [{"actor_id": SCHOOL, "role": "school_referent",
                                    "joined_at": NOW + timedelta(hours=1), "message": SECRET_MESSAGE}]


def test_a_refused_publication_stores_and_publishes_nothing(store, places):
    with pytest.raises(InvalidInitiative) as caught:
        publish(store, places, deadline=TODAY)
    assert "deadline" in caught.value.errors
    with pytest.raises(NotAllowed):
        handlers.publish_initiative(command(), Party("pupil", "act-9"), store, places, TODAY)
    assert store.initiatives.docs == {} and store.published == []


def test_a_refused_join_leaves_the_initiative_as_it_was(store, places):
    iid = publish(store, places).initiative_id
    before = store.initiatives.get(iid)
    with pytest.raises(InitiativeConflict):
        handlers.join_initiative(iid, Party("territory_manager", ORG), None, store, TODAY)  # its own
    assert store.initiatives.get(iid) == before and len(store.published) == 1


def test_a_concurrent_change_is_refused_and_rolled_back(store, places, monkeypatch):
    iid = publish(store, places).initiative_id
    stale = store.initiatives.get(iid)
    store.initiatives.docs[iid] = {**stale, "version": 2}
    monkeypatch.setattr(store.initiatives, "get", lambda _id: dict(stale))
    with pytest.raises(ConcurrentChange):
        handlers.close_initiative(iid, PUBLISHER, store)
    assert store.initiatives.docs[iid]["status"] == "open" and len(store.published) == 1


def test_an_unknown_initiative_is_not_found(store):
    with pytest.raises(handlers.InitiativeNotFound):
        handlers.join_initiative("ini-" + "0" * 32, REFERENT, None, store, TODAY)


# --- closing at the deadline ------------------------------------------------------------------

def test_close_due_closes_calls_for_projects_once_their_deadline_day_is_over_in_paris(store, places):
    due = publish(store, places, deadline=date(2026, 12, 15)).initiative_id
    later = publish(store, places, deadline=date(2026, 12, 20)).initiative_id
    initiative = publish(store, places, kind="initiative", deadline=None).initiative_id
    handlers.join_initiative(due, REFERENT, "Bonjour", store, TODAY)

    late_evening = datetime(2026, 12, 15, 22, 30, tzinfo=timezone.utc)  # 23:30 in Paris, still the 15th
    assert handlers.close_due(store, late_evening) == []
    after_midnight = datetime(2026, 12, 15, 23, 30, tzinfo=timezone.utc)  # 00:30 on the 16th in Paris
    assert handlers.close_due(store, after_midnight) == [due]

    event, channel = store.published[-1]
    assert (event.type, channel, event.subject) == ("fr.vitawin.initiative.closed.v1", "initiatives", due)
    assert event.data == {"initiative_id": due, "kind": "call_for_projects", "reason": "deadline_passed",
                          "closed_at": "2026-12-15T23:30:00.000Z", "participant_count": 1, "version": 3}
    validate_event(event)
    assert store.initiatives.docs[due]["status"] == "closed"
    assert store.initiatives.docs[later]["status"] == "open" and store.initiatives.docs[initiative]["status"] == "open"
    count = len(store.published)
    assert handlers.close_due(store, after_midnight) == []  # nothing left to close
    assert len(store.published) == count


def test_close_due_skips_a_call_changed_meanwhile(store, places, monkeypatch):
    iid = publish(store, places, deadline=date(2026, 12, 15)).initiative_id
    due_docs = store.initiatives.due_for_closing(datetime(2026, 12, 20, tzinfo=timezone.utc))
    handlers.close_initiative(iid, Party("territory_manager", MANAGER), store)  # closed meanwhile
    monkeypatch.setattr(store.initiatives, "due_for_closing", lambda now: due_docs)
    assert handlers.close_due(store, datetime(2026, 12, 20, tzinfo=timezone.utc)) == []
    assert [event.data.get("reason") for event, _ in store.published][1:] == ["closed_by_territory_manager"]


# --- the MongoDB repository -------------------------------------------------------------------

class Result:
    def __init__(self, matched: int):
        self.matched_count = matched


class Cursor(list):
    def sort(self, keys):
        self.sorted_by = keys
        return self

    def skip(self, n):
        self.skipped = n
        return self

    def limit(self, n):
        self.limited = n
        return self


class Collection:
    """Records the calls a repository makes (no database)."""

    def __init__(self, matched: int = 1):
        self.matched, self.calls = matched, []

    def replace_one(self, query, doc, session=None):
        self.calls.append(("replace_one", query, doc))
        return Result(self.matched)

    def count_documents(self, query, session=None):
        self.calls.append(("count_documents", query))
        return 7

    def find(self, query, projection=None, session=None):
        self.calls.append(("find", query, projection))
        self.cursor = Cursor()
        return self.cursor


def test_the_repository_replaces_only_over_the_version_and_the_reports_read():
    collection = Collection(matched=1)
    InitiativeRepository(collection).replace({"initiative_id": "ini-1", "version": 3}, expected_version=2)
    assert collection.calls == [("replace_one", {"_id": "ini-1", "version": 2, "report_count": {"$in": [0, None]}},
                                 {"_id": "ini-1", "initiative_id": "ini-1", "version": 3})]
    collection = Collection(matched=1)
    InitiativeRepository(collection).replace({"initiative_id": "ini-1", "version": 3, "report_count": 4}, 2)
    assert collection.calls[0][1] == {"_id": "ini-1", "version": 2, "report_count": 4}
    with pytest.raises(ConcurrentChange):
        InitiativeRepository(Collection(matched=0)).replace({"initiative_id": "ini-1", "version": 3}, 2)


def test_the_repository_pages_with_the_filter_query_newest_first():
    collection = Collection()
    flt = InitiativeFilter(kind="initiative", partner_kind="school", bbox=BoundingBox(2.4, 48.8, 2.5, 48.9))
    items, total = InitiativeRepository(collection).page(flt, page=3, page_size=10)
    assert (items, total) == ([], 7)
    assert collection.calls[0] == ("count_documents", flt.to_query())
    assert collection.calls[1] == ("find", flt.to_query(), {"_id": False})
    assert (collection.cursor.sorted_by, collection.cursor.skipped, collection.cursor.limited) == (
        [("created_at", -1), ("_id", -1)], 20, 10)


def test_the_repository_finds_the_calls_due_for_closing():
    collection = Collection()
    InitiativeRepository(collection).due_for_closing(datetime(2026, 12, 15, 23, 30, tzinfo=timezone.utc))
    assert collection.calls == [("find", {"kind": "call_for_projects", "status": "open",
                                          "deadline": {"$lt": "2026-12-16"}}, {"_id": False})]


def test_the_repository_declares_its_indexes():
    assert [("created_at", -1)] in InitiativeRepository.indexes
    assert InitiativeRepository.id_field == "initiative_id"

