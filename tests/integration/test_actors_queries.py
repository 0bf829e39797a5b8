"""The list queries of the actors service on the real database server (SecantusDB): for each filter
of a table, the pledges VolunteerRepository.page selects through pymongo are exactly, and in the
same order, those `PledgeFilter.matches` selects in memory (what the unit tests' fake uses), and
for a few filters, a set written by hand. Also the pages, and the actors list's bounding box."""
from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from pymongo import MongoClient

from vitawin_common.territory import Location

from vitawin_actors import bootstrap
from vitawin_actors.adapters import ActorRepository, VolunteerRepository
from vitawin_actors.domain import (ACTION_TYPES, Actor, ActionSettings, Address, BoundingBox, Pledge, PledgeFilter,
                                   RegisterOrganisation, RegisterPupil, RegisterSchool, RegisterTerritoryManager,
                                   RegisterVolunteer, Volunteer, purge_pledge_document, tombstone)

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
PLACES = {  # town: a point within 1 km of its centre
    "94080": (48.8478, 2.4385),  # Vincennes
    "94033": (48.8515, 2.4760),  # Fontenay-sous-Bois
    "94079": (48.8270, 2.5440),  # Villiers-sur-Marne
    "94068": (48.7990, 2.4940),  # Saint-Maur-des-Fossés
    "94052": (48.8366, 2.4817),  # Nogent-sur-Marne
    "94017": (48.8174, 2.5168),  # Champigny-sur-Marne
}
AROUND_VINCENNES = BoundingBox.parse("2.42,48.83,2.45,48.86")
EAST = BoundingBox.parse("2.47,48.80,2.56,48.86")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def pledge(minutes: int, town: str, actions: dict[str, tuple[tuple[str, ...], str | None]], *,
           status: str = "active", place: tuple[float, float] | None = None) -> dict:
    """A pledge stored as the API stores it: {action_type: (ROME codes, audience or None: default)}."""
    rome = bootstrap.rome()
    command = RegisterVolunteer(
        organisation_name=f"Organisation {minutes}", contact_email=f"pro{minutes}@example.fr", town=town,
        location=Location(*(place or PLACES[town])), action_types=list(actions),
        actions={t: ActionSettings.build(t, rome_jobs=[rome.job(c) for c in codes], audience=audience)
                 for t, (codes, audience) in actions.items()})
    stored = Pledge.register(command, now=at(minutes))
    if status == "paused":
        stored = stored.pause(at(minutes) + timedelta(seconds=30))
    elif status == "withdrawn":
        stored = stored.withdraw(at(minutes) + timedelta(seconds=30))
    return stored.to_document()


def old_shape(minutes: int, town: str, action_types: list[str], **extra) -> dict:
    """A pledge stored before statuses and per-action settings (no actions, no version)."""
    command = RegisterVolunteer(organisation_name="Ancien", contact_email="ancien@example.fr", town=town,
                                location=Location(*PLACES[town]), action_types=action_types)
    return {**Volunteer.register(command, now=at(minutes)).to_document(), **extra}


def without_audience(doc: dict, action_type: str) -> dict:
    del doc["actions"][action_type]["audience"]  # stored without one: the default, all
    return doc


DOCS = {
    # A offers D1102 to collégiens and lycéens an internship in M1805: no single action does both.
    "a": pledge(1, "94080", {"testimony": (("D1102",), "college"), "internship": (("M1805",), "lycee")}),
    "b": pledge(2, "94033", {"internship": (("D1102",), "lycee")}),
    "c": pledge(3, "94080", {"mentoring": ((), "all")}, status="paused"),
    "d": pledge(4, "94079", {"job_fair": (("D1102",), "all")}),
    "e": old_shape(5, "94080", ["testimony"]),
    "f": pledge(6, "94033", {"intervention": (("M1805",), "college")}, status="withdrawn"),
    "g": pledge(7, "94068", {"apprenticeship": (("I1604",), "lycee"), "testimony": (("I1604",), "college")}),
    "h": pledge(8, "94052", {"testimony": (("D1102",), "all"), "internship": (("D1102", "M1805"), "college")}),
    "i": without_audience(pledge(9, "94080", {"testimony": (("D1104",), "lycee")}, place=(48.8470, 2.4400)),
                          "testimony"),
    "j": old_shape(10, "94033", ["internship", "mentoring"], status="active"),
    "k": purge_pledge_document(pledge(11, "94080", {"internship": (("D1102",), "college")}, status="withdrawn")),
    "l": pledge(12, "94017", {**{t: ((), None) for t in ACTION_TYPES}, "job_fair": (("M1805",), "lycee")}),
    "m": pledge(12, "94017", {"testimony": (("M1805",), "college")}),  # same instant as l: ties go by id
}
DOCS = {letter: {**doc, "volunteer_id": f"vol-it-{letter}"} for letter, doc in DOCS.items()}  # m before l
LETTER = {doc["volunteer_id"]: letter for letter, doc in DOCS.items()}


@pytest.fixture(scope="module")
def database(infrastructure):
    client = MongoClient(infrastructure.env["MONGODB_URI"], tz_aware=True)
    name = f"it_actors_queries_{uuid.uuid4().hex[:8]}"
    yield client[name]
    client.drop_database(name)
    client.close()


@pytest.fixture(scope="module")
def volunteers(database):
    repository = VolunteerRepository(database["volunteers"])
    repository.ensure_indexes()
    for doc in DOCS.values():
        repository.add(doc)
    return repository


def in_mongodb(volunteers, where: PledgeFilter, **page) -> tuple[str, int]:
    items, total = volunteers.page(where, **({"page_size": 200} | page))
    return "".join(LETTER[doc["volunteer_id"]] for doc in items), total


def in_memory(where: PledgeFilter) -> str:
    newest_first = sorted(DOCS.values(), key=lambda doc: (doc["created_at"], doc["volunteer_id"]), reverse=True)
    return "".join(LETTER[doc["volunteer_id"]] for doc in newest_first if where.matches(doc))


PER_ACTION = [PledgeFilter(action_type=t, rome=r, audience=a) for t, r, a in itertools.product(
    (None, "testimony", "internship", "job_fair", "mentoring"), (None, "D1102", "M1805", "I1604", "D1104"),
    (None, "college", "lycee", "all"))]
PLAIN = [PledgeFilter(town="94080"), PledgeFilter(town="94033"), PledgeFilter(town="75056"),
         *[PledgeFilter(action_type=t) for t in ACTION_TYPES],
         *[PledgeFilter(status=s) for s in ("active", "paused", "withdrawn")],
         PledgeFilter(bbox=AROUND_VINCENNES), PledgeFilter(bbox=EAST)]
COMBINED = [
    PledgeFilter(town="94080", audience="college", status="active"),
    PledgeFilter(bbox=EAST, rome="D1102", status="active"),
    PledgeFilter(bbox=AROUND_VINCENNES, action_type="testimony", audience="lycee"),
    PledgeFilter(town="94033", action_type="internship", audience="lycee", rome="D1102", status="active", bbox=EAST),
    PledgeFilter(status="withdrawn", rome="D1102"),
    PledgeFilter(status="active", audience="all"),
]


def _name(where: PledgeFilter) -> str:
    def text(value):
        return ",".join(f"{v:g}" for v in vars(value).values()) if isinstance(value, BoundingBox) else value
    return "&".join(f"{k}={text(v)}" for k, v in vars(where).items() if v is not None) or "everything"


@pytest.mark.parametrize("where", PLAIN + PER_ACTION + COMBINED, ids=_name)
def test_mongodb_selects_what_matches_selects_newest_first(volunteers, where):
    expected = in_memory(where)
    assert in_mongodb(volunteers, where) == (expected, len(expected)), where.to_query()


@pytest.mark.parametrize("where, expected", [
    (PledgeFilter(), "mlkjihgfedcba"),
    (PledgeFilter(rome="D1102"), "khdba"),
    (PledgeFilter(rome="D1102", audience="lycee"), "hdb"),  # not a: its D1102 action is for collège
    (PledgeFilter(rome="D1102", audience="college"), "khda"),
    (PledgeFilter(action_type="internship", rome="D1102"), "khb"),
    (PledgeFilter(action_type="testimony", audience="lycee"), "lihe"),  # i, e, l: the default, all
    (PledgeFilter(audience="all"), "ljihedc"),
    (PledgeFilter(status="active"), "mljihgedba"),  # e: stored without a status
    (PledgeFilter(bbox=AROUND_VINCENNES), "kieca"),
    (PledgeFilter(town="94017", rome="M1805", audience="lycee"), "l"),
])
def test_a_few_filters_select_what_a_person_expects(volunteers, where, expected):
    assert in_memory(where) == expected
    assert in_mongodb(volunteers, where) == (expected, len(expected))


def test_pages_follow_one_another_newest_first_with_the_same_total(volunteers):
    pages = [in_mongodb(volunteers, PledgeFilter(), page=n, page_size=5) for n in (1, 2, 3, 4)]
    assert pages == [("mlkji", 13), ("hgfed", 13), ("cba", 13), ("", 13)]
    assert in_mongodb(volunteers, PledgeFilter(rome="D1102"), page=2, page_size=2) == ("db", 5)


# --- the actors list's bounding box ----------------------------------------------------------------

def test_the_actors_list_keeps_the_actors_located_in_the_box_and_never_a_pupil_or_a_manager(database):
    actors = ActorRepository(database["actors"])
    address = Address("1 rue de Fontenay", "94300")
    profiles = {
        "company": RegisterOrganisation("company", "Boulangerie", "b@example.fr", "12345678200010", "10.71C",
                                        address, "94080", Location(*PLACES["94080"])),
        "far": RegisterOrganisation("craftsman", "Plomberie", "p@example.fr", "73282932000074", "43.22A",
                                    address, "94079", Location(*PLACES["94079"])),
        "school": RegisterSchool("Lycée", "r@example.fr", "0940120V", "college", ["3e"], address, "94080",
                                 Location(48.8470, 2.4400)),
        "pupil": RegisterPupil("Léa", "3e", "0940120V", "94080", guardian_contact_email="g@example.fr"),
        "manager": RegisterTerritoryManager("Gestionnaire", "m@example.fr", "EPT Paris Est Marne et Bois"),
        "erased": RegisterOrganisation("company", "Effacée", "e@example.fr", "55203253400646", "56.10A",
                                       address, "94080", Location(*PLACES["94080"])),
    }
    ids = {}
    for minutes, (name, profile) in enumerate(profiles.items()):
        doc = Actor.register(profile, now=at(minutes)).to_document()
        actors.add(tombstone(doc, at(30)) if name == "erased" else doc)
        ids[doc["actor_id"]] = name

    def names(**filters):
        items, total = actors.page(**filters)
        assert total == len(items)
        return [ids[doc["actor_id"]] for doc in items]

    assert names(bbox=AROUND_VINCENNES) == ["school", "company"]
    assert names(bbox=BoundingBox.parse("2.3,48.7,2.7,48.95")) == ["school", "far", "company"]
    assert names(bbox=BoundingBox.parse("2.3,48.7,2.7,48.95"), kinds=["pupil", "territory_manager"]) == []
    assert names(kinds=["pupil", "territory_manager"]) == ["manager", "pupil"]
    assert names(bbox=EAST) == ["far"]
