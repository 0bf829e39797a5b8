"""The soft ranking of docs/matching.md: each criterion moves the score the right way all else
equal, the score stays in [0, 1], the French reasons, and the configurable weights."""
from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from vitawin_matching.domain import ActionOffer, Location, Request, RomeJob, Volunteer
from vitawin_matching.ranking import RankingWeights, Ranked, VolunteerStats, rank, score

CENTRE = Location(48.8475, 2.4392)
NO_STATS = VolunteerStats()


def request(action_type="testimony", **fields) -> Request:
    values = dict(request_id="req-1", requester_kind="school", contact_email="r@c.example.fr",
                  action_type=action_type, town="94080", location=CENTRE, max_distance_km=10.0,
                  kind="class_testimony", school_uai="0940585A", level="3e", levels=("3e",), audience="college",
                  professionals_wanted=1, rome_codes=("D1102", "D1104"),
                  rome_jobs=(RomeJob("D1102", "Boulanger / Boulangère"), RomeJob("D1104", "Pâtissier / Pâtissière")))
    values.update(fields)
    return Request(**values)


def volunteer(offer: ActionOffer, max_km=10.0, volunteer_id="vol-1") -> Volunteer:
    return Volunteer(volunteer_id, "O", "o@example.fr", "94080", CENTRE, (offer.action_type,), max_km,
                     actions={offer.action_type: offer})


def scored(req=None, offer=None, distance=2.0, stats=NO_STATS, priorities=frozenset(), **kwargs) -> Ranked:
    req = req or request()
    offer = offer or ActionOffer(req.action_type, rome_codes=("D1102",))
    return rank(req, volunteer(offer), distance, stats, priorities, **kwargs)


# --- monotonicity ---------------------------------------------------------------------------------
def test_closer_is_better_all_else_equal():
    scores = [scored(distance=d).score for d in (0.0, 1.0, 4.5, 9.0, 10.0)]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)


def test_distance_criterion_is_1_at_0_km_and_0_at_the_pair_s_limit():
    only_distance = RankingWeights(distance=1, rome=0, period=0, reactivity=0, load=0, priority=0)
    assert scored(distance=0.0, weights=only_distance).score == 1.0
    assert scored(distance=10.0, weights=only_distance).score == 0.0
    assert scored(distance=5.0, weights=only_distance).score == pytest.approx(0.5)
    # the limit is the smaller of the request's and the offer's own
    own = ActionOffer("testimony", max_distance_km=4.0)
    assert scored(offer=own, distance=2.0, weights=only_distance).score == pytest.approx(0.5)


def test_a_remote_offer_is_neutral_on_distance_and_says_so():
    only_distance = RankingWeights(distance=1, rome=0, period=0, reactivity=0, load=0, priority=0)
    remote = scored(offer=ActionOffer("testimony", modality="remote"), distance=140.0, weights=only_distance)
    assert remote.score == 0.5 and remote.reasons[0] == "à distance"
    assert not any(r.endswith(" km") for r in remote.reasons)


def test_more_shared_rome_codes_is_better():
    none = scored(offer=ActionOffer("testimony", rome_codes=("A1101",))).score
    one = scored(offer=ActionOffer("testimony", rome_codes=("D1102",))).score
    two = scored(offer=ActionOffer("testimony", rome_codes=("D1104", "D1102", "A1101"))).score
    assert none < one < two


def test_no_rome_code_asked_is_neutral_whatever_the_offer():
    req = request(rome_codes=(), rome_jobs=())
    with_codes = scored(req, ActionOffer("testimony", rome_codes=("D1102",)))
    without = scored(req, ActionOffer("testimony"))
    assert with_codes.score == without.score
    only_rome = RankingWeights(distance=0, rome=1, period=0, reactivity=0, load=0, priority=0)
    assert scored(req, weights=only_rome).score == 0.5


def test_busier_is_worse():
    offer = ActionOffer("internship", modality="on_site", capacity_per_period=4)
    req = request("internship", kind="internship_hosting", period=("2027-W05",))
    scores = [rank(req, volunteer(offer), 2.0, VolunteerStats(outstanding=n), frozenset()).score for n in (0, 1, 3, 4, 9)]
    assert scores[0] > scores[1] > scores[2] > scores[3] == scores[4]  # full at 4: no lower


def test_load_of_actions_without_placements_is_measured_against_the_weekly_cap():
    only_load = RankingWeights(distance=0, rome=0, period=0, reactivity=0, load=1, priority=0)
    offer = ActionOffer("testimony", weekly_contact_cap=4)
    assert scored(offer=offer, stats=VolunteerStats(outstanding=1), weights=only_load).score == pytest.approx(0.75)


def test_more_reactive_is_better_and_a_newcomer_starts_at_one_half():
    only_reactivity = RankingWeights(distance=0, rome=0, period=0, reactivity=1, load=0, priority=0)
    newcomer = scored(stats=VolunteerStats(0, 0), weights=only_reactivity).score
    assert newcomer == 0.5
    # (answers + 1) / (received + 2)
    assert scored(stats=VolunteerStats(8, 8), weights=only_reactivity).score == pytest.approx(0.9)
    assert scored(stats=VolunteerStats(8, 0), weights=only_reactivity).score == pytest.approx(0.1)
    rates = [scored(stats=VolunteerStats(10, a)).score for a in (0, 3, 7, 10)]
    assert rates == sorted(rates) and len(set(rates)) == 4


def test_internship_free_around_the_period_comes_first():
    req = request("internship", kind="internship_hosting", period=("2027-W05", "2027-W06"))
    exact = ActionOffer("internship", modality="on_site", capacity_per_period=1, periods=("2027-W05", "2027-W06"))
    before = dataclasses.replace(exact, periods=("2027-W04", "2027-W05", "2027-W06"))
    around = dataclasses.replace(exact, periods=("2027-W04", "2027-W05", "2027-W06", "2027-W07"))
    anyweek = dataclasses.replace(exact, periods=())
    scores = [scored(req, offer).score for offer in (exact, before, around)]
    assert scores[0] < scores[1] < scores[2] == scored(req, anyweek).score


def test_the_week_after_2026_w53_is_2027_w01():
    only_period = RankingWeights(distance=0, rome=0, period=1, reactivity=0, load=0, priority=0)
    req = request("internship", kind="discovery_internship", period=("2026-W53",))
    offer = ActionOffer("internship", modality="on_site", capacity_per_period=1,
                        periods=("2026-W52", "2026-W53", "2027-W01"))
    assert scored(req, offer, weights=only_period).score == 1.0
    assert scored(req, dataclasses.replace(offer, periods=("2026-W53", "2027-W02")), weights=only_period).score \
        == pytest.approx(1 / 3)


def test_job_fair_on_the_offered_date_beats_one_on_request():
    req = request("job_fair", kind="job_fair", date=date(2027, 3, 12), level=None, audience="all")
    dated = scored(req, ActionOffer("job_fair", dates=(date(2027, 3, 12),)))
    on_request = scored(req, ActionOffer("job_fair", on_request=True))
    assert dated.score > on_request.score


def test_a_priority_school_or_town_gets_a_bonus():
    plain = scored().score
    assert scored(priorities={"0940585A"}).score > plain
    assert scored(priorities={"94080"}).score > plain
    assert scored(priorities={"0941301D", "94017"}).score == plain


# --- reasons --------------------------------------------------------------------------------------
def test_reasons_in_french_in_order():
    req = request("internship", kind="internship_hosting", period=("2027-W05",))
    offer = ActionOffer("internship", modality="on_site", capacity_per_period=2, periods=("2027-W05",),
                        rome_codes=("D1104", "D1102"))
    ranked = rank(req, volunteer(offer), 1.234, VolunteerStats(proposals_received=5, answers=4), {"0940585A"})
    assert ranked.reasons == ("à 1,2 km", "métier : Boulanger / Boulangère (D1102)",
                              "métier : Pâtissier / Pâtissière (D1104)", "disponible semaine 2027-W05",
                              "répond à 80 % des propositions", "établissement prioritaire")


def test_several_weeks_and_a_job_fair_date_in_the_reasons():
    req = request("internship", kind="internship_hosting", period=("2027-W05", "2027-W06"))
    offer = ActionOffer("internship", modality="on_site", capacity_per_period=2, periods=("2027-W05", "2027-W06"))
    assert "disponible semaines 2027-W05, 2027-W06" in scored(req, offer).reasons
    fair = request("job_fair", kind="job_fair", date=date(2027, 3, 12), level=None, audience="all")
    assert "disponible le 12/03/2027" in scored(fair, ActionOffer("job_fair", dates=(date(2027, 3, 12),))).reasons
    assert not any(r.startswith("disponible") for r in scored(fair, ActionOffer("job_fair", on_request=True)).reasons)
    # an offer free any week makes no claim about a given week
    assert not any(r.startswith("disponible") for r in scored(req, dataclasses.replace(offer, periods=())).reasons)


def test_the_answer_rate_is_shown_from_three_proposals_on():
    assert not any("répond" in r for r in scored(stats=VolunteerStats(2, 2)).reasons)
    assert "répond à 67 % des propositions" in scored(stats=VolunteerStats(3, 2)).reasons
    assert "répond à 0 % des propositions" in scored(stats=VolunteerStats(4, 0)).reasons


def test_distance_reasons():
    assert scored(distance=0.0).reasons[0] == "à moins de 0,1 km"
    assert scored(distance=3.0).reasons[0] == "à 3 km"
    assert scored(distance=9.96).reasons[0] == "à 10 km"


def test_a_rome_code_without_label_and_a_priority_town():
    req = request(rome_codes=("K2111",), rome_jobs=())
    ranked = scored(req, ActionOffer("testimony", rome_codes=("K2111",)), priorities={"94080"})
    assert "métier : K2111" in ranked.reasons and "commune prioritaire" in ranked.reasons
    labelled = ActionOffer("testimony", rome_codes=("K2111",), rome_jobs=(RomeJob("K2111", "Formateur / Formatrice"),))
    assert "métier : Formateur / Formatrice (K2111)" in scored(req, labelled).reasons


# --- score --------------------------------------------------------------------------------------
def test_best_and_worst_pairs_reach_the_bounds():
    best = rank(request(school_uai="0940585A"), volunteer(ActionOffer("testimony", rome_codes=("D1102", "D1104"))),
                0.0, VolunteerStats(1000, 1000), {"0940585A"},
                RankingWeights(distance=1, rome=1, period=0, reactivity=0, load=1, priority=1))
    worst = rank(request(), volunteer(ActionOffer("testimony", rome_codes=("A1101",))), 10.0,
                 VolunteerStats(1000, 0, outstanding=50), frozenset(),
                 RankingWeights(distance=1, rome=1, period=0, reactivity=0, load=1, priority=1))
    assert best.score == 1.0 and worst.score == pytest.approx(0.0, abs=1e-3)


def test_rank_is_deterministic_and_also_named_score():
    args = (request(), volunteer(ActionOffer("testimony", rome_codes=("D1102",))), 3.3, VolunteerStats(4, 3, 1),
            {"94080"})
    assert rank(*args) == rank(*args) == score(*args)


def test_ranking_an_action_the_volunteer_did_not_pledge_is_an_error():
    with pytest.raises(ValueError):
        rank(request("job_fair"), volunteer(ActionOffer("testimony")), 1.0, NO_STATS, frozenset())


# --- weights ------------------------------------------------------------------------------------
def test_weights_from_env_default_when_unset_and_read_each_variable():
    assert RankingWeights.from_env({}) == RankingWeights()
    weights = RankingWeights.from_env({"MATCHING_WEIGHT_DISTANCE": "2", "MATCHING_WEIGHT_PRIORITY": "0.5",
                                       "MATCHING_WEIGHT_LOAD": " ", "OTHER": "x"})
    assert (weights.distance, weights.priority, weights.load) == (2.0, 0.5, RankingWeights().load)


@pytest.mark.parametrize("environ", [{"MATCHING_WEIGHT_ROME": "beaucoup"}, {"MATCHING_WEIGHT_ROME": "-1"},
                                     {"MATCHING_WEIGHT_ROME": "nan"},
                                     {f"MATCHING_WEIGHT_{n}": "0" for n in
                                      ("DISTANCE", "ROME", "PERIOD", "REACTIVITY", "LOAD", "PRIORITY")}])
def test_invalid_weights_are_refused(environ):
    with pytest.raises(ValueError):
        RankingWeights.from_env(environ)


def test_weights_change_the_order():
    near_unrelated = dict(offer=ActionOffer("testimony", rome_codes=()), distance=0.5)
    far_same_job = dict(offer=ActionOffer("testimony", rome_codes=("D1102", "D1104")), distance=9.0)
    by_distance = RankingWeights(distance=1, rome=0.1, period=0, reactivity=0, load=0, priority=0)
    by_job = RankingWeights(distance=0.1, rome=1, period=0, reactivity=0, load=0, priority=0)
    assert scored(**near_unrelated, weights=by_distance).score > scored(**far_same_job, weights=by_distance).score
    assert scored(**near_unrelated, weights=by_job).score < scored(**far_same_job, weights=by_job).score
