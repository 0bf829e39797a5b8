"""Each hard rule of docs/matching.md, holding and broken, at its boundaries, for each kind of
request; and `check` applying them all."""
from __future__ import annotations

import dataclasses
import math
from datetime import date

import pytest

from vitawin_matching import rules
from vitawin_matching.domain import EARTH_RADIUS_KM, ActionOffer, Location, Request, RomeJob, Volunteer
from vitawin_matching.rules import Broken, Usage, check

CENTRE = Location(48.8475, 2.4392)
TODAY = date(2027, 1, 6)  # a Wednesday of 2027-W01
KIND_ACTION = {"class_testimony": ("school", "testimony"), "class_intervention": ("school", "intervention"),
               "job_fair": ("school", "job_fair"), "internship_hosting": ("school", "internship"),
               "job_information": ("pupil", "testimony"), "discovery_internship": ("pupil", "internship"),
               "apprenticeship_search": ("pupil", "apprenticeship")}
KIND_FIELDS = {"class_testimony": {"date": date(2027, 2, 10)},
               "class_intervention": {"date": date(2027, 2, 10)},
               "job_fair": {"date": date(2027, 3, 18), "level": None, "levels": ("3e", "2nde"), "audience": "all"},
               "internship_hosting": {"period": ("2027-W05", "2027-W06"), "pupils": 3, "professionals_wanted": 3},
               "job_information": {},
               "discovery_internship": {"period": ("2027-W05",)},
               "apprenticeship_search": {"diploma": "CAP", "start": "2027-09", "level": "CAP1", "levels": ("CAP1",),
                                         "audience": "lycee"}}
# An offer each kind accepts (the right modality; calendar settings that fit KIND_FIELDS).
FITTING_OFFER = {"class_testimony": {"modality": "in_class"}, "class_intervention": {"modality": "remote"},
                 "job_fair": {"modality": "in_class", "dates": (date(2027, 3, 18),)},
                 "internship_hosting": {"modality": "on_site", "capacity_per_period": 1},
                 "job_information": {"modality": "on_site"},
                 "discovery_internship": {"modality": "on_site", "capacity_per_period": 1},
                 "apprenticeship_search": {"modality": "on_site", "places": 1}}


def north_of(km: float, origin: Location = CENTRE) -> Location:
    return Location(origin.lat + math.degrees(km / EARTH_RADIUS_KM), origin.lon)


def request(template="class_testimony", max_km=10.0, at=CENTRE, **fields) -> Request:
    """A request of the `template` kind (fields may override anything, kind=None for a v1 one)."""
    kind = template
    requester, action = KIND_ACTION[kind]
    values = dict(request_id="req-1", requester_kind=requester,
                  contact_email="referent@college.example.fr" if requester == "school" else None,
                  action_type=action, town="94080", location=at, max_distance_km=max_km, kind=kind,
                  school_uai="0940585A", level="3e", levels=("3e",), audience="college", professionals_wanted=1,
                  rome_codes=("D1102",), rome_jobs=(RomeJob("D1102", "Boulanger / Boulangère"),))
    values.update(KIND_FIELDS[kind])
    values.update(fields)
    return Request(**values)


def volunteer(offer: ActionOffer, at=CENTRE, max_km=10.0, status="active", action_types=None) -> Volunteer:
    types = action_types or (offer.action_type,)
    return Volunteer("vol-1", "Boulangerie", "c@b.example.fr", "94080", at, tuple(types), max_km, status,
                     actions={offer.action_type: offer})


def offer_for(kind="class_testimony", **settings) -> ActionOffer:
    _, action = KIND_ACTION[kind]
    return ActionOffer(action, **{**FITTING_OFFER[kind], **settings})


def rules_broken(req, vol, usage=Usage(), today=TODAY, **kwargs):
    return [b.rule for b in check(req, vol, usage, today, **kwargs)]


# --- every kind ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KIND_ACTION)
def test_a_fitting_offer_breaks_no_rule_for_each_kind(kind):
    assert check(request(kind), volunteer(offer_for(kind)), Usage(), TODAY) == []


@pytest.mark.parametrize("kind", KIND_ACTION)
def test_each_kind_refuses_a_volunteer_who_did_not_pledge_its_action(kind):
    other = "mentoring"
    broken = check(request(kind), volunteer(ActionOffer(other, modality="on_site", mentees=1)), Usage(), TODAY)
    assert broken[0].rule == "action" and "ne propose pas l'action" in broken[0].reason
    assert [b.rule for b in broken] == ["action"]  # no offer to judge: nothing else is reported


# --- 1. action ------------------------------------------------------------------------------------
@pytest.mark.parametrize("status, reason", [("paused", "engagement en pause"), ("withdrawn", "engagement retiré")])
def test_action_rule_refuses_an_inactive_pledge(status, reason):
    vol = volunteer(offer_for(), status=status)
    assert rules.check_action(request(), vol) == Broken("action", reason)
    assert rules.check_action(request(), dataclasses.replace(vol, status="active")) is None


def test_action_rule_names_the_action_in_french():
    vol = volunteer(ActionOffer("testimony"))
    assert rules.check_action(request("job_fair"), vol) == Broken("action", "ne propose pas l'action « forum des métiers »")


# --- 2. audience ----------------------------------------------------------------------------------
@pytest.mark.parametrize("offered, asked, holds", [
    ("all", "college", True), ("all", "lycee", True), ("all", "all", True),
    ("college", "college", True), ("college", "lycee", False), ("lycee", "college", False),
    ("college", "all", False), ("lycee", "all", False)])
def test_audience_rule(offered, asked, holds):
    broken = rules.check_audience(request(audience=asked), offer_for(audience=offered))
    assert (broken is None) == holds
    if not holds:
        assert broken.rule == "audience"


def test_audience_reason_is_french():
    broken = rules.check_audience(request(audience="lycee"), offer_for(audience="college"))
    assert broken.reason == "ouvert aux collégiens seulement, la demande concerne des lycéens"


def test_a_request_without_audience_needs_an_offer_open_to_all():
    v1 = request(audience=None, kind=None, level=None, levels=())
    assert rules.check_audience(v1, offer_for(audience="college")).rule == "audience"
    assert rules.check_audience(v1, offer_for(audience="all")) is None


@pytest.mark.parametrize("kind", ["internship_hosting", "discovery_internship"])
def test_internship_level_must_be_taken_when_the_offer_lists_levels(kind):
    assert rules.check_audience(request(kind, level="3e"), offer_for(kind, levels=("3e", "4e"))) is None
    assert rules.check_audience(request(kind, level="3e"), offer_for(kind, levels=())) is None  # empty: any
    broken = rules.check_audience(request(kind, level="4e", levels=("4e",)), offer_for(kind, levels=("3e",)))
    assert broken == Broken("audience", "n'accueille pas le niveau 4e (niveaux accueillis : 3e)")


def test_an_internship_request_without_level_only_fits_offers_taking_any_level():
    v1 = request("internship_hosting", kind=None, level=None, levels=(), audience=None)
    assert rules.check_audience(v1, offer_for("internship_hosting", audience="all", levels=("3e",))).rule == "audience"
    assert rules.check_audience(v1, offer_for("internship_hosting", audience="all")) is None


def test_levels_only_restrict_internships():
    # a testimony offer carries no levels; one built with some does not restrict a testimony request
    assert rules.check_audience(request(level="4e"), offer_for(levels=("3e",))) is None


# --- 3. availability ------------------------------------------------------------------------------
def test_internship_every_week_of_the_period_must_be_offered():
    req = request("internship_hosting", period=("2027-W05", "2027-W06"))
    assert rules.check_availability(req, offer_for("internship_hosting", periods=("2027-W05", "2027-W06", "2027-W07"))) is None
    assert rules.check_availability(req, offer_for("internship_hosting", periods=())) is None  # any week
    broken = rules.check_availability(req, offer_for("internship_hosting", periods=("2027-W05",)))
    assert broken == Broken("availability", "pas disponible semaine 2027-W06")


def test_internship_week_outside_the_offer_is_refused_even_next_to_it():
    broken = rules.check_availability(request("discovery_internship", period=("2027-W04",)),
                                      offer_for("discovery_internship", periods=("2027-W05", "2027-W03")))
    assert broken.rule == "availability"


def test_internship_week_53():
    req = request("discovery_internship", period=("2026-W53",))
    assert rules.check_availability(req, offer_for("discovery_internship", periods=("2026-W53",))) is None
    assert rules.check_availability(req, offer_for("discovery_internship", periods=("2027-W01", "2026-W52"))) == \
        Broken("availability", "pas disponible semaine 2026-W53")


def test_internship_request_without_period_only_fits_offers_taking_any_week():
    req = request("internship_hosting", period=())
    assert rules.check_availability(req, offer_for("internship_hosting", periods=("2027-W05",))).rule == "availability"
    assert rules.check_availability(req, offer_for("internship_hosting")) is None


def test_job_fair_date_must_be_offered_unless_on_request():
    req = request("job_fair", date=date(2027, 3, 18))
    assert rules.check_availability(req, offer_for("job_fair", dates=(date(2027, 3, 18),))) is None
    assert rules.check_availability(req, offer_for("job_fair", dates=(), on_request=True)) is None
    assert rules.check_availability(req, offer_for("job_fair", dates=(date(2027, 3, 19),))) == \
        Broken("availability", "pas disponible le 18/03/2027")


def test_apprenticeship_diploma_must_be_offered_when_the_offer_lists_diplomas():
    req = request("apprenticeship_search", diploma="CAP")
    assert rules.check_availability(req, offer_for("apprenticeship_search", diplomas=("CAP", "BP"))) is None
    assert rules.check_availability(req, offer_for("apprenticeship_search", diplomas=())) is None
    assert rules.check_availability(req, offer_for("apprenticeship_search", diplomas=("BTS",))) == \
        Broken("availability", "ne prépare pas au diplôme CAP (diplômes proposés : BTS)")


@pytest.mark.parametrize("kind", ["class_testimony", "class_intervention", "job_information"])
def test_actions_without_a_calendar_have_no_availability_rule(kind):
    # the request's date plays no part: the pledge has no calendar for these actions
    assert rules.check_availability(request(kind, date=date(2030, 1, 1)), offer_for(kind, periods=("2027-W05",),
                                                                                    dates=(date(2027, 1, 1),))) is None


# --- 4. modality ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, accepted", [
    ("class_testimony", {"in_class", "remote"}), ("class_intervention", {"in_class", "remote"}),
    ("job_fair", {"in_class"}), ("internship_hosting", {"on_site"}), ("discovery_internship", {"on_site"}),
    ("apprenticeship_search", {"on_site"}), ("job_information", {"remote", "on_site", "in_class"})])
def test_modality_rule_by_kind(kind, accepted):
    assert rules.MODALITIES_BY_KIND[kind] == accepted
    for modality in ("on_site", "in_class", "remote"):
        broken = rules.check_modality(request(kind), offer_for(kind, modality=modality))
        assert (broken is None) == (modality in accepted), modality


def test_modality_reason_is_french():
    broken = rules.check_modality(request("job_fair"), offer_for("job_fair", modality="remote"))
    assert broken == Broken("modality", "propose l'action à distance, la demande l'attend dans l'établissement")


def test_a_v1_request_is_judged_as_the_kind_its_requester_and_action_imply():
    v1 = request("class_testimony", kind=None)
    assert rules.kind_of(v1) == "class_testimony"
    assert rules.check_modality(v1, offer_for(modality="on_site")).rule == "modality"
    mentoring = dataclasses.replace(v1, action_type="mentoring")
    assert rules.kind_of(mentoring) is None  # no kind asks for mentoring: every modality fits
    assert rules.check_modality(mentoring, ActionOffer("mentoring", modality="remote")) is None


# --- 5. distance ----------------------------------------------------------------------------------
def test_distance_exactly_at_both_limits_holds():
    at = north_of(7.5)
    exact = rules.distance_km(CENTRE, at)
    assert rules.check_distance(request(max_km=exact), volunteer(offer_for(), at=at, max_km=exact), offer_for()) is None
    own = offer_for(max_distance_km=exact)
    assert rules.check_distance(request(max_km=exact), volunteer(own, at=at, max_km=1.0), own) is None


def test_distance_just_beyond_the_request_s_limit_is_refused():
    at = north_of(7.5)
    exact = rules.distance_km(CENTRE, at)
    broken = rules.check_distance(request(max_km=exact - 1e-6), volunteer(offer_for(), at=at, max_km=50), offer_for())
    assert broken.rule == "distance"


@pytest.mark.parametrize("request_km, pledge_km, action_km, holds", [
    (10, 10, None, True),   # 8 km within both
    (7, 10, None, False),   # the request's is the smaller
    (10, 7, None, False),   # the pledge's is the smaller
    (10, 7, 9, True),       # the action's own limit replaces the pledge's
    (10, 50, 7, False),     # ... even when smaller
])
def test_distance_is_within_the_request_s_and_the_offer_s_limit(request_km, pledge_km, action_km, holds):
    offer = offer_for(max_distance_km=action_km)
    broken = rules.check_distance(request(max_km=request_km), volunteer(offer, at=north_of(8), max_km=pledge_km), offer)
    assert (broken is None) == holds


def test_distance_reason_has_a_french_decimal_comma_and_never_shows_equal_figures():
    offer = offer_for()
    broken = rules.check_distance(request(max_km=10), volunteer(offer, at=north_of(12.34), max_km=20), offer)
    assert broken == Broken("distance", "à 12,3 km, au-delà de la limite de 10 km")
    broken = rules.check_distance(request(max_km=10), volunteer(offer, at=north_of(10.04), max_km=20), offer)
    assert broken.reason == "à 10,04 km, au-delà de la limite de 10 km"


def test_a_remote_offer_has_no_distance_limit():
    remote = offer_for("class_testimony", modality="remote")
    assert rules.check_distance(request(max_km=5), volunteer(remote, at=north_of(150), max_km=5), remote) is None
    assert check(request(max_km=5), volunteer(remote, at=north_of(150), max_km=5), Usage(), TODAY) == []


def test_check_uses_the_distance_the_caller_gives():
    offer = offer_for()
    vol = volunteer(offer, at=north_of(1))
    assert rules_broken(request(max_km=10), vol, distance=11.0) == ["distance"]
    assert rules_broken(request(max_km=10), vol) == []


# --- 6. capacity ----------------------------------------------------------------------------------
def test_internship_capacity_is_per_week_of_the_period():
    req = request("internship_hosting", period=("2027-W05", "2027-W06"))
    offer = offer_for("internship_hosting", capacity_per_period=2)
    assert rules.check_capacity(req, offer, Usage(accepted_by_week={"2027-W05": 1, "2027-W06": 1})) is None
    assert rules.check_capacity(req, offer, Usage(accepted_by_week={"2027-W04": 5, "2027-W07": 5})) is None
    broken = rules.check_capacity(req, offer, Usage(accepted_by_week={"2027-W05": 1, "2027-W06": 2}))
    assert broken == Broken("capacity", "complet semaine 2027-W06 (2 stagiaires au plus par semaine)")


def test_internship_request_without_period_counts_every_accepted_placement():
    req = request("internship_hosting", period=())
    offer = offer_for("internship_hosting", capacity_per_period=1)
    assert rules.check_capacity(req, offer, Usage(accepted_total=0)) is None
    assert rules.check_capacity(req, offer, Usage(accepted_total=1)).rule == "capacity"


def test_apprenticeship_capacity_is_its_places():
    offer = offer_for("apprenticeship_search", places=2)
    assert rules.check_capacity(request("apprenticeship_search"), offer, Usage(accepted_total=1)) is None
    assert rules.check_capacity(request("apprenticeship_search"), offer, Usage(accepted_total=2)) == \
        Broken("capacity", "complet (2 sur 2 places d'alternance)")


def test_mentoring_capacity_is_its_mentees():
    offer = ActionOffer("mentoring", modality="on_site", mentees=1)
    req = dataclasses.replace(request("job_information", kind=None), action_type="mentoring")
    assert rules.check_capacity(req, offer, Usage(accepted_total=0)) is None
    assert rules.check_capacity(req, offer, Usage(accepted_total=1)) == Broken("capacity", "complet (1 sur 1 mentoré)")


@pytest.mark.parametrize("kind", ["class_testimony", "class_intervention", "job_fair", "job_information"])
def test_actions_without_placements_have_no_capacity(kind):
    usage = Usage(accepted_by_week={"2027-W05": 99}, accepted_total=99)
    assert rules.check_capacity(request(kind), offer_for(kind), usage) is None


def test_capacity_counts_accepted_placements_only_not_outstanding_proposals():
    offer = offer_for("apprenticeship_search", places=1)
    assert rules.check_capacity(request("apprenticeship_search"), offer, Usage(request_outstanding=2)) is None


# --- 7. weekly cap --------------------------------------------------------------------------------
def test_weekly_cap_counts_this_iso_week_only():
    offer = offer_for(weekly_contact_cap=3)
    assert rules.check_weekly_cap(offer, Usage(proposed_by_week={"2027-W01": 2}), TODAY) is None
    assert rules.check_weekly_cap(offer, Usage(proposed_by_week={"2027-W01": 3}), TODAY) == \
        Broken("weekly_cap", "déjà 3 propositions cette semaine (3 au plus)")
    assert rules.check_weekly_cap(offer, Usage(proposed_by_week={"2026-W53": 9}), TODAY) is None  # last week


def test_weekly_cap_across_new_year_uses_the_iso_week_not_the_calendar_year():
    # 1 January 2027 is a Friday of 2026-W53; 4 January 2027 starts 2027-W01
    usage = Usage(proposed_by_week={"2026-W53": 5})
    offer = offer_for(weekly_contact_cap=5)
    assert rules.iso_week(date(2027, 1, 1)) == "2026-W53" and rules.iso_week(date(2027, 1, 4)) == "2027-W01"
    assert rules.check_weekly_cap(offer, usage, date(2027, 1, 1)).rule == "weekly_cap"
    assert rules.check_weekly_cap(offer, usage, date(2027, 1, 4)) is None


# --- 8. request open ------------------------------------------------------------------------------
@pytest.mark.parametrize("status, holds", [("open", True), ("partly_matched", True), ("fulfilled", False),
                                           ("cancelled", False), ("expired", False)])
def test_request_must_be_open_or_partly_matched(status, holds):
    broken = rules.check_request_open(request(status=status), Usage())
    assert (broken is None) == holds
    if not holds:
        assert broken == Broken("request_open", "demande close")


def test_a_hidden_request_gets_no_proposal():
    assert rules.check_request_open(request(hidden=True), Usage()) == \
        Broken("request_open", "demande masquée par la modération")


def test_outstanding_proposals_must_be_below_the_slots():
    req = request("job_fair", professionals_wanted=12)
    assert rules.check_request_open(req, Usage(request_outstanding=13), extra=2) is None
    assert rules.check_request_open(req, Usage(request_outstanding=14), extra=2) == \
        Broken("request_open", "la demande a déjà ses 14 propositions en cours")
    assert rules.check_request_open(req, Usage(request_outstanding=12), extra=0).rule == "request_open"
    assert rules_broken(req, volunteer(offer_for("job_fair")), Usage(request_outstanding=14)) == ["request_open"]


# --- check ----------------------------------------------------------------------------------------
def test_check_reports_every_broken_rule_in_order():
    offer = offer_for("internship_hosting", audience="lycee", modality="in_class", periods=("2027-W01",),
                      capacity_per_period=1, weekly_contact_cap=1)
    req = request("internship_hosting", period=("2027-W05",), max_km=2, hidden=True)
    usage = Usage(accepted_by_week={"2027-W05": 1}, proposed_by_week={"2027-W01": 1})
    assert rules_broken(req, volunteer(offer, at=north_of(5), status="paused"), usage) == list(rules.RULES)
    assert all(b.reason for b in check(req, volunteer(offer, at=north_of(5), status="paused"), usage, TODAY))


def test_check_judges_the_offer_of_the_request_s_action_only():
    testimony = offer_for("class_testimony", modality="on_site")  # would break class_testimony's modality
    internship = offer_for("discovery_internship")
    vol = Volunteer("vol-1", "O", "o@example.fr", "94080", CENTRE, ("testimony", "internship"), 10.0,
                    actions={"testimony": testimony, "internship": internship})
    assert rules_broken(request("discovery_internship"), vol) == []
    assert rules_broken(request("class_testimony"), vol) == ["modality"]


def test_a_default_offer_serves_a_v1_request_as_the_walking_skeleton_did():
    v1 = Request("req-1", "school", "r@c.example.fr", "testimony", "94033", CENTRE, 15.0)
    vol = Volunteer("vol-1", "O", "o@example.fr", "94080", north_of(9), ("testimony",), 10.0)
    assert check(v1, vol, Usage(), TODAY) == []
    assert rules_broken(v1, dataclasses.replace(vol, location=north_of(11))) == ["distance"]
