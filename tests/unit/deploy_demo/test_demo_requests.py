"""deploy/local/demo.py (a script, loaded from its path) against the services' own rules: its HTTP
calls go to a fake gateway that hands them to the actors and requests apps wired to in-memory fakes
(no server). The actors service's events reach the requests service's schools read model only
after a first refusal, as the real worker lags behind a registration: every call must end in a
201, whatever day the demo runs."""
from __future__ import annotations

import importlib.util
from datetime import date, datetime, time, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from vitawin_common import identity
from vitawin_common.testing import InMemoryRepository, InMemoryUnitOfWork

from vitawin_actors import bootstrap as actors_bootstrap
from vitawin_actors.api import create_app as create_actors_app
from vitawin_requests import schools as requests_schools
from vitawin_requests.api import create_app as create_requests_app
from vitawin_requests.kinds import SCHOOL_KINDS

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "local" / "demo.py"
GATEWAY = "http://gateway.test"
ACTORS_PREFIXES = ("/api/v1/actors", "/api/v1/volunteers")
# Days the demo may run on: the middle of a school year, the summer (its dates fall in the next
# school year), the last school day before the Christmas holidays.
TODAYS = [date(2026, 11, 27), date(2027, 6, 20), date(2027, 12, 17)]
ALL_REQUESTS = {*SCHOOL_KINDS, "discovery_internship", "job_information"}
SATURDAY = "Le samedi 12/12/2026 n'est pas un jour de classe."


@pytest.fixture(scope="module")
def demo():
    spec = importlib.util.spec_from_file_location("demo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def keys():
    return identity.generate_keys()


@pytest.fixture(scope="module")
def territory():
    return actors_bootstrap.territory()


class Repository(InMemoryRepository):
    """add and get are all that registering and posting use; `put` is the schools read model's."""

    def __init__(self, id_field: str):
        super().__init__()
        self.id_field = id_field

    def put(self, doc: dict) -> None:
        self.add(doc)


class FakeGateway:
    """The demo's `_call`: the gateway and the actors and requests services behind it, in memory.
    The actors service's events reach the requests service's schools read model when a request
    is refused on `school_uai` (`relay_on_refusal`), or never. `calls` lists (method, path, status,
    body) in order."""

    def __init__(self, today: date, territory, keys, relay_on_refusal: bool = True):
        self.actors = InMemoryUnitOfWork()
        self.actors.actors = self.actors.attach(Repository("actor_id"))
        self.actors.volunteers = self.actors.attach(Repository("volunteer_id"))
        self.requests = InMemoryUnitOfWork()
        self.requests.requests = self.requests.attach(Repository("request_id"))
        self.requests.schools = self.requests.attach(Repository("uai"))
        self.requests.initiatives = self.requests.attach(Repository("initiative_id"))
        morning = datetime.combine(today, time(9, 30), tzinfo=timezone.utc)
        actors_app = create_actors_app(uow_factory=lambda: self.actors, territory=territory)
        identity.init_app(actors_app, identity.TokenVerifier(keys[1]))  # it checks the set-up token
        self.clients = {
            "actors": actors_app.test_client(),
            "requests": create_requests_app(uow_factory=lambda: self.requests, territory=territory,
                                            verifier=identity.TokenVerifier(keys[1]), today=today,
                                            now=lambda: morning, zone="C").test_client()}
        self.relay_on_refusal = relay_on_refusal
        self.relayed = 0
        self.calls: list[tuple[str, str, int, dict]] = []

    def __call__(self, method: str, url: str, body: dict | None = None, token: str | None = None):
        path = urlsplit(url).path
        service = "actors" if path.startswith(ACTORS_PREFIXES) else "requests"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.clients[service].open(path, method=method, json=body, headers=headers)
        answer = response.get_json()
        self.calls.append((method, path, response.status_code, body))
        if self.relay_on_refusal and response.status_code == 422 and "school_uai" in answer["errors"]["json"]:
            self.relay()
        return response.status_code, answer

    def relay(self) -> None:
        """What the requests worker does with the actors service's events published so far."""
        for event, _channel in self.actors.published[self.relayed:]:
            if event.type == requests_schools.ACTOR_REGISTERED:
                requests_schools.on_actor_registered(event, self.requests)
        self.relayed = len(self.actors.published)

    def created(self, path: str) -> list[dict]:
        return [body for method, called, status, body in self.calls if called == path and status == 201]


@pytest.fixture
def run(demo, monkeypatch, territory, keys):
    """run(today, **gateway options) → the fake gateway after load_demo, and the counts it returned."""
    monkeypatch.setattr(demo, "RETRY_EVERY_S", 0.0)

    def load(today: date, **options):
        gateway = FakeGateway(today, territory, keys, **options)
        monkeypatch.setattr(demo, "_call", gateway)
        counts = demo.load_demo(GATEWAY, issuer=identity.TokenIssuer(keys[0]), today=today)
        return gateway, counts
    return load


@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_every_call_of_the_demo_ends_in_201_from_the_services(run, today):
    gateway, counts = run(today)

    refused = [(path, status) for _, path, status, _ in gateway.calls if status != 201]
    assert refused == [("/api/v1/requests", 422)]  # the first request, before the school was known
    assert counts == {"volunteers": 13, "schools": 3, "pupils": 2, "territory_managers": 1, "initiatives": 1,
                      "requests": 6}
    assert len(gateway.actors.volunteers.docs) == 13
    kinds = [doc["kind"] for doc in gateway.actors.actors.docs.values()]
    assert sorted(kinds) == ["pupil", "pupil", "school", "school", "school", "territory_manager"]
    assert len(gateway.requests.requests.docs) == 6
    assert len(gateway.requests.initiatives.docs) == 1


@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_the_demo_asks_for_each_school_kind_as_referents_and_two_pupil_kinds_as_pupils(run, today):
    gateway, _ = run(today)
    actors = gateway.actors.actors.docs
    pupils = {doc["actor_id"]: doc for doc in actors.values() if doc["kind"] == "pupil"}
    requests = list(gateway.requests.requests.docs.values())

    assert sorted(doc["kind"] for doc in requests) == sorted(ALL_REQUESTS)
    for doc in requests:
        if doc["kind"] in SCHOOL_KINDS:
            assert doc["requester_kind"] == "school"
            assert doc["contact_email"].endswith("@demo.vitawin.test")
        else:
            assert doc["requester_kind"] == "pupil"
            pupil = pupils[doc["requester_actor_id"]]
            assert doc["school_uai"] == pupil["school_uai"]
            assert "contact_email" not in doc or doc["contact_email"] is None
    publisher = next(iter(gateway.requests.initiatives.docs.values()))["publisher"]
    assert actors[publisher["actor_id"]]["kind"] == "territory_manager"


def test_the_schools_are_two_colleges_and_a_lycee_professionnel_in_three_towns_with_internship_weeks(run):
    gateway, _ = run(TODAYS[0])
    schools = sorted(gateway.requests.schools.docs.values(), key=lambda doc: doc["uai"])

    assert [doc["school_type"] for doc in schools] == ["college", "college", "lycee_professionnel"]
    assert len({doc["town"] for doc in schools}) == 3
    assert [sorted(doc["internship_periods"]) for doc in schools] == [
        ["3e"], ["3e"], sorted(["2nde", "1re", "Tle", "CAP1", "CAP2"])]
    assert all(week > "2026-W48" for doc in schools for weeks in doc["internship_periods"].values()
               for week in weeks)


def test_the_content_is_the_same_from_one_run_to_the_next(run):
    first, _ = run(TODAYS[0])
    second, _ = run(TODAYS[0])

    for path in ("/api/v1/volunteers", "/api/v1/requests", "/api/v1/initiatives"):
        assert first.created(path) == second.created(path)
    schools = [body for body in first.created("/api/v1/actors") if body["kind"] == "school"]
    assert schools == [body for body in second.created("/api/v1/actors") if body["kind"] == "school"]


def test_a_request_is_posted_again_until_the_school_is_known_then_the_demo_gives_up(run, demo, monkeypatch):
    monkeypatch.setattr(demo, "SCHOOL_WAIT_S", 0.3)

    with pytest.raises(demo.DemoError, match="school_uai"):
        run(TODAYS[0], relay_on_refusal=False)


def test_any_other_refusal_stops_the_demo_at_once(run, demo, monkeypatch):
    def refuse_dates(method, url, body=None, token=None):
        if url.endswith("/api/v1/requests"):
            refuse_dates.attempts += 1
            return 422, {"code": 422, "errors": {"json": {"date": [SATURDAY]}}}
        return 201, {"actor_id": "act-" + "0" * 32}
    refuse_dates.attempts = 0
    monkeypatch.setattr(demo, "_call", refuse_dates)

    with pytest.raises(demo.DemoError, match="class_testimony.*422"):
        demo.load_demo(GATEWAY, issuer=identity.TokenIssuer(identity.generate_keys()[0]), today=TODAYS[0])
    assert refuse_dates.attempts == 1


def test_a_request_the_calendar_cannot_date_yet_is_left_out(run):
    """At the start of June 2028 the package's holidays stop with the summer: no internship week
    and no job-fair day can be checked, so the demo posts what it can date and nothing else."""
    gateway, counts = run(date(2028, 6, 1))

    assert counts["requests"] == 3
    assert sorted(doc["kind"] for doc in gateway.requests.requests.docs.values()) == [
        "class_intervention", "class_testimony", "job_information"]
    assert [status for _, _, status, _ in gateway.calls].count(201) == len(gateway.calls) - 1
