"""Preferences per recipient (address hash only): immediate by default, a digest mode per category,
unsubscribed categories (account emails always go); used answer links marked once, atomically;
the deliveries of one recipient. The MongoDB adapters run over a small stand-in for a pymongo
collection (the operators they use and MongoDB's upsert rule), the in-memory fakes are checked
against the same expectations."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest
from pymongo.errors import DuplicateKeyError

from vitawin_notify.domain import recipient_hash
from vitawin_notify.preferences import (InMemoryPreferences, InMemoryRecipientDeliveries, InMemoryUsedLinks,
                                        MongoPreferences, MongoRecipientDeliveries, MongoUsedLinks, Preferences)

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
ALICE = recipient_hash("alice@example.fr")
BOB = recipient_hash("bob@example.fr")


class FakeCursor:
    def __init__(self, docs):
        self.docs = docs

    def sort(self, keys):
        for field, direction in reversed(keys):  # stable sorts, last key first; missing values lowest
            self.docs.sort(key=lambda d: (field in d, d.get(field) if field in d else 0), reverse=direction < 0)
        return self

    def limit(self, n):
        self.docs = self.docs[:n]
        return self

    def __iter__(self):
        return iter(self.docs)


class FakeCollection:
    """find_one, find, count_documents, insert_one, update_one ($set, $unset with dotted paths,
    upsert), delete_one, create_index; filters by equality only. `session=` accepted and ignored."""

    def __init__(self):
        self.docs: dict = {}
        self.indexes: list = []

    @staticmethod
    def _match(doc, query):
        return all(doc.get(key) == value for key, value in query.items())

    def find_one(self, query, projection=None, session=None):
        return next((copy.deepcopy(d) for d in self.docs.values() if self._match(d, query)), None)

    def find(self, query, projection=None, session=None):
        found = [copy.deepcopy(d) for d in self.docs.values() if self._match(d, query)]
        if projection:
            kept = [k for k, v in projection.items() if v]
            found = [{k: d[k] for k in kept if k in d} for d in found]
        return FakeCursor(found)

    def count_documents(self, query, limit=0):
        return len([d for d in self.docs.values() if self._match(d, query)])

    def insert_one(self, doc):
        if doc["_id"] in self.docs:
            raise DuplicateKeyError("E11000 duplicate key")
        self.docs[doc["_id"]] = copy.deepcopy(doc)

    def update_one(self, query, update, upsert=False, session=None):
        assert set(update) <= {"$set", "$unset"}, update
        paths = [p for op in update.values() for p in op]
        assert not any(a != b and (a.startswith(b + ".") or b.startswith(a + ".")) for a in paths for b in paths), \
            "conflicting update paths"
        assert len(paths) == len(set(paths)), "a path updated twice"
        doc = next((d for d in self.docs.values() if self._match(d, query)), None)
        if doc is None:
            if not upsert:
                return
            doc = dict(query)
            self.docs[doc["_id"]] = doc
        for path, value in update.get("$set", {}).items():
            *parents, last = path.split(".")
            target = doc
            for part in parents:
                target = target.setdefault(part, {})
            target[last] = copy.deepcopy(value)
        for path in update.get("$unset", {}):
            *parents, last = path.split(".")
            target = doc
            for part in parents:
                target = target.get(part, {})
            target.pop(last, None)

    def delete_one(self, query):
        for key, doc in list(self.docs.items()):
            if self._match(doc, query):
                del self.docs[key]
                return

    def create_index(self, keys, **options):
        self.indexes.append((keys, options))


class FakeDatabase(dict):
    def __missing__(self, name):
        self[name] = FakeCollection()
        return self[name]


@pytest.fixture(params=["mongo", "memory"])
def store(request):
    return MongoPreferences(FakeDatabase()) if request.param == "mongo" else InMemoryPreferences()


@pytest.fixture(params=["mongo", "memory"])
def used(request):
    return MongoUsedLinks(FakeDatabase()) if request.param == "mongo" else InMemoryUsedLinks()


# --- preferences -----------------------------------------------------------------------------------
def test_a_recipient_never_seen_gets_everything_at_once(store):
    prefs = store.get(ALICE)
    assert prefs == Preferences(ALICE)
    assert prefs.choices() == {"proposals": "immediate", "requests": "immediate", "reminders": "on"}
    assert store.mode(ALICE, "proposals") == "immediate"
    assert prefs.sends("proposals") and prefs.sends("requests") and prefs.sends("account")


def test_unsubscribing_is_at_once_per_category_idempotent_and_per_recipient(store):
    store.unsubscribe(ALICE, "proposals", NOW)
    store.unsubscribe(ALICE, "proposals", NOW + timedelta(minutes=1))

    alice = store.get(ALICE)
    assert not alice.sends("proposals") and alice.sends("requests") and alice.sends("account")
    assert store.mode(ALICE, "proposals") == "off"
    assert store.get(BOB).sends("proposals")


def test_choices_set_a_digest_or_off_and_leave_the_other_category(store):
    assert store.choose(ALICE, {"requests": "weekly"}, NOW).choices() == {
        "proposals": "immediate", "requests": "weekly", "reminders": "on"}
    assert store.choose(ALICE, {"proposals": "off"}, NOW).choices() == {"proposals": "off", "requests": "weekly",
                                                                    "reminders": "on"}
    assert store.mode(ALICE, "requests") == "weekly"


def test_choosing_a_mode_subscribes_again(store):
    store.unsubscribe(ALICE, "requests", NOW)
    prefs = store.choose(ALICE, {"requests": "daily", "proposals": "off"}, NOW)
    assert prefs.choices() == {"proposals": "off", "requests": "daily", "reminders": "on"}
    assert prefs.sends("requests") and not prefs.sends("proposals")


def test_reminders_are_a_switch_off_then_on_again_that_leaves_the_categories_alone(store):
    store.choose(ALICE, {"proposals": "daily"}, NOW)
    off = store.choose(ALICE, {"reminders": "off"}, NOW)

    assert off.choices() == {"proposals": "daily", "requests": "immediate", "reminders": "off"}
    assert not off.wants("reminders") and off.sends("proposals")
    assert store.mode(ALICE, "reminders") == "off"  # what the deliverer reads before a reminder
    assert store.get(BOB).wants("reminders")

    on = store.choose(ALICE, {"reminders": "on"}, NOW)
    assert on.choices() == {"proposals": "daily", "requests": "immediate", "reminders": "on"}
    assert store.mode(ALICE, "reminders") == "immediate"


def test_reminders_take_on_or_off_only_and_have_no_unsubscribe_link(store):
    for bad in ("daily", "immediate"):
        with pytest.raises(ValueError):
            store.choose(ALICE, {"reminders": bad}, NOW)
    with pytest.raises(ValueError):
        store.unsubscribe(ALICE, "reminders", NOW)
    assert store.get(ALICE).wants("reminders")


def test_the_mongo_document_of_reminders_off_is_a_date_under_unsubscribed():
    db = FakeDatabase()
    MongoPreferences(db).choose(ALICE, {"reminders": "off"}, NOW)
    assert db["preferences"].docs[ALICE]["unsubscribed"] == {"reminders": NOW}
    assert "reminders" not in db["preferences"].docs[ALICE].get("modes", {})

    MongoPreferences(db).choose(ALICE, {"reminders": "on"}, NOW)
    assert db["preferences"].docs[ALICE]["unsubscribed"] == {}


def test_unknown_categories_and_modes_are_refused(store):
    with pytest.raises(ValueError):
        store.unsubscribe(ALICE, "account", NOW)
    with pytest.raises(ValueError):
        store.choose(ALICE, {"proposals": "hourly"}, NOW)


def test_the_mongo_document_holds_the_hash_and_no_address():
    db = FakeDatabase()
    MongoPreferences(db).choose(ALICE, {"proposals": "daily", "requests": "off"}, NOW)

    assert db["preferences"].docs == {ALICE: {"_id": ALICE, "modes": {"proposals": "daily"},
                                              "unsubscribed": {"requests": NOW}, "updated_at": NOW}}


def test_a_unit_of_work_can_attach_the_mongo_preferences():
    prefs = MongoPreferences(FakeDatabase())
    prefs.session = object()  # what UnitOfWork.attach does
    prefs.unsubscribe(ALICE, "proposals", NOW)
    assert prefs.mode(ALICE, "proposals") == "off"


# --- used links ------------------------------------------------------------------------------------
def test_a_link_is_marked_used_once(used):
    assert not used.is_used("jti-1")
    assert used.mark_used("jti-1", "prop-1", NOW, NOW + timedelta(days=7)) is True
    assert used.mark_used("jti-1", "prop-1", NOW) is False
    assert used.is_used("jti-1") and not used.is_used("jti-2")


def test_a_released_link_can_be_used_again(used):
    used.mark_used("jti-1", "prop-1", NOW)
    used.release("jti-1")
    assert not used.is_used("jti-1")
    assert used.mark_used("jti-1", "prop-1", NOW) is True


def test_used_links_are_forgotten_a_day_after_they_expire():
    db = FakeDatabase()
    links = MongoUsedLinks(db)
    links.ensure_indexes()
    links.mark_used("jti-1", "prop-1", NOW, NOW + timedelta(days=7))

    assert db["used_links"].indexes == [([("expires_at", 1)], {"expireAfterSeconds": 86400})]
    assert db["used_links"].docs["jti-1"] == {"_id": "jti-1", "proposal_id": "prop-1", "used_at": NOW,
                                              "expires_at": NOW + timedelta(days=7)}


# --- deliveries of one recipient --------------------------------------------------------------------
DELIVERY_DOCS = [
    {"_id": "k1", "recipient_sha256": ALICE, "template": "proposal_to_volunteer", "status": "sent",
     "sent_at": NOW, "at": NOW, "attempts": 1, "subject_id": "prop-1", "proposal_id": "prop-1", "event_id": "e1"},
    {"_id": "k2", "recipient_sha256": ALICE, "template": "reminder", "status": "retrying",
     "at": NOW + timedelta(hours=1), "attempts": 2, "subject_id": "prop-1", "job": {"to": "alice@example.fr"}},
    {"_id": "k3", "recipient_sha256": BOB, "template": "proposal_to_requester", "status": "sent", "sent_at": NOW},
    {"_id": "k4", "recipient_sha256": ALICE, "template": "proposal_to_volunteer", "status": "sent",
     "sent_at": NOW - timedelta(days=1), "proposal_id": "prop-0", "event_id": "e0"},  # written before `at`
]


@pytest.fixture(params=["mongo", "memory"])
def recipient_deliveries(request):
    if request.param == "memory":
        return InMemoryRecipientDeliveries(DELIVERY_DOCS)
    db = FakeDatabase()
    for doc in DELIVERY_DOCS:
        db["deliveries"].insert_one(doc)
    return MongoRecipientDeliveries(db)


def test_the_deliveries_of_a_recipient_newest_first_without_address(recipient_deliveries):
    assert recipient_deliveries.for_recipient(ALICE) == [
        {"template": "reminder", "status": "retrying", "sent_at": None, "attempts": 2, "subject_id": "prop-1"},
        {"template": "proposal_to_volunteer", "status": "sent", "sent_at": NOW, "attempts": 1, "subject_id": "prop-1"},
        {"template": "proposal_to_volunteer", "status": "sent", "sent_at": NOW - timedelta(days=1),
         "subject_id": "prop-0"},
    ]
    assert recipient_deliveries.for_recipient(recipient_hash("nobody@example.fr")) == []
