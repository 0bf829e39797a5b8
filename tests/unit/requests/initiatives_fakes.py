"""In-memory fakes for the initiatives tests (no server, no database): the repository, a unit of
work holding it, a Flask app with the initiatives blueprint and real signed tokens, and the
contract check of an event. Imported by tests/unit/requests/test_initiatives*.py."""
from __future__ import annotations

import copy
import json
from datetime import date, datetime, timezone
from pathlib import Path

from flask import Flask
from flask_smorest import Api
from jsonschema import Draft202012Validator

from vitawin_common import identity, territory as territory_data, web
from vitawin_common.contracts import Contracts
from vitawin_common.identity import TokenIssuer, TokenVerifier
from vitawin_common.testing import InMemoryRepository, InMemoryUnitOfWork

from vitawin_requests.initiatives import api as initiatives_api
from vitawin_requests.initiatives.filters import InitiativeFilter, due_for_closing
from vitawin_requests.initiatives.rules import ConcurrentChange

from tests.unit.requests.moderation_fakes import add_report, same_reports

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = ROOT / "contracts" / "schemas"
TODAY = date(2026, 11, 27)  # a Friday; the fixed "today" of the app
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)

# Actors acting in the tests (the actor each account acts for)
ORG = "act-00000000000000000000000000000001"  # a company, publisher of most initiatives
OTHER_ORG = "act-00000000000000000000000000000002"
SCHOOL = "act-00000000000000000000000000000003"
PARTNER = "act-00000000000000000000000000000004"
MANAGER = "act-00000000000000000000000000000005"


class FakeInitiatives(InMemoryRepository):
    """InitiativeRepository's methods over a dict, with the same version (and report count) check."""
    id_field = "initiative_id"

    def replace(self, doc: dict, expected_version: int) -> None:
        stored = self.docs.get(doc[self.id_field])
        if stored is None or stored.get("version") != expected_version or not same_reports(stored, doc):
            raise ConcurrentChange(doc[self.id_field])
        self.docs[doc[self.id_field]] = copy.deepcopy(doc)

    def add_report(self, initiative_id: str, report: dict, once_per_reporter: bool) -> int | None:
        return add_report(self.docs, initiative_id, report, once_per_reporter)

    def page(self, flt: InitiativeFilter, page: int = 1, page_size: int = 20) -> tuple[list[dict], int]:
        found = self.newest(flt.matches, len(self.docs))
        return found[(page - 1) * page_size: page * page_size], len(found)

    def on_map(self, flt: InitiativeFilter, limit: int = 2000) -> list[dict]:
        return self.newest(flt.matches, limit)

    def due_for_closing(self, now: datetime) -> list[dict]:
        return [copy.deepcopy(doc) for doc in self.docs.values() if due_for_closing(now).matches(doc)]


def make_uow() -> InMemoryUnitOfWork:
    """Documents in `uow.initiatives.docs`; published (event, channel) pairs in `uow.published`."""
    uow = InMemoryUnitOfWork()
    uow.initiatives = uow.attach(FakeInitiatives())
    return uow


def load_territory():
    return territory_data.load(ROOT / "territories" / "paris-est-marne-et-bois.json")


def make_app(uow, territory, public_pem: bytes, today=lambda: TODAY) -> Flask:
    """A Flask app with the initiatives blueprint only, as the lead wires it into create_app."""
    app = Flask(__name__)
    app.config.update(web.openapi_settings("Vitawin requests (tests)"))
    api = Api(app)
    api.register_blueprint(initiatives_api.blueprint)
    app.extensions[initiatives_api.EXTENSION] = initiatives_api.InitiativeDependencies(
        uow_factory=lambda: uow, territory=territory, today=today)
    identity.init_app(app, TokenVerifier(public_pem))
    return web.init_app(app, "requests", configure_logging=False)


class Tokens:
    """Authorization headers for each kind of caller."""

    def __init__(self, private_pem: bytes):
        self.issuer = TokenIssuer(private_pem)

    def header(self, role: str, actor_id: str | None = None, subject: str = "acc-test") -> dict:
        return {"Authorization": f"Bearer {self.issuer.issue(subject, role, actor_id=actor_id)}"}

    def professional(self, actor_id: str = ORG) -> dict:
        return self.header("professional", actor_id)

    def referent(self, actor_id: str = SCHOOL) -> dict:
        return self.header("school_referent", actor_id)

    def partner(self, actor_id: str = PARTNER) -> dict:
        return self.header("partner", actor_id)

    def manager(self, actor_id: str | None = MANAGER) -> dict:
        return self.header("territory_manager", actor_id)

    def pupil(self) -> dict:
        return self.header("pupil", "act-00000000000000000000000000000009")


def initiative_body(**changes) -> dict:
    """A valid initiative in Fontenay-sous-Bois (94033), without a location (the town's centre)."""
    body = {
        "kind": "initiative",
        "title": "Semaine de l'artisanat au collège",
        "description": "Des artisans présentent leur métier dans les classes de 3e.",
        "partner_kinds_sought": ["craftsman", "school"],
        "town": "94033",
        "start_date": "2027-01-11",
        "end_date": "2027-01-15",
        "contact_email": "contact@boulangerie-vignerons.example.fr",
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def call_body(**changes) -> dict:
    """A valid call for projects in Vincennes (94080), with a location near the centre."""
    body = {
        "kind": "call_for_projects",
        "title": "Appel à projets : découverte des métiers du numérique",
        "description": "Projets d'établissements avec des entreprises du numérique.",
        "partner_kinds_sought": ["school"],
        "town": "94080",
        "location": {"lat": 48.8478, "lon": 2.4385},
        "deadline": "2026-12-15",
        "contact_email": "projets@numerique-est.example.fr",
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def validate_event(event) -> None:
    """The event's data against its contract (JSON Schema 2020-12, formats checked)."""
    schema = json.loads((SCHEMAS / f"{event.type}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(event.data)
    Contracts(ROOT / "contracts").validate(event.type, event.data)  # what the outbox runs before storing it
