"""The request and its lifecycle, in plain Python: expiry per kind, versions, transitions, what is
stored and what each event carries."""
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from vitawin_common.territory import Location

from vitawin_requests.domain import (ACTIVE, Request, RequestConflict, RequestSpec, Requester, input_form,
                                     wanted_error)
from vitawin_requests.kinds import (KINDS, PUPIL_KINDS, SCHOOL_KINDS, InvalidValue, RomeJob, RomeReference,
                                    audience_of)

NOW = datetime(2026, 11, 27, 9, 30, 0, 987654, tzinfo=timezone.utc)
VINCENNES = Location(48.8468, 2.4372)
REFERENT = Requester("act-school", "account-referent")
PUPIL = Requester("act-pupil", "account-pupil")


def spec(kind="class_testimony", **changes) -> RequestSpec:
    values = {
        "class_testimony": dict(levels=("3e",), date=date(2027, 1, 13), professionals_wanted=2,
                                contact_email="referent@college.example.fr"),
        "job_fair": dict(levels=("4e", "3e"), date=date(2027, 6, 10), start_time="09:00", end_time="12:00",
                         professionals_wanted=12, contact_email="referent@college.example.fr"),
        "internship_hosting": dict(levels=("3e",), period=("2027-W05", "2027-W03"), pupils=3, professionals_wanted=3,
                                   contact_email="referent@college.example.fr"),
        "job_information": dict(levels=("3e",), keywords="pâtisserie", rome_jobs=(RomeJob("D1102", "Boulanger"),)),
        "discovery_internship": dict(levels=("3e",), period=("2027-W05",), around="school"),
        "apprenticeship_search": dict(levels=("CAP1",), diploma="CAP", start="2027-09",
                                      rome_jobs=(RomeJob("D1102", "Boulanger"),)),
    }[kind]
    place = dict(school_uai="0940585A", town="94080", location=VINCENNES)
    return RequestSpec(kind=kind, **{**place, **values, **changes})


def created(kind="class_testimony", **changes) -> Request:
    return Request.create(spec(kind, **changes), PUPIL if kind in PUPIL_KINDS else REFERENT, NOW)


def test_each_kind_has_its_requester_and_its_matching_action():
    assert {kind: (rule.requester_kind, rule.action_type) for kind, rule in KINDS.items()} == {
        "class_testimony": ("school", "testimony"), "class_intervention": ("school", "intervention"),
        "job_fair": ("school", "job_fair"), "internship_hosting": ("school", "internship"),
        "job_information": ("pupil", "testimony"), "discovery_internship": ("pupil", "internship"),
        "apprenticeship_search": ("pupil", "apprenticeship")}
    assert SCHOOL_KINDS == ("class_testimony", "class_intervention", "job_fair", "internship_hosting")
    assert all("contact_email" not in KINDS[kind].fields for kind in PUPIL_KINDS)


@pytest.mark.parametrize("levels, audience", [(["3e"], "college"), (["6e", "3e"], "college"),
                                              (["2nde", "CAP1"], "lycee"), (["3e", "2nde"], "all")])
def test_audience_is_derived_from_the_levels(levels, audience):
    assert audience_of(levels) == audience


def test_create_opens_version_1_with_an_id_and_times_to_the_millisecond():
    request = created()
    assert request.request_id.startswith("req-") and len(request.request_id) == 36
    assert (request.status, request.version, request.accepted_count) == ("open", 1, 0)
    assert request.created_at == request.updated_at == datetime(2026, 11, 27, 9, 30, 0, 987000, tzinfo=timezone.utc)
    assert created().request_id != request.request_id


@pytest.mark.parametrize("kind, changes, expires_at", [
    # the end of the day, Paris time: UTC+1 in winter, UTC+2 in summer
    ("class_testimony", {}, datetime(2027, 1, 13, 23, 0, tzinfo=timezone.utc)),
    ("job_fair", {}, datetime(2027, 6, 10, 22, 0, tzinfo=timezone.utc)),
    # the Monday of the first week of the period, whatever the order given
    ("internship_hosting", {}, datetime(2027, 1, 17, 23, 0, tzinfo=timezone.utc)),
    ("discovery_internship", {"period": ("2027-W24",)}, datetime(2027, 6, 13, 22, 0, tzinfo=timezone.utc)),
    ("job_information", {}, datetime(2027, 2, 25, 9, 30, 0, 987000, tzinfo=timezone.utc)),
    ("apprenticeship_search", {}, datetime(2027, 5, 26, 9, 30, 0, 987000, tzinfo=timezone.utc)),
])
def test_expiry_per_kind(kind, changes, expires_at):
    assert created(kind, **changes).expires_at == expires_at


def test_a_period_is_kept_in_time_order():
    assert created("internship_hosting").spec.period == ("2027-W03", "2027-W05")


def test_edit_gives_a_new_version_and_recomputes_the_expiry():
    request = created()
    later = NOW + timedelta(days=2)
    edited = request.edit(spec(date=date(2027, 1, 20), professionals_wanted=3), later)
    assert (edited.version, edited.status, edited.spec.professionals_wanted) == (2, "open", 3)
    assert edited.expires_at == datetime(2027, 1, 20, 23, 0, tzinfo=timezone.utc)
    assert edited.updated_at == later.replace(microsecond=987000) and edited.created_at == request.created_at


def test_edit_that_changes_nothing_is_no_new_version():
    request = created()
    assert request.edit(spec(), NOW + timedelta(days=1)) is request


def test_a_job_information_keeps_its_expiry_from_its_creation_when_edited():
    request = created("job_information")
    assert request.edit(spec("job_information", keywords="chocolatier"), NOW + timedelta(days=30)).expires_at \
        == request.expires_at


def test_edit_refuses_another_kind():
    with pytest.raises(ValueError):
        created().edit(spec("job_fair"))


def test_edit_cannot_ask_for_fewer_professionals_than_already_accepted():
    request = created().accept("prop-1", NOW)
    with pytest.raises(RequestConflict, match="Déjà 1 proposition"):
        request.edit(spec(professionals_wanted=1))
    assert wanted_error("internship_hosting", 2, 2).startswith("Déjà 2 proposition(s) acceptée(s) : indiquez au "
                                                                "moins 3 places")
    assert wanted_error("class_testimony", 3, 2) is None and wanted_error("class_testimony", 1, 0) is None


def test_acceptances_move_the_request_to_partly_matched_then_fulfilled():
    request = created()  # 2 professionals wanted
    first = request.accept("prop-1", NOW + timedelta(hours=1))
    assert (first.status, first.version, first.accepted_proposal_ids) == ("partly_matched", 2, ("prop-1",))
    second = first.accept("prop-2", NOW + timedelta(hours=2))
    assert (second.status, second.version, second.accepted_count) == ("fulfilled", 3, 2)
    assert second.closed_at == second.updated_at


def test_the_same_proposal_counts_once_and_a_closed_request_ignores_acceptances():
    first = created().accept("prop-1", NOW)
    assert first.accept("prop-1", NOW) is first
    cancelled = first.cancel(None, NOW)
    assert cancelled.accept("prop-2", NOW) is cancelled


def test_internship_hosting_is_fulfilled_when_one_proposal_per_place_is_accepted():
    request = created("internship_hosting")  # 3 places
    for number in (1, 2):
        request = request.accept(f"prop-{number}", NOW)
        assert request.status == "partly_matched"
    assert request.accept("prop-3", NOW).status == "fulfilled"


@pytest.mark.parametrize("close", [lambda r: r.cancel("plus besoin", NOW), lambda r: r.expire(NOW),
                                   lambda r: r.accept("p1", NOW).accept("p2", NOW)],
                         ids=["cancelled", "expired", "fulfilled"])
def test_a_closed_request_is_neither_edited_cancelled_nor_expired_again(close):
    closed = close(created())
    assert closed.status not in ACTIVE and closed.closed_at is not None
    for change in (lambda: closed.edit(spec(professionals_wanted=4)), lambda: closed.cancel(None, NOW),
                   lambda: closed.expire(NOW)):
        with pytest.raises(RequestConflict, match="^La demande est (annulée|expirée|pourvue) : elle ne peut plus "):
            change()


def test_is_due_once_its_expiry_is_reached_while_active():
    request = created()
    assert not request.is_due(request.expires_at - timedelta(seconds=1))
    assert request.is_due(request.expires_at)
    assert not request.cancel(None, NOW).is_due(request.expires_at + timedelta(days=1))


def test_a_stored_request_reads_back_the_same_even_with_naive_bson_dates():
    request = created("internship_hosting").accept("prop-1", NOW).cancel("plus besoin", NOW)
    doc = request.to_document()
    assert doc["cancelled_at"] == request.closed_at and doc["cancel_reason"] == "plus besoin"
    naive = {key: value.replace(tzinfo=None) if isinstance(value, datetime) else value for key, value in doc.items()}
    assert Request.from_document(naive) == request


def test_the_stored_request_keeps_who_asked_and_what_the_pupil_typed():
    doc = created("job_information").to_document()
    assert (doc["requester_actor_id"], doc["requester_subject"], doc["keywords"]) == ("act-pupil", "account-pupil",
                                                                                       "pâtisserie")
    assert doc["rome_jobs"] == [{"code": "D1102", "label": "Boulanger"}] and doc["level"] == "3e"


def test_events_of_a_pupil_request_carry_neither_the_pupil_nor_what_they_typed():
    request = created("job_information")
    data = request.created_event_data()
    assert "keywords" not in data and "requester_actor_id" not in data and "requester_subject" not in data
    assert "act-pupil" not in str(data) and "pâtisserie" not in str(data)
    cancelled = request.cancel("je ne veux plus, appelez-moi au 06 12 34 56 78", NOW)
    assert cancelled.cancelled_event_data() == {"request_id": request.request_id, "version": 2,
                                                "cancelled_at": "2026-11-27T09:30:00.987Z"}


def test_a_school_request_cancellation_carries_its_reason():
    cancelled = created().cancel("Sortie scolaire ce jour-là.", NOW)
    assert cancelled.cancelled_event_data()["reason"] == "Sortie scolaire ce jour-là."


def test_fulfilled_and_expired_events_say_when_and_at_which_version():
    fulfilled = created().accept("p1", NOW).accept("p2", NOW + timedelta(minutes=5))
    assert fulfilled.fulfilled_event_data() == {"request_id": fulfilled.request_id, "version": 3,
                                                "at": "2026-11-27T09:35:00.987Z", "accepted_proposal_ids": ["p1", "p2"]}
    expired = created().expire(datetime(2027, 1, 13, 23, 0, 5, tzinfo=timezone.utc))
    assert expired.expired_event_data() == {"request_id": expired.request_id, "version": 2,
                                            "at": "2027-01-13T23:00:05.000Z"}


def test_input_form_is_what_the_requester_would_post_again():
    doc = created("discovery_internship").to_document()
    assert input_form(doc) == {"level": "3e", "period": ["2027-W05"], "around": "school", "rome_codes": [],
                               "max_distance_km": 10.0}  # the town of a school's place is derived
    around_town = replace(created("discovery_internship"), spec=spec("discovery_internship", around="town",
                                                                     town="94033"))
    assert input_form(around_town.to_document())["town"] == "94033"


def test_rome_reference_checks_codes_like_the_actors_service():
    rome = RomeReference({"D1102": "Boulanger / Boulangère"})
    assert rome.job(" d1102 ") == RomeJob("D1102", "Boulanger / Boulangère")
    with pytest.raises(InvalidValue, match="^Code ROME invalide : une lettre de A à N suivie de 4 chiffres"):
        rome.job("Z9999")
    with pytest.raises(InvalidValue, match="^Code ROME inconnu du référentiel ROME : A1101.$"):
        rome.job("A1101")
