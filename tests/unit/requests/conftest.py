"""In-memory fakes and an app wired to them: no server. The clock is fixed: today is Friday
27 November 2026 (zone C), and `now` starts that morning and moves one second at each reading, so
requests created one after the other have distinct creation times."""
from __future__ import annotations

import copy
from types import SimpleNamespace
from datetime import date, datetime, timedelta, timezone

import pytest

from vitawin_common import contracts, identity
from vitawin_common.config import Settings
from vitawin_common.testing import InMemoryRepository, InMemoryUnitOfWork

from vitawin_requests import bootstrap
from vitawin_requests.api import create_app
from vitawin_requests.domain import ACTIVE
from vitawin_requests.handlers import ConcurrentChange

from tests.unit.requests.moderation_fakes import add_report, same_reports

TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)

COLLEGE = "0940585A"  # Vincennes
LYCEE = "0941301D"  # Champigny-sur-Marne
OTHER_COLLEGE = "0940126B"  # Fontenay-sous-Bois
SCHOOLS = {
    COLLEGE: {"uai": COLLEGE, "actor_id": "act-" + "c1" * 16, "name": "Collège Saint-Exupéry", "town": "94080",
              "location": {"lat": 48.8468, "lon": 2.4372}, "school_type": "college",
              "levels": ["6e", "5e", "4e", "3e"], "internship_periods": {"3e": ["2027-W03", "2027-W05"]}},
    LYCEE: {"uai": LYCEE, "actor_id": "act-" + "b2" * 16, "name": "Lycée professionnel Gabriel Péri",
            "town": "94017", "location": {"lat": 48.8150, "lon": 2.5150}, "school_type": "lycee_professionnel",
            "levels": ["2nde", "1re", "Tle", "CAP1", "CAP2"],
            "internship_periods": {"2nde": ["2027-W24", "2027-W25"], "CAP1": ["2027-W10", "2027-W11", "2027-W12"]}},
    OTHER_COLLEGE: {"uai": OTHER_COLLEGE, "actor_id": "act-" + "f3" * 16, "name": "Collège Victor Duruy",
                    "town": "94033", "location": {"lat": 48.8520, "lon": 2.4760}, "school_type": "college",
                    "levels": ["6e", "5e", "4e", "3e"], "internship_periods": {"3e": ["2027-W04"]}},
}

PUPIL_ID = "act-" + "a1" * 16
OTHER_PUPIL_ID = "act-" + "a2" * 16
LYCEE_PUPIL_ID = "act-" + "a3" * 16
REFERENT_EMAIL = "referent.3e@college-saint-exupery.example.fr"
# Who calls: role and claims (actor_id, school_uai).
CALLERS = {
    "pupil": ("pupil", PUPIL_ID, COLLEGE),
    "other_pupil": ("pupil", OTHER_PUPIL_ID, COLLEGE),
    "lycee_pupil": ("pupil", LYCEE_PUPIL_ID, LYCEE),
    "referent": ("school_referent", SCHOOLS[COLLEGE]["actor_id"], COLLEGE),
    "lycee_referent": ("school_referent", SCHOOLS[LYCEE]["actor_id"], LYCEE),
    "other_referent": ("school_referent", SCHOOLS[OTHER_COLLEGE]["actor_id"], OTHER_COLLEGE),
    "professional": ("professional", "act-" + "e5" * 16, None),
    "partner": ("partner", "act-" + "d4" * 16, None),
    "manager": ("territory_manager", "act-" + "9a" * 16, None),
}


class Clock:
    def __init__(self, start: datetime):
        self.moment = start

    def __call__(self) -> datetime:
        moment = self.moment
        self.moment += timedelta(seconds=1)
        return moment


class FakeRequests(InMemoryRepository):
    id_field = "request_id"

    def page(self, where, *, page=1, page_size=50):
        found = self.newest(where.matches, len(self.docs))
        return found[(page - 1) * page_size: page * page_size], len(found)

    def on_map(self, where, limit=2000):
        return self.newest(where.matches, limit)

    def due(self, now):
        return [doc["request_id"] for doc in self.docs.values()
                if doc["status"] in ACTIVE and doc["expires_at"] <= now]

    def replace(self, doc, expected_version):
        """Over the version and the report count read, as the Mongo adapter."""
        stored = self.docs.get(doc["request_id"])
        if stored is None or stored["version"] != expected_version or not same_reports(stored, doc):
            raise ConcurrentChange(doc["request_id"])
        self.docs[doc["request_id"]] = copy.deepcopy(doc)

    def add_report(self, request_id, report, once_per_reporter):
        return add_report(self.docs, request_id, report, once_per_reporter)


class FakeSchools(InMemoryRepository):
    """The schools read model: `get(uai)` gives {uai, actor_id, name, town, location, school_type,
    levels, internship_periods} or None."""
    id_field = "uai"


@pytest.fixture
def territory():
    return bootstrap.territory()


@pytest.fixture
def contract_set():
    return contracts.load(Settings(service_name="requests-tests").contracts_dir)


@pytest.fixture
def uow():
    """Documents in `uow.requests.docs`, published (event, channel) pairs in `uow.published`; writes
    made in a `with` block without commit() are rolled back."""
    uow = InMemoryUnitOfWork()
    uow.requests = uow.attach(FakeRequests())
    uow.schools = uow.attach(FakeSchools())
    for school in SCHOOLS.values():
        uow.schools.add(school)
    return uow


@pytest.fixture(scope="session")
def keys():
    return identity.generate_keys()


@pytest.fixture
def clock():
    return Clock(NOW)


@pytest.fixture
def app(uow, territory, keys, clock):
    return create_app(uow_factory=lambda: uow, territory=territory, verifier=identity.TokenVerifier(keys[1]),
                      today=TODAY, now=clock, zone="C")


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(keys):
    """auth("pupil") → the Authorization header of that caller of CALLERS (None: anonymous)."""
    issuer = identity.TokenIssuer(keys[0])

    def headers(who: str | None) -> dict:
        if who is None:
            return {}
        role, actor_id, school_uai = CALLERS[who]
        return {"Authorization": "Bearer " + issuer.issue(f"account-{who}", role, actor_id=actor_id,
                                                          school_uai=school_uai)}
    return headers


def testimony(**changes) -> dict:
    return {"kind": "class_testimony", "date": "2027-01-13", "start_time": "10:00", "end_time": "12:00",
            "level": "3e", "class_size": 28, "rome_codes": ["D1102"], "professionals_wanted": 2,
            "contact_email": REFERENT_EMAIL, **changes}


def intervention(**changes) -> dict:
    return {"kind": "class_intervention", "topic": "Les métiers du numérique, pour les filles aussi",
            "date": "2027-01-14", "start_time": "14:00", "end_time": "15:30", "level": "4e",
            "rome_codes": ["M1805"], "contact_email": REFERENT_EMAIL, **changes}


def job_fair(**changes) -> dict:
    return {"kind": "job_fair", "date": "2027-03-18", "start_time": "09:00", "end_time": "12:30",
            "levels": ["4e", "3e"], "professionals_wanted": 12, "contact_email": REFERENT_EMAIL, **changes}


def internship_hosting(**changes) -> dict:
    return {"kind": "internship_hosting", "level": "3e", "period": ["2027-W03"], "pupils": 3,
            "rome_codes": ["G1602"], "contact_email": REFERENT_EMAIL, **changes}


def job_information(**changes) -> dict:
    return {"kind": "job_information", "level": "3e", "rome_codes": ["K2111"],
            "keywords": "pâtisserie, chocolatier", **changes}


def discovery_internship(**changes) -> dict:
    return {"kind": "discovery_internship", "level": "3e", "period": ["2027-W05"], "around": "town",
            "town": "94033", "rome_codes": ["D1102"], "max_distance_km": 8, **changes}


def apprenticeship_search(**changes) -> dict:
    return {"kind": "apprenticeship_search", "level": "CAP1", "diploma": "CAP", "rome_codes": ["D1102"],
            "start": "2027-09", **changes}


PAYLOADS = {"class_testimony": testimony, "class_intervention": intervention, "job_fair": job_fair,
            "internship_hosting": internship_hosting, "job_information": job_information,
            "discovery_internship": discovery_internship, "apprenticeship_search": apprenticeship_search}
# Who posts each kind in the tests (a lycée pupil for an apprenticeship).
POSTER = {"class_testimony": "referent", "class_intervention": "referent", "job_fair": "referent",
          "internship_hosting": "referent", "job_information": "pupil", "discovery_internship": "pupil",
          "apprenticeship_search": "lycee_pupil"}


@pytest.fixture
def bearer(keys):
    """bearer(role, actor_id=None, school_uai=None) → the Authorization header of any token."""
    issuer = identity.TokenIssuer(keys[0])
    return lambda role, **claims: {"Authorization": "Bearer " + issuer.issue("account-any", role, **claims)}


@pytest.fixture
def the():
    """The constants of these tests (test modules cannot import this conftest)."""
    return SimpleNamespace(TODAY=TODAY, NOW=NOW, COLLEGE=COLLEGE, LYCEE=LYCEE, OTHER_COLLEGE=OTHER_COLLEGE,
                           SCHOOLS=SCHOOLS, PUPIL_ID=PUPIL_ID, OTHER_PUPIL_ID=OTHER_PUPIL_ID,
                           LYCEE_PUPIL_ID=LYCEE_PUPIL_ID, REFERENT_EMAIL=REFERENT_EMAIL, CALLERS=CALLERS,
                           POSTER=POSTER, KINDS=tuple(PAYLOADS))


@pytest.fixture
def payload():
    """payload(kind, **changes) → a valid body of `kind` (changed)."""
    return lambda kind, **changes: PAYLOADS[kind](**changes)


@pytest.fixture
def post(client, auth):
    """post(kind, who=None, **changes) → the response to POST /api/v1/requests with the valid
    payload of `kind` (changed), by `who` (the kind's usual poster by default)."""
    def send(kind: str, who: str | None = "default", **changes):
        who = POSTER[kind] if who == "default" else who
        return client.post("/api/v1/requests", json=PAYLOADS[kind](**changes), headers=auth(who))
    return send


@pytest.fixture
def created(post):
    """created(kind, who=..., **changes) → the body of a request of `kind` created (by its usual
    poster by default)."""
    def make(kind: str, who: str = "default", **changes) -> dict:
        response = post(kind, who, **changes)
        assert response.status_code == 201, response.get_json()
        return response.get_json()
    return make
