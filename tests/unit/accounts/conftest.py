"""Accounts without a server: the real stores (vitawin_accounts.store) over a fake of the pymongo
collection API they use, an in-memory mailer, a clock the tests move, and the app wired to them.

FakeCollection keeps MongoDB's semantics for what store.py asks: equality (None matches a missing
field; a dotted path goes through arrays; `field.N` is an array index), $ne, $gt/$gte/$lt/$lte,
$not, $exists, $in; updates $set, $unset, $setOnInsert, $push (with $each/$position/$slice), $pull;
upserts; unique indexes (DuplicateKeyError); projections; sort and limit. TTL indexes are recorded,
not applied. Each read and write copies documents, as a server would."""
from __future__ import annotations

import copy
import itertools
import re
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest
from pymongo.errors import DuplicateKeyError

from vitawin_common import identity
from vitawin_common.contracts import Contracts
from vitawin_common.events import Event

from vitawin_accounts.api import create_app
from vitawin_accounts.domain import Policy
from vitawin_accounts.handlers import ACTOR_ERASED, CONTACT_REGISTERED, Memberships
from vitawin_accounts.service import AccountsService
from vitawin_accounts.store import Stores

ROOT = Path(__file__).resolve().parents[3]
APP_URL = "https://vitawin.example.fr"
SENDER = "Vitawin <no-reply@vitawin.fr>"
_MISSING = object()
_ids = itertools.count(1)


# --- A fake of the pymongo collection API ----------------------------------------------------------
def _values(doc, path: str) -> list:
    """The values at `path` (dotted), through arrays; _MISSING where a step is absent."""
    parts = path.split(".")

    def walk(value, i):
        if i == len(parts):
            return [value]
        part = parts[i]
        if isinstance(value, dict):
            return walk(value[part], i + 1) if part in value else [_MISSING]
        if isinstance(value, list):
            if part.isdigit():
                return walk(value[int(part)], i + 1) if int(part) < len(value) else [_MISSING]
            return [found for item in value if isinstance(item, dict) for found in walk(item, i)]
        return [_MISSING]
    return walk(doc, 0)


def _equal(values: list, expected) -> bool:
    for value in values:
        if expected is None and value in (None, _MISSING):
            return True
        if value is not _MISSING and (value == expected or (isinstance(value, list) and expected in value)):
            return True
    return False


def _scalars(values: list) -> list:
    out = []
    for value in values:
        if isinstance(value, list):
            out.extend(value)
        elif value is not _MISSING and value is not None:
            out.append(value)
    return out


_COMPARE = {"$gt": lambda a, b: a > b, "$gte": lambda a, b: a >= b, "$lt": lambda a, b: a < b,
            "$lte": lambda a, b: a <= b}


def _condition(values: list, condition) -> bool:
    if not (isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition)):
        return _equal(values, condition)
    for op, operand in condition.items():
        if op in _COMPARE:
            ok = any(type(v) is type(operand) and _COMPARE[op](v, operand) for v in _scalars(values))
        elif op == "$ne":
            ok = not _equal(values, operand)
        elif op == "$not":
            ok = not _condition(values, operand)
        elif op == "$exists":
            ok = any(v is not _MISSING for v in values) == bool(operand)
        elif op == "$in":
            ok = any(_equal(values, item) for item in operand)
        else:
            raise NotImplementedError(op)
        if not ok:
            return False
    return True


def matches(doc: dict, query: dict) -> bool:
    for key, condition in query.items():
        if key.startswith("$"):
            raise NotImplementedError(f"{key}: store.py never needs it (SecantusDB scans for $or)")
        if not _condition(_values(doc, key), condition):
            return False
    return True


def _set(doc: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[last] = value


def _apply(doc: dict, update: dict, inserting: bool) -> None:
    for op, fields in update.items():
        for path, value in fields.items():
            if op == "$set" or (op == "$setOnInsert" and inserting):
                _set(doc, path, copy.deepcopy(value))
            elif op == "$unset":
                doc.pop(path, None)
            elif op == "$push":
                items = doc.setdefault(path, [])
                each = value["$each"] if isinstance(value, dict) and "$each" in value else [value]
                position = value.get("$position", len(items)) if isinstance(value, dict) else len(items)
                items[position:position] = copy.deepcopy(each)
                if isinstance(value, dict) and "$slice" in value:
                    n = value["$slice"]
                    doc[path] = items[:n] if n >= 0 else items[n:]
            elif op == "$pull":
                doc[path] = [item for item in doc.get(path, []) if not (
                    matches(item, value) if isinstance(value, dict) else item == value)]
            elif op != "$setOnInsert":
                raise NotImplementedError(op)


def _project(doc: dict, projection: dict | None) -> dict:
    doc = copy.deepcopy(doc)
    if projection and any(projection.values()):  # inclusion, with _id unless excluded
        kept = {k for k, v in projection.items() if v} | ({"_id"} if projection.get("_id", True) else set())
        return {k: v for k, v in doc.items() if k in kept}
    return {k: v for k, v in doc.items() if (projection or {}).get(k, True)}


class FakeCursor:
    def __init__(self, docs: list[dict]):
        self.docs = docs

    def sort(self, keys):
        for field, direction in reversed(keys):
            self.docs.sort(key=lambda d: (d.get(field) is not None, d.get(field)), reverse=direction < 0)
        return self

    def limit(self, n: int):
        self.docs = self.docs[:n] if n else self.docs
        return self

    def __iter__(self):
        return iter(self.docs)


class FakeCollection:
    def __init__(self, name: str):
        self.name = name
        self.docs: dict = {}
        self.indexes: list[tuple] = []

    def create_index(self, keys, **options):
        self.indexes.append((list(keys), options))

    def _unique_clash(self, doc: dict) -> bool:
        for keys, options in self.indexes:
            if options.get("unique"):
                fields = [k for k, _ in keys]
                value = [doc.get(f) for f in fields]
                if any(other is not doc and other["_id"] != doc["_id"] and [other.get(f) for f in fields] == value
                       for other in self.docs.values()):
                    return True
        return False

    def insert_one(self, doc: dict):
        doc = copy.deepcopy(doc)
        doc.setdefault("_id", f"oid-{next(_ids)}")
        if doc["_id"] in self.docs or self._unique_clash(doc):
            raise DuplicateKeyError("E11000 duplicate key")
        self.docs[doc["_id"]] = doc
        return SimpleNamespace(inserted_id=doc["_id"])

    def find(self, query=None, projection=None):
        return FakeCursor([_project(d, projection) for d in self.docs.values() if matches(d, query or {})])

    def find_one(self, query=None, projection=None):
        return next(iter(self.find(query, projection)), None)

    def _update(self, query, update, upsert, many):
        found = [d for d in self.docs.values() if matches(d, query)]
        if not many:
            found = found[:1]
        modified = 0
        for doc in found:
            changed = copy.deepcopy(doc)
            _apply(changed, update, inserting=False)
            if self._unique_clash(changed):
                raise DuplicateKeyError("E11000 duplicate key")
            if changed != doc:
                self.docs[doc["_id"]] = changed
                modified += 1
        upserted = None
        if not found and upsert:
            new = {k: copy.deepcopy(v) for k, v in query.items()
                   if not k.startswith("$") and "." not in k and not isinstance(v, dict)}
            _apply(new, update, inserting=True)
            upserted = self.insert_one(new).inserted_id
        return SimpleNamespace(matched_count=len(found), modified_count=modified, upserted_id=upserted)

    def update_one(self, query, update, upsert=False):
        return self._update(query, update, upsert, many=False)

    def update_many(self, query, update, upsert=False):
        return self._update(query, update, upsert, many=True)

    def _delete(self, query, many):
        found = [d["_id"] for d in self.docs.values() if matches(d, query)]
        for id_ in found if many else found[:1]:
            del self.docs[id_]
        return SimpleNamespace(deleted_count=len(found) if many else min(len(found), 1))

    def delete_one(self, query):
        return self._delete(query, many=False)

    def delete_many(self, query):
        return self._delete(query, many=True)

    # pymongo's find_one_and_update: store.py must not use it (a collection scan on SecantusDB)
    def find_one_and_update(self, *args, **kwargs):
        raise AssertionError("find_one_and_update: use update_one and its modified_count")


class FakeDatabase(dict):
    def __missing__(self, name):
        self[name] = FakeCollection(name)
        return self[name]


# --- Mailer, clock, keys ---------------------------------------------------------------------------
class RecordingMailer:
    """Keeps the messages instead of sending them; raises `fail` when set."""

    def __init__(self):
        self.sent: list[EmailMessage] = []
        self.fail: Exception | None = None

    def send(self, message: EmailMessage) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append(message)


class Clock:
    """Starts at the real time (access tokens are verified against it), moved by the tests."""

    def __init__(self):
        self.now = datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def move(self, **delta) -> None:
        self.now += timedelta(**delta)


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def link_token(message: EmailMessage) -> str:
    """The sign-in token of the link in the e-mail's text."""
    found = re.search(re.escape(APP_URL) + r"/connexion#jeton=([A-Za-z0-9_-]+)", text_of(message))
    assert found, "no sign-in link in the e-mail"
    return found.group(1)


@pytest.fixture(scope="session")
def keys():
    return identity.generate_keys()


@pytest.fixture(scope="session")
def contracts():
    return Contracts(ROOT / "contracts")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def db():
    return FakeDatabase()


@pytest.fixture
def stores(db):
    stores = Stores.over(db)
    stores.ensure_indexes()
    return stores


@pytest.fixture
def mailer():
    return RecordingMailer()


@pytest.fixture
def service(stores, keys, mailer, clock):
    return AccountsService(stores, identity.TokenIssuer(keys[0]), mailer, Policy(app_url=APP_URL), sender=SENDER,
                           clock=clock)


@pytest.fixture
def memberships(stores, clock):
    return Memberships(stores, clock=clock)


@pytest.fixture
def app(service, keys):
    return create_app(service, ready=lambda: True, verifier=identity.TokenVerifier(keys[1]), configure_logging=False)


@pytest.fixture
def client(app):
    return app.test_client()


# --- Events ----------------------------------------------------------------------------------------
def actor_id(n: int) -> str:
    return f"act-{n:032x}"


def contact(kind: str, n: int, email: str = "contact@entreprise.example.fr", **fields) -> dict:
    """The data of a fr.vitawin.contact.registered.v1 of that kind (valid against its contract)."""
    data = {"actor_id": actor_id(n), "kind": kind, "registered_at": "2026-11-27T09:30:00.000Z"}
    if kind == "pupil":
        data.update(school_uai="0940001W", guardian_email=email)
    elif kind == "school":
        data.update(email=email, display_name="Collège Saint-Exupéry", school_uai="0940002X")
    elif kind == "territory_manager":
        data.update(email=email, display_name="Camille Martin", organisation_name="Paris Est Marne&Bois")
    else:
        data.update(email=email, display_name="Boulangerie des Vignerons")
    data.update(fields)
    return data


def event(data: dict, contracts: Contracts, type_: str = CONTACT_REGISTERED) -> Event:
    contracts.validate(type_, data)
    return Event(type=type_, source="/vitawin/actors", subject=data["actor_id"], data=data)


def erased(n: int, contracts: Contracts, kind: str = "company") -> Event:
    return event({"actor_id": actor_id(n), "kind": kind, "erased_at": "2026-12-01T10:00:00.000Z"}, contracts,
                 ACTOR_ERASED)


@pytest.fixture
def register(memberships, contracts):
    """register(kind, n, email=..., **fields): apply a contact.registered event; returns its data."""
    def apply(kind: str, n: int, email: str = "contact@entreprise.example.fr", **fields) -> dict:
        data = contact(kind, n, email, **fields)
        memberships.on_contact_registered(event(data, contracts))
        return data
    return apply


@pytest.fixture
def sign_in(client, mailer):
    """sign_in(email, actor_id=None): a link by e-mail, exchanged for tokens; the /token response."""
    def run(email: str, actor: str | None = None):
        before = len(mailer.sent)
        assert client.post("/api/v1/auth/sign-in", json={"email": email}).status_code == 202
        assert len(mailer.sent) == before + 1
        body = {"grant_type": "magic_link", "token": link_token(mailer.sent[-1])}
        if actor:
            body["actor_id"] = actor
        return client.post("/api/v1/auth/token", json=body)
    return run


@pytest.fixture
def helpers(contracts):
    """The helpers above, for the test modules (conftest is not importable under importlib mode)."""
    return SimpleNamespace(
        actor_id=actor_id, contact=contact, text=text_of, html=html_of, token=link_token,
        event=lambda data, type_=CONTACT_REGISTERED: event(data, contracts, type_),
        contact_event=lambda kind, n, email="contact@entreprise.example.fr", **fields: event(
            contact(kind, n, email, **fields), contracts),
        erased=lambda n, kind="company": erased(n, contracts, kind))
