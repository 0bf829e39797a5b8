"""The domain model matching reads from the events: one ActionOffer per pledged action (defaults
for events without `actions`), every field of request.created.v2 / updated.v1 that matching uses,
and every example event of contracts/examples parsing."""
from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import pytest

from vitawin_common.contracts import Contracts

from vitawin_matching import domain
from vitawin_matching.domain import ActionOffer, Location, Request, RomeJob, Volunteer

CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"
EXAMPLES = CONTRACTS_DIR / "examples"
VOLUNTEER_TYPES = ("fr.vitawin.volunteer.registered.v1", "fr.vitawin.volunteer.updated.v1")
REQUEST_TYPES = ("fr.vitawin.request.created.v1", "fr.vitawin.request.created.v2", "fr.vitawin.request.updated.v1")


def examples(event_types):
    return [path for event_type in event_types for path in sorted((EXAMPLES / event_type).glob("*.json"))]


def data_of(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def example(event_type: str, name: str) -> dict:
    return data_of(EXAMPLES / event_type / f"{name}.json")


def test_there_are_examples_of_every_event_matching_reads():
    found = {path.parent.name for path in examples(VOLUNTEER_TYPES + REQUEST_TYPES)}
    assert found == set(VOLUNTEER_TYPES + REQUEST_TYPES)


@pytest.mark.parametrize("path", examples(VOLUNTEER_TYPES), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_volunteer_example_parses_with_one_offer_per_action(path):
    data = data_of(path)
    volunteer = Volunteer.from_event(data)
    assert volunteer.volunteer_id == data["volunteer_id"]
    assert volunteer.actor_id == data.get("actor_id")
    assert list(volunteer.actions) == data["action_types"]
    for action_type, offer in volunteer.actions.items():
        assert offer.action_type == action_type
        settings = (data.get("actions") or {}).get(action_type)
        if settings is None:
            assert offer == ActionOffer.default(action_type)
        else:
            assert offer.rome_codes == tuple(settings["rome_codes"])
            assert offer.audience == settings["audience"] and offer.modality == settings["modality"]
            assert offer.weekly_contact_cap == settings["weekly_contact_cap"]


@pytest.mark.parametrize("path", examples(REQUEST_TYPES), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_request_example_parses(path):
    data = data_of(path)
    request = Request.from_event(data)
    assert request.request_id == data["request_id"] and request.action_type == data["action_type"]
    assert request.kind == data.get("kind") and request.level == data.get("level")
    assert request.period == tuple(data.get("period", ()))
    assert request.date == (date.fromisoformat(data["date"]) if "date" in data else None)
    assert [job.code for job in request.rome_jobs] == [job["code"] for job in data.get("rome_jobs", ())]
    assert request.hidden is False


def test_volunteer_with_actions_keeps_every_setting():
    volunteer = Volunteer.from_event(example("fr.vitawin.volunteer.registered.v1", "with-actions"))
    assert volunteer.actor_id == "act-0b7c1d2e3f40516273849a0b1c2d3e4f"
    internship = volunteer.offer("internship")
    assert internship == ActionOffer(
        action_type="internship", audience="college", modality="on_site", rome_codes=("D1102", "D1104"),
        rome_jobs=(RomeJob("D1102", "Boulanger / Boulangère"), RomeJob("D1104", "Pâtissier / Pâtissière")),
        max_distance_km=5.0, weekly_contact_cap=5, capacity_per_period=2, levels=("3e",),
        periods=("2027-W24", "2027-W25"))
    assert internship.rome_label("D1104") == "Pâtissier / Pâtissière" and internship.rome_label("A1101") is None
    assert volunteer.offer("testimony").weekly_contact_cap == 3
    assert volunteer.offer("job_fair") is None


def test_volunteer_updated_example_reads_job_fair_dates_status_and_version():
    volunteer = Volunteer.from_event(example("fr.vitawin.volunteer.updated.v1", "basic"))
    fair = volunteer.offer("job_fair")
    assert fair.dates == (date(2027, 3, 18),) and fair.on_request is False
    assert (volunteer.status, volunteer.version, volunteer.is_candidate) == ("paused", 3, False)


def base_volunteer_data(action_types, **extra):
    return {"volunteer_id": "vol-1", "organisation_name": "Boulangerie", "contact_email": "c@b.example.fr",
            "town": "94080", "location": {"lat": 48.8475, "lon": 2.4392}, "action_types": list(action_types),
            "max_distance_km": 12, **extra}


def test_event_without_actions_gets_the_default_offer_of_each_action_type():
    volunteer = Volunteer.from_event(base_volunteer_data(domain.ACTION_TYPES))
    offers = volunteer.actions
    assert {t: o.modality for t, o in offers.items()} == {
        "testimony": "in_class", "intervention": "in_class", "job_fair": "in_class",
        "internship": "on_site", "apprenticeship": "on_site", "mentoring": "on_site"}
    for offer in offers.values():
        assert (offer.audience, offer.rome_codes, offer.weekly_contact_cap, offer.max_distance_km) == ("all", (), 5, None)
    assert (offers["internship"].capacity_per_period, offers["internship"].levels, offers["internship"].periods) == (1, (), ())
    assert (offers["apprenticeship"].places, offers["apprenticeship"].diplomas) == (1, ())
    assert offers["mentoring"].mentees == 1
    assert (offers["job_fair"].on_request, offers["job_fair"].dates) == (True, ())
    assert volunteer.actor_id is None


def test_an_action_type_without_settings_gets_the_default_and_settings_of_an_unpledged_one_are_dropped():
    settings = {"rome_codes": [], "audience": "lycee", "modality": "remote", "weekly_contact_cap": 2}
    volunteer = Volunteer.from_event(base_volunteer_data(
        ["testimony", "internship"], actions={"testimony": settings, "mentoring": {**settings, "duration_months": 6,
                                                                                  "mentees": 2}}))
    assert set(volunteer.actions) == {"testimony", "internship"}
    assert volunteer.offer("testimony").modality == "remote"
    assert volunteer.offer("internship") == ActionOffer.default("internship")
    assert volunteer.offer("mentoring") is None


def test_a_volunteer_built_without_actions_still_has_an_offer_per_action_and_stays_hashable():
    # positional construction, as adapters and older tests do
    volunteer = Volunteer("vol-1", "O", "o@example.fr", "94080", Location(48.8, 2.4), ("internship",), 20.0,
                          domain.ACTIVE, 2)
    assert volunteer.offer("internship") == ActionOffer.default("internship")
    assert hash(volunteer) == hash(dataclasses.replace(volunteer))
    assert dataclasses.replace(volunteer, status=domain.PAUSED).offer("internship") == ActionOffer.default("internship")


def test_limit_km_is_the_action_s_own_else_the_pledge_s():
    volunteer = Volunteer.from_event(base_volunteer_data(["testimony"]))
    assert ActionOffer("testimony").limit_km(volunteer) == 12.0
    assert ActionOffer("testimony", max_distance_km=4.5).limit_km(volunteer) == 4.5


def test_capacity_is_the_placements_of_the_action():
    assert ActionOffer("internship", capacity_per_period=3).capacity == 3
    assert ActionOffer("apprenticeship", places=2).capacity == 2
    assert ActionOffer("mentoring", mentees=4).capacity == 4
    assert ActionOffer("testimony").capacity is None and ActionOffer("job_fair").capacity is None


def test_action_settings_missing_a_kind_specific_value_take_the_default():
    offer = ActionOffer.from_settings("apprenticeship", {"rome_codes": [], "audience": "all", "modality": "on_site",
                                                         "weekly_contact_cap": 5, "diplomas": ["CAP"]})
    assert (offer.places, offer.diplomas) == (1, ("CAP",))


def request_data(kind, **extra):
    """A request.created.v2 state of `kind`, as the requests service publishes it."""
    action, requester = {"class_testimony": ("testimony", "school"), "internship_hosting": ("internship", "school"),
                         "apprenticeship_search": ("apprenticeship", "pupil")}[kind]
    data = {"request_id": "req-1", "kind": kind, "requester_kind": requester, "action_type": action,
            "school_uai": "0940585A", "level": "3e", "levels": ["3e"], "audience": "college", "town": "94080",
            "location": {"lat": 48.8468, "lon": 2.4372}, "rome_codes": ["D1102"],
            "rome_jobs": [{"code": "D1102", "label": "Boulanger / Boulangère"}], "professionals_wanted": 1,
            "accepted_count": 0, "max_distance_km": 10.0, "status": "open", "version": 1,
            "created_at": "2026-11-27T09:30:00.000Z", "updated_at": "2026-11-27T09:30:00.000Z",
            "expires_at": "2027-02-25T09:30:00.000Z", **extra}
    if requester == "school":
        data["contact_email"] = "referent@college.example.fr"
    Contracts(CONTRACTS_DIR).validate("fr.vitawin.request.created.v2", data)
    return data


def test_internship_hosting_request_reads_period_and_pupils():
    request = Request.from_event(request_data("internship_hosting", period=["2026-W53", "2027-W01"], pupils=4,
                                              professionals_wanted=4))
    assert (request.period, request.pupils, request.professionals_wanted) == (("2026-W53", "2027-W01"), 4, 4)
    assert request.rome_label("D1102") == "Boulanger / Boulangère"


def test_apprenticeship_search_request_reads_diploma_and_start():
    request = Request.from_event(request_data("apprenticeship_search", level="CAP1", levels=["CAP1"],
                                              audience="lycee", diploma="CAP", start="2027-09"))
    assert (request.diploma, request.start, request.contact_email) == ("CAP", "2027-09", None)


def test_slots_are_professionals_wanted_plus_the_extra_proposals():
    job_fair = Request.from_event(example("fr.vitawin.request.created.v2", "job_fair"))
    assert job_fair.slots(2) == 14 and job_fair.slots(0) == 12
    assert job_fair.slots() == 12 + domain.DEFAULT_EXTRA_PROPOSALS
    v1 = Request.from_event(example("fr.vitawin.request.created.v1", "basic"))
    assert v1.slots(2) == 3  # a v1 request wants one professional: 3 proposals, as the walking skeleton


def test_hidden_is_moderation_s_flag_kept_beside_the_state():
    request = Request.from_event(example("fr.vitawin.request.updated.v1", "partly_matched"))
    assert request.hidden is False and request.is_open
    assert dataclasses.replace(request, hidden=True).hidden is True
