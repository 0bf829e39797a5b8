"""The schools read model of the requests service, kept from the actors service's public events."""
import copy
import json
from pathlib import Path

import pytest

from vitawin_common.events import new_event
from vitawin_common.testing import InMemoryRepository, InMemoryUnitOfWork

from vitawin_requests import schools

EXAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "examples"

SCHOOL = {"actor_id": "act-" + "1" * 32, "kind": "school", "name": "Collège Françoise Giroud", "town": "94080",
          "location": {"lat": 48.8466, "lon": 2.4378}, "uai": "0940001W", "school_type": "college",
          "levels": ["6e", "5e", "4e", "3e"], "internship_periods": {"3e": ["2027-W03", "2027-W04"]}}
KEPT = {key: value for key, value in SCHOOL.items() if key != "kind"}


class FakeSchools(InMemoryRepository):
    id_field = "uai"

    def put(self, school):
        self.docs[school["uai"]] = copy.deepcopy(school)

    def remove_actor(self, actor_id):
        gone = [uai for uai, doc in self.docs.items() if doc["actor_id"] == actor_id]
        for uai in gone:
            del self.docs[uai]
        return len(gone)


@pytest.fixture
def uow():
    uow = InMemoryUnitOfWork()
    uow.schools = uow.attach(FakeSchools())
    return uow


def registered(data):
    return new_event(schools.ACTOR_REGISTERED, "/vitawin/actors", data["actor_id"], data)


def test_a_registered_school_is_kept_with_its_levels_and_internship_weeks(uow):
    schools.on_actor_registered(registered(SCHOOL), uow)
    assert uow.schools.get("0940001W") == KEPT


def test_a_replayed_registration_changes_nothing(uow):
    schools.on_actor_registered(registered(SCHOOL), uow)
    schools.on_actor_registered(registered(SCHOOL), uow)
    assert list(uow.schools.docs) == ["0940001W"]
    assert uow.schools.get("0940001W") == KEPT


def test_a_school_registered_before_levels_were_published_has_empty_ones(uow):
    older = {key: value for key, value in SCHOOL.items() if key not in ("levels", "internship_periods")}
    schools.on_actor_registered(registered(older), uow)
    assert uow.schools.get("0940001W")["levels"] == []
    assert uow.schools.get("0940001W")["internship_periods"] == {}


def test_other_kinds_of_actor_are_not_kept(uow):
    company = {"actor_id": "act-" + "2" * 32, "kind": "company", "name": "Boulangerie", "town": "94080",
               "location": {"lat": 48.84, "lon": 2.43}, "naf_code": "10.71C", "serves_territory_from_outside": False}
    schools.on_actor_registered(registered(company), uow)
    schools.on_actor_registered(registered({"actor_id": "act-" + "3" * 32, "kind": "pupil", "level": "3e",
                                            "school_uai": "0940001W", "town": "94080"}), uow)
    assert uow.schools.docs == {}


def test_an_erased_school_is_forgotten_and_an_erased_company_changes_nothing(uow):
    schools.on_actor_registered(registered(SCHOOL), uow)
    erased = lambda kind, actor_id: new_event(schools.ACTOR_ERASED, "/vitawin/actors", actor_id,  # noqa: E731
                                              {"actor_id": actor_id, "kind": kind, "erased_at": "2026-11-27T08:00:00.000Z"})
    schools.on_actor_erased(erased("company", SCHOOL["actor_id"]), uow)
    assert "0940001W" in uow.schools.docs
    schools.on_actor_erased(erased("school", SCHOOL["actor_id"]), uow)
    assert uow.schools.docs == {}


def test_the_school_example_of_the_contract_is_read(uow):
    examples = [json.loads(path.read_text())["data"]
                for path in (EXAMPLES / "fr.vitawin.actor.registered.v1").glob("*.json")]
    school_examples = [data for data in examples if data["kind"] == "school"]
    assert school_examples, "the contract has a school example"
    for data in school_examples:
        schools.on_actor_registered(registered(data), uow)
        assert uow.schools.get(data["uai"]) == {k: v for k, v in data.items() if k != "kind"}
