"""The queries of the requests service on the real database server (SecantusDB), through pymongo.

- Requests: for each (viewer, filter) of a table, the requests RequestRepository.page and .on_map
  select are exactly, and in the same order, those `RequestFilter.matches` selects in memory (what
  the unit tests' fake uses), and for a few, a set written by hand (what a pupil, a referent, a
  territory manager or anyone sees).
- Initiatives: the same for InitiativeRepository.page, .on_map, .due_for_closing and
  `InitiativeFilter.matches`.
- Reports: the atomic one-report-per-account update of ModeratedRepository, in the unit of work's
  transaction with its event (a second report from one account refused and rolled back, anonymous
  reports never deduplicated, the count right, the newest reports kept), and the write of a change
  guarded by the report count.
- The schools read model: SchoolRepository.put, .remove_actor and .get, and the events that keep it."""
from __future__ import annotations

import itertools
import threading
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from vitawin_common import contracts
from vitawin_common.events import new_event
from vitawin_common.identity import Caller
from vitawin_common.outbox import Outbox
from vitawin_common.territory import BoundingBox, Location
from vitawin_common.testing import InMemoryRepository

from vitawin_requests import bootstrap, handlers, schools
from vitawin_requests.access import ANONYMOUS, RequestFilter, Viewer
from vitawin_requests.adapters import MongoUnitOfWork, RequestRepository, load_rome_reference
from vitawin_requests.domain import Request, RequestSpec, Requester
from vitawin_requests.initiatives import handlers as initiative_handlers
from vitawin_requests.initiatives.adapters import InitiativeRepository
from vitawin_requests.initiatives.domain import Initiative, Party, PublishInitiative
from vitawin_requests.initiatives.filters import InitiativeFilter, due_for_closing
from vitawin_requests.moderation import STORED_REPORTS_MAX, AlreadyReported, Moderator, Report

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ROME = load_rome_reference(ROOT / "contracts" / "reference" / "rome.json")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)

COLLEGE, OTHER, LYCEE = "0940585A", "0940126B", "0941301D"  # Vincennes, Fontenay-sous-Bois, Champigny
PLACE = {COLLEGE: ("94080", Location(48.8468, 2.4372)), OTHER: ("94033", Location(48.8520, 2.4760)),
         LYCEE: ("94017", Location(48.8150, 2.5150))}
FONTENAY_CENTRE = Location(48.85102, 2.47421)
PUPIL_1, PUPIL_2, PUPIL_3, PUPIL_9 = (f"act-it-pupil-{n}" for n in (1, 2, 3, 9))
SCHOOL_ACTOR = {COLLEGE: "act-it-college", OTHER: "act-it-other", LYCEE: "act-it-lycee"}
MANAGER = Moderator("territory_manager", "account-manager")
AROUND_VINCENNES = BoundingBox.parse("2.42,48.83,2.45,48.86")
EAST = BoundingBox.parse("2.47,48.80,2.56,48.86")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# --- the requests ----------------------------------------------------------------------------------

def request(minutes: int, kind: str, school: str, *, requester: str | None = None, levels=("3e",),
            rome=(), status: str = "open", hidden_by: Moderator | None = None, unhidden: bool = False,
            reporters=(), town: str | None = None, location: Location | None = None, **values) -> dict:
    """A request stored as the service stores it, created at `at(minutes)`, then moved to `status`,
    hidden (and shown again), and reported by `reporters` (accounts; "anonymous") as the repository
    adds reports."""
    school_town, school_place = PLACE[school]
    spec = RequestSpec(kind=kind, school_uai=school, town=town or school_town, location=location or school_place,
                       levels=levels, rome_jobs=tuple(ROME.job(code) for code in rome), **values)
    created = at(minutes)
    stored = Request.create(spec, Requester(requester or SCHOOL_ACTOR[school], f"account-of-{requester}"), created)
    later = created + timedelta(seconds=30)
    if status == "cancelled":
        stored = stored.cancel("Plus besoin.", later)
    elif status == "expired":
        stored = stored.expire(later)
    elif status in ("partly_matched", "fulfilled"):
        stored = stored.accept("prop-it-1", later)
    assert stored.status == status
    if hidden_by is not None:
        stored = stored.hide("Contenu à revoir.", hidden_by, later)
        if unhidden:
            stored = stored.unhide(hidden_by, later + timedelta(seconds=1))
    doc = stored.to_document()
    for n, reporter in enumerate(reporters):
        report = Report("spam", f"Commentaire {n}", reporter, None if reporter == "anonymous" else "pupil",
                        later + timedelta(seconds=n))
        doc["reports"].append(report.to_document())
        doc["report_count"] += 1
    return doc


def before_moderation(doc: dict) -> dict:
    """A request or an initiative stored before moderation existed: no hidden flag, no moderation
    log, no reports."""
    return {name: value for name, value in doc.items()
            if name not in ("hidden", "moderation_log", "reports", "report_count")}


def class_testimony(minutes, school, day, level, **kw):
    return request(minutes, "class_testimony", school, levels=(level,), date=date.fromisoformat(day),
                   start_time="10:00", end_time="12:00", class_size=25, contact_email=f"ref@{school}.example.fr",
                   **kw)


REFERENT_OF_COLLEGE = Moderator("school_referent", "account-referent-college")
REFERENT_OF_OTHER = Moderator("school_referent", "account-referent-other")
REQUESTS = {
    "a": class_testimony(1, COLLEGE, "2027-01-13", "3e", rome=("D1102",)),
    "b": request(2, "job_information", COLLEGE, requester=PUPIL_1, rome=("K2111",), keywords="pâtisserie"),
    "c": request(3, "job_fair", COLLEGE, levels=("4e", "3e"), date=date(2027, 3, 18), start_time="09:00",
                 end_time="12:30", professionals_wanted=3, contact_email="ref@college.example.fr",
                 status="partly_matched"),
    "d": request(4, "internship_hosting", COLLEGE, period=("2027-W03", "2027-W05"), pupils=3, rome=("G1602",),
                 professionals_wanted=3, contact_email="ref@college.example.fr", hidden_by=MANAGER,
                 reporters=("account-x", "anonymous")),
    "e": request(5, "class_intervention", OTHER, levels=("4e",), topic="Égalité", date=date(2027, 1, 20),
                 start_time="14:00", end_time="15:00", contact_email="ref@other.example.fr", status="cancelled",
                 reporters=("account-y",)),
    "f": request(6, "discovery_internship", COLLEGE, requester=PUPIL_2, period=("2027-W05",), around="town",
                 town="94033", location=FONTENAY_CENTRE, rome=("D1102",), max_distance_km=8),
    "g": request(7, "discovery_internship", OTHER, requester=PUPIL_9, levels=("4e",), period=("2027-W04",),
                 around="school", hidden_by=REFERENT_OF_OTHER, reporters=("account-z",)),
    "h": request(8, "apprenticeship_search", LYCEE, requester=PUPIL_3, levels=("CAP1",), diploma="CAP",
                 start="2027-09", rome=("D1102",), status="expired"),
    "i": class_testimony(9, OTHER, "2027-02-11", "5e", reporters=("anonymous",)),
    "j": before_moderation(class_testimony(10, COLLEGE, "2027-02-12", "3e", rome=("D1102",))),
    "k": before_moderation(request(11, "job_information", COLLEGE, requester=PUPIL_1, levels=("4e",),
                                   rome=("D1102",))),
    "l": request(12, "internship_hosting", LYCEE, levels=("2nde",), period=("2027-W24", "2027-W25"), pupils=1,
                 rome=("D1102",), contact_email="ref@lycee.example.fr", status="fulfilled"),
    "m": request(13, "job_information", COLLEGE, requester=PUPIL_1, hidden_by=REFERENT_OF_COLLEGE,
                 reporters=("account-referent-college",)),
    "n": class_testimony(14, LYCEE, "2027-01-11", "1re"),  # the Monday of 2027-W02
    "o": request(14, "job_fair", LYCEE, levels=("2nde", "1re", "Tle"), date=date(2027, 1, 17),  # its Sunday
                 start_time="09:00", end_time="12:00", rome=("M1805",), contact_email="ref@lycee.example.fr"),
    "p": request(15, "class_intervention", COLLEGE, levels=("5e",), topic="Numérique", date=date(2027, 1, 21),
                 start_time="10:00", end_time="11:00", contact_email="ref@college.example.fr",
                 hidden_by=MANAGER, unhidden=True, reporters=("anonymous", "anonymous", "account-x")),
    "q": request(16, "discovery_internship", COLLEGE, requester=PUPIL_1, period=("2027-W03",), around="school",
                 status="cancelled"),
}
REQUESTS = {letter: {**doc, "request_id": f"req-it-{letter}"} for letter, doc in REQUESTS.items()}  # o before n
REQUEST_LETTER = {doc["request_id"]: letter for letter, doc in REQUESTS.items()}

VIEWERS = {
    "anonymous": ANONYMOUS,
    "pupil-1": Viewer("pupil", PUPIL_1, COLLEGE),
    "pupil-2": Viewer("pupil", PUPIL_2, COLLEGE),
    "pupil-3": Viewer("pupil", PUPIL_3, LYCEE),
    "pupil-without-actor": Viewer("pupil", None, COLLEGE),
    "referent-college": Viewer("school_referent", SCHOOL_ACTOR[COLLEGE], COLLEGE),
    "referent-other": Viewer("school_referent", SCHOOL_ACTOR[OTHER], OTHER),
    "referent-without-school": Viewer("school_referent", "act-it-x", None),
    "professional": Viewer("professional", "act-it-pro"),
    "manager": Viewer("territory_manager", "act-it-ept"),
}
FILTERS = {
    "everything": {},
    "kind=discovery": {"kinds": ("discovery_internship",)},
    "kinds=fair+testimony": {"kinds": ("job_fair", "class_testimony")},
    "town=94033": {"town": "94033"},
    "level=3e": {"level": "3e"},
    "level=1re": {"level": "1re"},
    "level=3e&town=94080": {"level": "3e", "town": "94080"},
    "week=W02": {"week": "2027-W02"},
    "week=W03": {"week": "2027-W03"},
    "week=W05": {"week": "2027-W05"},
    "week=W06&testimony": {"week": "2027-W06", "kinds": ("class_testimony",)},
    "rome=D1102": {"rome": "D1102"},
    "rome=D1102&level=3e": {"rome": "D1102", "level": "3e"},
    "status=open": {"status": "open"},
    "status=cancelled": {"status": "cancelled"},
    "status=open&active": {"status": "open", "statuses": ("open", "partly_matched")},
    "status=cancelled&active": {"status": "cancelled", "statuses": ("open", "partly_matched")},
    "pupil-requests": {"requester_kind": "pupil"},
    "active-school": {"statuses": ("open", "partly_matched"), "requester_kind": "school"},
    "active-school&week=W02": {"statuses": ("open", "partly_matched"), "requester_kind": "school",
                               "week": "2027-W02"},
    "bbox=vincennes": {"bbox": AROUND_VINCENNES},
    "bbox=east&week=W05": {"bbox": EAST, "week": "2027-W05"},
    "reported": {"reported": True},
    "reported&town=94033": {"reported": True, "town": "94033"},
    "reported&pupil": {"reported": True, "requester_kind": "pupil"},
    "public": {"public": True},
    "public&reported": {"public": True, "reported": True},
    "public&week=W02&level=1re": {"public": True, "week": "2027-W02", "level": "1re"},
}


@pytest.fixture(scope="module")
def client(infrastructure):
    mongo = MongoClient(infrastructure.env["MONGODB_URI"], tz_aware=True)  # as vitawin_common.mongo.client
    yield mongo
    mongo.close()


@pytest.fixture(scope="module")
def database(client):
    name = f"it_requests_queries_{uuid.uuid4().hex[:8]}"
    yield client[name]
    client.drop_database(name)


@pytest.fixture(scope="module")
def requests_repository(database):
    repository = RequestRepository(database["requests"])
    repository.ensure_indexes()
    for doc in REQUESTS.values():
        repository.add(doc)
    return repository


class InMemoryRequests(InMemoryRepository):
    """The unit tests' fake of the repository (tests/unit/requests/conftest.py: FakeRequests)."""
    id_field = "request_id"


@pytest.fixture(scope="module")
def in_memory_requests():
    repository = InMemoryRequests()
    for doc in REQUESTS.values():
        repository.add(doc)
    return repository


def letters(docs, letter_of) -> str:
    return "".join(letter_of[doc.get("request_id") or doc.get("initiative_id")] for doc in docs)


def in_mongodb(repository, where: RequestFilter, **page) -> tuple[str, int]:
    items, total = repository.page(where, **({"page_size": 200} | page))
    return letters(items, REQUEST_LETTER), total


def in_memory(repository, where: RequestFilter) -> str:
    return letters(repository.newest(where.matches, len(repository.docs)), REQUEST_LETTER)


@pytest.mark.parametrize("who, name", list(itertools.product(VIEWERS, FILTERS)),
                         ids=[f"{who}:{name}" for who, name in itertools.product(VIEWERS, FILTERS)])
def test_mongodb_selects_the_requests_matches_selects_newest_first(requests_repository, in_memory_requests,
                                                                    who, name):
    where = RequestFilter(viewer=VIEWERS[who], **FILTERS[name])
    expected = in_memory(in_memory_requests, where)
    assert in_mongodb(requests_repository, where) == (expected, len(expected)), where.to_query()


@pytest.mark.parametrize("who", VIEWERS)
@pytest.mark.parametrize("name, filters", [("all", {}), ("week=W02", {"week": "2027-W02"}),
                                           ("level=3e", {"level": "3e"}), ("bbox=east", {"bbox": EAST}),
                                           ("fairs", {"kinds": ("job_fair",)})])
def test_the_map_selects_what_matches_selects(requests_repository, in_memory_requests, who, name, filters):
    where = RequestFilter.on_map(VIEWERS[who], **filters)
    assert letters(requests_repository.on_map(where), REQUEST_LETTER) == in_memory(in_memory_requests, where)


PUBLIC = "ponljieca"  # the school requests that are not hidden (j: stored before moderation; p: shown again)


@pytest.mark.parametrize("who, filters, expected", [
    ("anonymous", {}, PUBLIC),
    ("professional", {}, PUBLIC),
    ("pupil-without-actor", {}, PUBLIC),
    ("referent-without-school", {}, PUBLIC),
    ("pupil-1", {}, "qponmlkjiecba"),  # and their own: b, k (before moderation), m (hidden), q (cancelled)
    ("pupil-1", {"requester_kind": "pupil"}, "qmkb"),  # among pupil requests, only their own
    ("pupil-2", {"requester_kind": "pupil"}, "f"),
    ("pupil-3", {"requester_kind": "pupil"}, "h"),
    ("pupil-without-actor", {"requester_kind": "pupil"}, ""),
    ("referent-college", {}, "qponmlkjifedcba"),  # every request of the college, hidden or not
    ("referent-other", {}, "ponljigeca"),
    ("manager", {}, "qponmlkjihgfedcba"),
    ("manager", {"reported": True}, "pmiged"),
    ("referent-college", {"reported": True}, "pmd"),
    ("referent-other", {"reported": True}, "ige"),
    ("pupil-1", {"reported": True}, ""),
    ("anonymous", {"reported": True}, ""),
    ("manager", {"public": True}, PUBLIC),
    ("pupil-1", {"public": True}, PUBLIC),
    ("anonymous", {"week": "2027-W02"}, "ona"),  # Monday 11 and Sunday 17 January 2027 included
    ("manager", {"week": "2027-W03"}, "qped"),  # periods with W03, dates 20 and 21 January
    ("manager", {"level": "3e"}, "qmjfdcba"),
    ("anonymous", {"rome": "D1102"}, "lja"),
    ("manager", {"rome": "D1102"}, "lkjhfa"),
    ("manager", {"bbox": AROUND_VINCENNES, "requester_kind": "pupil"}, "qmkb"),  # f lies in Fontenay
])
def test_a_few_filters_select_what_a_person_expects(requests_repository, in_memory_requests, who, filters, expected):
    where = RequestFilter(viewer=VIEWERS[who], **filters)
    assert in_memory(in_memory_requests, where) == expected
    assert in_mongodb(requests_repository, where) == (expected, len(expected))


def test_the_map_never_shows_a_hidden_closed_or_pupil_request(requests_repository):
    for viewer in VIEWERS.values():
        assert letters(requests_repository.on_map(RequestFilter.on_map(viewer)), REQUEST_LETTER) == "ponjica"
    assert letters(requests_repository.on_map(RequestFilter.on_map(), limit=3), REQUEST_LETTER) == "pon"


def test_pages_follow_one_another_newest_first_with_the_same_total(requests_repository):
    everything = RequestFilter(viewer=VIEWERS["manager"])
    pages = [in_mongodb(requests_repository, everything, page=n, page_size=5) for n in (1, 2, 3, 4, 5)]
    assert pages == [("qponm", 17), ("lkjih", 17), ("gfedc", 17), ("ba", 17), ("", 17)]
    assert in_mongodb(requests_repository, RequestFilter(), page=2, page_size=4) == ("jiec", 9)


def test_due_gives_the_active_requests_whose_expiry_has_come(requests_repository):
    expiry = {letter: doc["expires_at"] for letter, doc in REQUESTS.items()}
    moment = expiry["a"]  # the end of 13 January 2027, Paris time
    expected = {f"req-it-{letter}" for letter, doc in REQUESTS.items()
                if doc["status"] in ("open", "partly_matched") and doc["expires_at"] <= moment}
    assert expected and set(requests_repository.due(moment)) == expected
    assert requests_repository.due(T0) == []


# --- the initiatives -------------------------------------------------------------------------------

ORG_A, ORG_B, SCHOOL_ACT = "act-it-org-a", "act-it-org-b", SCHOOL_ACTOR[COLLEGE]


def initiative(minutes: int, kind: str, town: str, partners: tuple[str, ...], publisher: Party, *,
               deadline: date | None = None, status: str = "open", hidden: bool = False, unhidden: bool = False,
               reporters=(), location: Location | None = None, places) -> dict:
    """An initiative stored as the service stores it, published at `at(minutes)` (the day before its
    deadline at the latest), then closed by its publisher, hidden (and shown again), and reported."""
    published_on = min(TODAY, deadline - timedelta(days=1)) if deadline else TODAY
    command = PublishInitiative(kind=kind, title=f"Initiative {minutes}", partner_kinds_sought=list(partners),
                                town=town, contact_email="contact@example.fr", deadline=deadline, location=location)
    stored = Initiative.publish(command, publisher, places, published_on, now=at(minutes))
    later = at(minutes) + timedelta(seconds=30)
    if status == "closed":
        stored = stored.close(publisher, later)
    if hidden:
        stored = stored.hide("Contenu à revoir.", MANAGER, later)
        if unhidden:
            stored = stored.unhide(MANAGER, later + timedelta(seconds=1))
    doc = stored.to_document()
    for n, reporter in enumerate(reporters):
        doc["reports"].append(Report("other", None, reporter, None, later + timedelta(seconds=n)).to_document())
        doc["report_count"] += 1
    return doc


@pytest.fixture(scope="module")
def places():
    return bootstrap.territory()


@pytest.fixture(scope="module")
def initiative_docs(places):
    org_a, org_b = Party("professional", ORG_A), Party("professional", ORG_B)
    school = Party("school_referent", SCHOOL_ACT)
    docs = {
        "a": initiative(1, "initiative", "94080", ("company", "craftsman"), org_a, places=places),
        "b": initiative(2, "call_for_projects", "94033", ("association",), org_b, deadline=date(2026, 12, 15),
                        places=places),
        "c": initiative(3, "call_for_projects", "94017", ("company",), org_a, deadline=date(2026, 12, 1),
                        hidden=True, reporters=("account-x",), places=places),
        "d": initiative(4, "initiative", "94033", ("school", "association"), school, status="closed", places=places),
        "e": before_moderation(initiative(5, "initiative", "94080", ("company",), org_b, places=places)),
        "f": initiative(6, "call_for_projects", "94080", ("craftsman", "company"), org_b,
                        deadline=date(2026, 11, 30), hidden=True, reporters=("account-x", "anonymous"),
                        places=places),
        "g": initiative(7, "initiative", "94068", ("public_institution",), org_a, reporters=("anonymous",),
                        location=Location(48.7990, 2.4940), places=places),
        "h": initiative(8, "call_for_projects", "94033", ("association", "company"), school,
                        deadline=date(2026, 11, 20), status="closed", places=places),
        "i": before_moderation(initiative(9, "call_for_projects", "94017", ("company",), org_a,
                                          deadline=date(2026, 11, 25), places=places)),  # due for closing
        "j": initiative(10, "initiative", "94052", ("craftsman",), org_b, hidden=True, unhidden=True,
                        reporters=("account-y",), places=places),
        "k": initiative(11, "call_for_projects", "94080", ("company",), org_b, deadline=date(2026, 11, 26),
                        hidden=True, places=places),  # hidden and due for closing
        "l": initiative(11, "initiative", "94080", ("company",), org_a, places=places),  # same instant as k
    }
    return {letter: {**doc, "initiative_id": f"ini-it-{letter}"} for letter, doc in docs.items()}


@pytest.fixture(scope="module")
def initiative_letter(initiative_docs):
    return {doc["initiative_id"]: letter for letter, doc in initiative_docs.items()}


@pytest.fixture(scope="module")
def initiatives_repository(database, initiative_docs):
    repository = InitiativeRepository(database["initiatives"])
    repository.ensure_indexes()
    for doc in initiative_docs.values():
        repository.add(doc)
    return repository


class InMemoryInitiatives(InMemoryRepository):
    """The unit tests' fake of the repository (tests/unit/requests/initiatives_fakes.py)."""
    id_field = "initiative_id"


@pytest.fixture(scope="module")
def in_memory_initiatives(initiative_docs):
    repository = InMemoryInitiatives()
    for doc in initiative_docs.values():
        repository.add(doc)
    return repository


INITIATIVE_VIEWERS = {"anyone": None, "org-a": Party("professional", ORG_A), "org-b": Party("professional", ORG_B),
                      "school": Party("school_referent", SCHOOL_ACT), "partner-without-actor": Party("partner"),
                      "manager": Party("territory_manager", "act-it-ept")}
INITIATIVE_FILTERS = {
    "everything": {},
    "kind=call": {"kind": "call_for_projects"},
    "kind=initiative&status=open": {"kind": "initiative", "status": "open"},
    "town=94080": {"town": "94080"},
    "partner=company": {"partner_kind": "company"},
    "partner=company&town=94017": {"partner_kind": "company", "town": "94017"},
    "status=closed": {"status": "closed"},
    "bbox=vincennes": {"bbox": AROUND_VINCENNES},
    "bbox=east&partner=association": {"bbox": EAST, "partner_kind": "association"},
    "deadline<2026-12-01": {"deadline_before": "2026-12-01"},
    "reported": {"reported": True},
    "reported&kind=call": {"reported": True, "kind": "call_for_projects"},
    "include-hidden": {"include_hidden": True},
    "include-hidden&reported": {"include_hidden": True, "reported": True},
}


@pytest.mark.parametrize("who, name", list(itertools.product(INITIATIVE_VIEWERS, INITIATIVE_FILTERS)),
                         ids=[f"{w}:{n}" for w, n in itertools.product(INITIATIVE_VIEWERS, INITIATIVE_FILTERS)])
def test_mongodb_selects_the_initiatives_matches_selects_newest_first(initiatives_repository, in_memory_initiatives,
                                                                       initiative_letter, who, name):
    flt = InitiativeFilter(viewer=INITIATIVE_VIEWERS[who], **INITIATIVE_FILTERS[name])
    expected = letters(in_memory_initiatives.newest(flt.matches, 100), initiative_letter)
    items, total = initiatives_repository.page(flt, page_size=100)
    assert (letters(items, initiative_letter), total) == (expected, len(expected)), flt.to_query()
    assert letters(initiatives_repository.on_map(flt), initiative_letter) == expected


@pytest.mark.parametrize("who, filters, expected", [
    ("anyone", {}, "ljihgedba"),  # never a hidden one (e and i: stored before moderation; j: shown again)
    ("partner-without-actor", {}, "ljihgedba"),
    ("org-a", {}, "ljihgedcba"),  # and their own hidden one, c
    ("org-b", {}, "lkjihgfedba"),
    ("manager", {}, "lkjihgfedcba"),
    ("manager", {"reported": True}, "jgfc"),
    ("org-a", {"reported": True}, ""),  # reported: territory managers only
    ("anyone", {"status": "open"}, "ljigeba"),  # the map's filter
    ("anyone", {"partner_kind": "company"}, "lihea"),
    ("manager", {"deadline_before": "2026-11-27", "status": "open", "kind": "call_for_projects"}, "ki"),
])
def test_a_few_initiative_filters_select_what_a_person_expects(initiatives_repository, in_memory_initiatives,
                                                                initiative_letter, who, filters, expected):
    flt = InitiativeFilter(viewer=INITIATIVE_VIEWERS[who], **filters)
    assert letters(in_memory_initiatives.newest(flt.matches, 100), initiative_letter) == expected
    items, total = initiatives_repository.page(flt, page_size=100)
    assert (letters(items, initiative_letter), total) == (expected, len(expected))


@pytest.mark.parametrize("moment, expected", [
    (NOW, "ki"),
    (datetime(2026, 11, 30, 23, 30, tzinfo=timezone.utc), "kif"),  # already 1 December in Paris
    (T0, ""),
], ids=["27-november", "1-december-in-paris", "early-november"])
def test_due_for_closing_gives_the_open_calls_past_their_deadline_hidden_or_not(
        initiatives_repository, in_memory_initiatives, initiative_letter, moment, expected):
    assert letters(in_memory_initiatives.newest(due_for_closing(moment).matches, 100), initiative_letter) == expected
    assert set(letters(initiatives_repository.due_for_closing(moment), initiative_letter)) == set(expected)


def test_initiative_pages_follow_one_another(initiatives_repository, initiative_letter):
    pages = [initiatives_repository.page(InitiativeFilter(), page=n, page_size=3) for n in (1, 2, 3, 4)]
    assert [(letters(items, initiative_letter), total) for items, total in pages] == [
        ("lji", 9), ("hge", 9), ("dba", 9), ("", 9)]


# --- reports: one per account, atomically, with the event ------------------------------------------

@pytest.fixture(scope="module")
def writes_database(client):
    """The database of the tests that write (apart from the one the list tests read)."""
    name = f"it_requests_writes_{uuid.uuid4().hex[:8]}"
    yield client[name]
    client.drop_database(name)


@pytest.fixture(scope="module")
def uow_factory(client, writes_database):
    """Units of work as the service makes them: requests, schools and initiatives, and the outbox."""
    contract_set = contracts.load(ROOT / "contracts")
    MongoUnitOfWork(client, writes_database, Outbox(writes_database, contract_set)).ensure_indexes()
    return lambda: MongoUnitOfWork(client, writes_database, Outbox(writes_database, contract_set))


def events_about(database, subject: str) -> list[dict]:
    """The outbox entries of the events about `subject` (a request or an initiative)."""
    return list(database["outbox"].find({"event.subject": subject}).sort("seq"))


def report(reporter: str | None, category: str = "spam") -> Report:
    """A report by the account `reporter` (None: anonymous), as the API makes it."""
    caller = None if reporter is None else Caller(reporter, "pupil", "act-it-pupil-1", COLLEGE)
    return Report.make(category, "Un commentaire", caller, NOW)


def fresh_request(uow_factory, minutes: int = 30, *, old_shape: bool = False) -> str:
    doc = class_testimony(minutes, COLLEGE, "2027-01-13", "3e")
    doc = before_moderation(doc) if old_shape else doc
    uow = uow_factory()
    with uow:
        uow.requests.add(doc)
        uow.commit()
    return doc["request_id"]


@pytest.mark.parametrize("old_shape", [False, True], ids=["request", "request-stored-before-moderation"])
def test_a_second_report_from_one_account_is_refused_and_writes_nothing(writes_database, uow_factory, old_shape):
    request_id = fresh_request(uow_factory, old_shape=old_shape)
    assert handlers.report_request(request_id, report("account-1"), uow_factory()) == 1
    with pytest.raises(AlreadyReported):
        handlers.report_request(request_id, report("account-1", "other"), uow_factory())
    assert handlers.report_request(request_id, report(None), uow_factory()) == 2
    assert handlers.report_request(request_id, report(None), uow_factory()) == 3  # anonymous: not deduplicated
    assert handlers.report_request(request_id, report("account-2"), uow_factory()) == 4
    with pytest.raises(AlreadyReported):
        handlers.report_request(request_id, report("account-2"), uow_factory())
    stored = uow_factory().requests.get(request_id)
    assert stored["report_count"] == 4 and stored["version"] == 1
    assert [(r["reporter"], r["category"]) for r in stored["reports"]] == [
        ("account-1", "spam"), ("anonymous", "spam"), ("anonymous", "spam"), ("account-2", "spam")]
    events = events_about(writes_database, request_id)  # one per report kept, none for the refused ones
    assert [(e["event"]["type"], e["event"]["data"]["report_count"]) for e in events] == [
        ("fr.vitawin.request.reported.v1", n) for n in (1, 2, 3, 4)]


def test_a_report_of_an_unknown_request_is_not_found(uow_factory):
    with pytest.raises(handlers.RequestNotFound):
        handlers.report_request("req-it-nowhere", report("account-1"), uow_factory())
    assert uow_factory().requests.add_report("req-it-nowhere", report(None).to_document(), False) is None


def test_two_reports_from_one_account_at_once_count_once(writes_database, uow_factory):
    """Sent at the same instant, in four transactions: one is counted. The others are refused,
    either as AlreadyReported or, when their transaction ran into the winner's, as a WriteConflict
    labelled TransientTransactionError (what MongoDB does too): nothing retries it today, so the
    caller gets an error rather than a 409; tried again, it is AlreadyReported."""
    request_id = fresh_request(uow_factory, 31)
    outcomes: list = []
    barrier = threading.Barrier(4)

    def send():
        barrier.wait()
        try:
            outcomes.append(handlers.report_request(request_id, report("account-twice"), uow_factory()))
        except AlreadyReported:
            outcomes.append("refused")
        except OperationFailure as exc:
            outcomes.append("transient" if exc.has_error_label("TransientTransactionError") else repr(exc))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(outcomes) == 4 and outcomes.count(1) == 1 and set(outcomes) <= {1, "refused", "transient"}, outcomes
    stored = uow_factory().requests.get(request_id)
    assert stored["report_count"] == 1 and [r["reporter"] for r in stored["reports"]] == ["account-twice"]
    assert len(events_about(writes_database, request_id)) == 1
    with pytest.raises(AlreadyReported):  # the retry a transient error calls for
        handlers.report_request(request_id, report("account-twice"), uow_factory())


def test_only_the_newest_reports_are_kept_and_the_count_goes_on(uow_factory):
    request_id = fresh_request(uow_factory, 32)
    repository = uow_factory().requests  # outside a unit of work: no session
    for n in range(STORED_REPORTS_MAX + 2):
        doc = Report("other", f"n{n}", "anonymous", None, NOW).to_document()
        assert repository.add_report(request_id, doc, once_per_reporter=False) == n + 1
    stored = repository.get(request_id)
    assert stored["report_count"] == STORED_REPORTS_MAX + 2
    assert [r["comment"] for r in stored["reports"]] == [f"n{n}" for n in range(2, STORED_REPORTS_MAX + 2)]


@pytest.mark.parametrize("old_shape", [False, True], ids=["request", "request-stored-before-moderation"])
def test_a_change_read_before_a_report_is_a_concurrent_change(uow_factory, old_shape):
    request_id = fresh_request(uow_factory, 33, old_shape=old_shape)
    read = Request.from_document(uow_factory().requests.get(request_id))
    handlers.report_request(request_id, report("account-1"), uow_factory())
    uow = uow_factory()
    with pytest.raises(handlers.ConcurrentChange):
        with uow:
            uow.requests.replace(read.hide("Contenu à revoir.", MANAGER, NOW).to_document(), read.version)
            uow.commit()
    hidden = handlers.hide_request(request_id, "Contenu à revoir.", MANAGER, uow_factory(), now=NOW)
    stored = uow_factory().requests.get(request_id)
    assert (stored["version"], stored["hidden"], stored["report_count"]) == (2, True, 1) and hidden.is_hidden


def test_a_change_of_a_request_stored_before_moderation_is_written(uow_factory):
    request_id = fresh_request(uow_factory, 34, old_shape=True)
    handlers.hide_request(request_id, "Contenu à revoir.", MANAGER, uow_factory(), now=NOW)
    assert uow_factory().requests.get(request_id)["hidden"] is True


def test_reports_of_initiatives_follow_the_same_rule(writes_database, uow_factory, places):
    doc = initiative(40, "initiative", "94080", ("company",), Party("professional", ORG_A), places=places)
    uow = uow_factory()
    with uow:
        uow.initiatives.add(doc)
        uow.commit()
    item = doc["initiative_id"]
    assert initiative_handlers.report_initiative(item, report("account-1"), uow_factory()) == 1
    with pytest.raises(AlreadyReported):
        initiative_handlers.report_initiative(item, report("account-1"), uow_factory())
    assert initiative_handlers.report_initiative(item, report(None), uow_factory()) == 2
    assert initiative_handlers.report_initiative(item, report(None), uow_factory()) == 3
    with pytest.raises(initiative_handlers.InitiativeNotFound):
        initiative_handlers.report_initiative("ini-it-nowhere", report(None), uow_factory())
    stored = uow_factory().initiatives.get(item)
    assert (stored["report_count"], stored["version"], len(stored["reports"])) == (3, 1, 3)
    assert [e["event"]["data"]["report_count"] for e in events_about(writes_database, item)] == [1, 2, 3]


# --- the schools read model ------------------------------------------------------------------------

SCHOOL = {"uai": "0940999Z", "actor_id": "act-it-school", "name": "Collège d'essai", "town": "94080",
          "location": {"lat": 48.8468, "lon": 2.4372}, "school_type": "college", "levels": ["6e", "5e", "4e", "3e"],
          "internship_periods": {"3e": ["2027-W03", "2027-W05"]}}


def test_the_schools_read_model_puts_replaces_and_removes(writes_database):
    repository = schools.SchoolRepository(writes_database["schools_direct"])
    repository.ensure_indexes()
    assert repository.get(SCHOOL["uai"]) is None
    repository.put(SCHOOL)
    repository.put(SCHOOL)  # a replay
    assert repository.get(SCHOOL["uai"]) == SCHOOL
    assert writes_database["schools_direct"].count_documents({}) == 1
    moved = {**{k: v for k, v in SCHOOL.items() if k != "internship_periods"}, "name": "Collège renommé"}
    repository.put(moved)  # the whole document is replaced: no field of the old one is left
    assert repository.get(SCHOOL["uai"]) == moved
    repository.put({**SCHOOL, "uai": "0940998Y"})  # a second UAI of the same actor
    assert repository.remove_actor(SCHOOL["actor_id"]) == 2
    assert repository.remove_actor(SCHOOL["actor_id"]) == 0
    assert repository.get(SCHOOL["uai"]) is None


def test_the_schools_read_model_follows_the_actors_events(uow_factory):
    registered = new_event(schools.ACTOR_REGISTERED, "/vitawin/actors", SCHOOL["actor_id"],
                           {**SCHOOL, "kind": "school", "email": "never-kept@example.fr"})
    schools.on_actor_registered(registered, uow_factory())
    schools.on_actor_registered(registered, uow_factory())  # a replay changes nothing
    assert uow_factory().schools.get(SCHOOL["uai"]) == SCHOOL  # public fields only
    company = new_event(schools.ACTOR_REGISTERED, "/vitawin/actors", "act-it-company",
                        {"kind": "company", "actor_id": "act-it-company", "uai": "0940997X"})
    schools.on_actor_registered(company, uow_factory())
    assert uow_factory().schools.get("0940997X") is None
    erased = new_event(schools.ACTOR_ERASED, "/vitawin/actors", SCHOOL["actor_id"],
                       {"kind": "school", "actor_id": SCHOOL["actor_id"]})
    schools.on_actor_erased(erased, uow_factory())
    schools.on_actor_erased(erased, uow_factory())
    assert uow_factory().schools.get(SCHOOL["uai"]) is None
