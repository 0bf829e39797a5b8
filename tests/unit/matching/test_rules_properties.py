"""Property tests (hypothesis) of the hard rules and the ranking, over random events that satisfy
their contracts: fr.vitawin.volunteer.registered.v1 / updated.v1 (with or without `actions`) and
fr.vitawin.request.created.v1 / v2 / updated.v1.

- `check` returns [] exactly when an independent statement of docs/matching.md's rules, read
  straight from the events, says the pair is eligible; and it reports exactly the rules whose own
  function says they are broken;
- a pair `check` accepts is never farther than either limit, unless the offer is remote;
- `rank` stays in [0, 1].
Half the pairs are drawn freely, half fit each other but for one aspect just missed, so that
eligible pairs and pairs breaking a single rule are common; the near misses are also drawn for
each kind of request apart (`hypothesis.event` tallies them: --hypothesis-show-statistics)."""
from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from vitawin_common.contracts import Contracts
from vitawin_common.territory import Location, distance_km

from vitawin_matching import rules
from vitawin_matching.domain import Request, Volunteer
from vitawin_matching.ranking import RankingWeights, VolunteerStats, rank
from vitawin_matching.rules import Usage

CONTRACTS = Contracts(Path(__file__).resolve().parents[3] / "contracts")
SETTINGS = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

CENTRE = (48.8475, 2.4392)
ACTIONS = ("testimony", "intervention", "internship", "apprenticeship", "mentoring", "job_fair")
MODALITIES = ("on_site", "in_class", "remote")
AUDIENCES = ("college", "lycee", "all")
COLLEGE_LEVELS = ("6e", "5e", "4e", "3e")
LYCEE_LEVELS = ("2nde", "1re", "Tle", "CAP1", "CAP2")
LEVELS = COLLEGE_LEVELS + LYCEE_LEVELS
DIPLOMAS = ("CAP", "BP", "Bac pro", "BTS", "Master")
WEEKS = ("2026-W52", "2026-W53", "2027-W01", "2027-W02", "2027-W05", "2027-W06")  # in time order
DATES = ("2027-03-18", "2027-03-19", "2027-05-20")
ROME = {"D1102": "Boulanger / Boulangère", "D1104": "Pâtissier / Pâtissière", "H2909": "Assembleur monteur",
        "K2111": "Formateur / Formatrice", "M1805": "Études et développement informatique"}
TODAYS = [date(2026, 12, 21) + timedelta(days=n) for n in range(0, 50, 3)]  # 2026-W52 .. 2027-W07

# The request kinds (contracts: request.created.v2 allOf): requester, action type, own fields.
KINDS = {"class_testimony": ("school", "testimony"), "class_intervention": ("school", "intervention"),
         "job_fair": ("school", "job_fair"), "internship_hosting": ("school", "internship"),
         "job_information": ("pupil", "testimony"), "discovery_internship": ("pupil", "internship"),
         "apprenticeship_search": ("pupil", "apprenticeship")}

# --- docs/matching.md, restated from the events (independent of vitawin_matching) ---------------
MODALITIES_OF_KIND = {"class_testimony": {"in_class", "remote"}, "class_intervention": {"in_class", "remote"},
                      "job_fair": {"in_class"}, "internship_hosting": {"on_site"},
                      "discovery_internship": {"on_site"}, "apprenticeship_search": {"on_site"},
                      "job_information": {"remote", "on_site", "in_class"}}
DEFAULT_SETTINGS = {  # an event without actions (brief of issue 5)
    "testimony": {"audience": "all", "modality": "in_class", "weekly_contact_cap": 5},
    "intervention": {"audience": "all", "modality": "in_class", "weekly_contact_cap": 5},
    "job_fair": {"audience": "all", "modality": "in_class", "weekly_contact_cap": 5, "dates": [], "on_request": True},
    "internship": {"audience": "all", "modality": "on_site", "weekly_contact_cap": 5, "capacity_per_period": 1,
                   "levels": [], "periods": []},
    "apprenticeship": {"audience": "all", "modality": "on_site", "weekly_contact_cap": 5, "diplomas": [], "places": 1},
    "mentoring": {"audience": "all", "modality": "on_site", "weekly_contact_cap": 5, "mentees": 1},
}


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def expected_eligible(req: dict, vol: dict, usage: Usage, today: date, hidden: bool, extra: int = 2) -> bool:
    """Eligibility as docs/matching.md states it, read from the two events' data."""
    action = req["action_type"]
    if action not in vol["action_types"] or vol.get("status", "active") != "active":
        return False
    s = (vol.get("actions") or {}).get(action) or DEFAULT_SETTINGS[action]
    audience = req.get("audience", "all")
    if s["audience"] != "all" and s["audience"] != audience:
        return False
    if action == "internship" and s["levels"]:
        asked = [req["level"]] if "level" in req else req.get("levels", [])
        if not asked or not set(asked) <= set(s["levels"]):
            return False
    if action == "internship" and s["periods"] and (not req.get("period")
                                                    or not set(req["period"]) <= set(s["periods"])):
        return False
    if action == "job_fair" and not s["on_request"] and req.get("date") not in s["dates"]:
        return False
    if action == "apprenticeship" and s["diplomas"] and req.get("diploma") not in s["diplomas"]:
        return False
    kind = req.get("kind") or {v: k for k, v in KINDS.items()}.get((req["requester_kind"], action))
    if s["modality"] not in MODALITIES_OF_KIND.get(kind, set(MODALITIES)):
        return False
    if s["modality"] != "remote":
        d = distance_km(Location(**req["location"]), Location(**vol["location"]))
        if d > req["max_distance_km"] or d > s.get("max_distance_km", vol["max_distance_km"]):
            return False
    if action == "internship":
        if req.get("period"):
            if any(usage.accepted_by_week.get(w, 0) >= s["capacity_per_period"] for w in req["period"]):
                return False
        elif usage.accepted_total >= s["capacity_per_period"]:
            return False
    if action == "apprenticeship" and usage.accepted_total >= s["places"]:
        return False
    if action == "mentoring" and usage.accepted_total >= s["mentees"]:
        return False
    if usage.proposed_by_week.get(week_of(today), 0) >= s["weekly_contact_cap"]:
        return False
    return (req.get("status", "open") in ("open", "partly_matched") and not hidden
            and usage.request_outstanding < req.get("professionals_wanted", 1) + extra)


# --- strategies: events that satisfy their contracts ---------------------------------------------
def places():
    """Around Vincennes, up to about 25 km each way."""
    return st.builds(lambda dlat, dlon: {"lat": round(CENTRE[0] + dlat, 6), "lon": round(CENTRE[1] + dlon, 6)},
                     st.floats(-0.22, 0.22), st.floats(-0.33, 0.33))


def subset(pool, min_size=0, hint=(), fit=False):
    """A subset of `pool` in pool order; with a hint, often (always if `fit`) a superset of it."""
    base = st.lists(st.sampled_from(pool), unique=True, min_size=min_size, max_size=len(pool))
    if hint:
        superset = base.map(lambda xs: list(hint) + [x for x in xs if x not in hint])
        base = superset if fit else st.one_of(base, superset)
    return base.map(lambda xs: [x for x in pool if x in xs])


def near(location, degrees=0.05):
    """Within about `degrees` * 110 km of `location`."""
    return st.builds(lambda dlat, dlon: {"lat": round(location["lat"] + dlat, 6), "lon": round(location["lon"] + dlon, 6)},
                     st.floats(-degrees, degrees), st.floats(-degrees * 1.4, degrees * 1.4))


def limits(fit=False):
    return st.floats(5 if fit else 0.5, 40).map(lambda x: round(x, 2))


def implied_kind(req):
    return req.get("kind") or {v: k for k, v in KINDS.items()}.get((req["requester_kind"], req["action_type"]))


@st.composite
def action_settings(draw, action, req=None, fit=False, miss=None):
    """The settings of `action`; with the request `req` of that action, often ones that fit it
    (always with `fit`: then only the counters and the request's own state can break a rule,
    unless `miss` names one aspect to get just wrong: audience, availability, modality, distance)."""
    hint = req if req is not None and req["action_type"] == action else {}
    fit = fit and bool(hint)
    codes = draw(subset(tuple(ROME), hint=tuple(hint.get("rome_codes", ()))))
    audiences = st.sampled_from(AUDIENCES)
    if fit:
        audiences = st.sampled_from(["all", hint.get("audience", "all")])
    elif hint.get("audience"):
        audiences = st.one_of(audiences, st.just(hint["audience"]), st.just(hint["audience"]))
    accepted = sorted(MODALITIES_OF_KIND.get(implied_kind(hint), MODALITIES)) if hint else MODALITIES
    settings_ = {
        "rome_codes": codes,
        "rome_jobs": [{"code": c, "label": ROME[c]} for c in codes if draw(st.booleans())],
        "audience": draw(audiences),
        "modality": draw(st.sampled_from(accepted) if fit or draw(st.booleans()) else st.sampled_from(MODALITIES)),
        "weekly_contact_cap": draw(st.integers(1, 4)),
    }
    if draw(st.booleans()):
        settings_["max_distance_km"] = draw(limits(fit))
    if action == "intervention":
        settings_["topics"] = draw(st.lists(st.sampled_from(["cuisine", "numérique", "égalité"]), max_size=2))
    elif action == "internship":
        level = (hint["level"],) if "level" in hint else ()
        settings_.update(capacity_per_period=draw(st.integers(1, 3)),
                         levels=[] if fit and not level else draw(subset(LEVELS, hint=level, fit=fit)),
                         periods=[] if fit and not hint.get("period") else
                         draw(subset(WEEKS, hint=tuple(hint.get("period", ())), fit=fit)))
    elif action == "apprenticeship":
        diploma = (hint["diploma"],) if "diploma" in hint else ()
        settings_.update(diplomas=[] if fit and not diploma else draw(subset(DIPLOMAS, hint=diploma, fit=fit)),
                         places=draw(st.integers(1, 3)))
    elif action == "mentoring":
        settings_.update(duration_months=draw(st.integers(1, 24)), mentees=draw(st.integers(1, 3)))
    elif action == "job_fair":
        day = (hint["date"],) if "date" in hint else ()
        if draw(st.booleans()) or (fit and not day):
            settings_.update(dates=[], on_request=True)
        else:
            settings_.update(dates=draw(subset(DATES, min_size=1, hint=day, fit=fit)), on_request=False)
    if fit and miss:
        near_miss(settings_, hint, miss, draw(st.booleans()))
    return settings_


def near_miss(settings_: dict, req: dict, miss: str, variant: bool) -> None:
    """Make the settings just wrong for `req` on one aspect, where the request lets it be
    (`variant`: for an internship with a level, the level rather than the audience)."""
    if miss == "audience" and variant and "level" in req and "levels" in settings_:
        settings_["levels"] = [level for level in LEVELS if level != req["level"]]
    elif miss == "audience":
        settings_["audience"] = "lycee" if req.get("audience") == "college" else "college"
    elif miss == "modality":
        refused = [m for m in MODALITIES if m not in MODALITIES_OF_KIND.get(implied_kind(req), MODALITIES)]
        if refused:
            settings_["modality"] = refused[0]
    elif miss == "distance":
        settings_["max_distance_km"] = 0.5  # the volunteer is drawn up to about 2 km away
    elif miss == "availability":
        if req.get("period"):  # every week but one of the request's
            settings_["periods"] = [w for w in WEEKS if w != req["period"][-1]]
        elif "date" in req and "dates" in settings_:
            settings_.update(dates=[d for d in DATES if d != req["date"]], on_request=False)
        elif "diploma" in req:
            settings_["diplomas"] = [d for d in DIPLOMAS if d != req["diploma"]]


@st.composite
def volunteer_events(draw, req=None, fit=False, miss=None):
    """(event type, data) of a volunteer's pledge. With `req`, often one that pledges its action;
    with `fit`, one that fits it (active, near, settings that fit: see action_settings) but for
    the `miss` aspect (action: paused)."""
    types = draw(st.lists(st.sampled_from(ACTIONS), min_size=1, unique=True))
    if req is not None and req["action_type"] not in types and (fit or draw(st.integers(0, 4))):
        types.append(req["action_type"])
    location = places() if req is None else st.one_of(places(), near(req["location"]))
    data = {"volunteer_id": "vol-" + draw(st.text("abcdef0123456789", min_size=4, max_size=8)),
            "organisation_name": "Entreprise", "contact_email": "contact@entreprise.example.fr",
            "town": "94080", "location": draw(near(req["location"], 0.02) if fit else location),
            "action_types": types, "max_distance_km": draw(limits(fit))}
    updated = draw(st.booleans())
    if updated or (fit and miss) or draw(st.booleans()):
        actions = {t: draw(action_settings(t, req, fit, miss)) for t in types}
        if not updated and not fit and len(types) > 1 and draw(st.booleans()):
            actions.pop(types[0])  # one entry missing: that action takes the default settings
        data["actions"] = actions
        data["actor_id"] = "act-1"
    if updated:
        data.update(status=("paused" if miss == "action" else "active") if fit
                    else draw(st.sampled_from(["active"] * 5 + ["paused"])),
                    version=draw(st.integers(2, 9)))
        event_type = "fr.vitawin.volunteer.updated.v1"
    else:
        if "actions" in data:
            data["version"] = 1
        event_type = "fr.vitawin.volunteer.registered.v1"
    return event_type, data


@st.composite
def request_events(draw, kind=None):
    """(event type, data) of a request: created.v2, updated.v1, or created.v1 (no kind). `kind`:
    only that kind ("v1": only created.v1)."""
    base = {"request_id": "req-" + draw(st.text("abcdef0123456789", min_size=4, max_size=8)), "town": "94033",
            "location": draw(places()), "max_distance_km": draw(st.floats(0.5, 40).map(lambda x: round(x, 2)))}
    if kind == "v1" or (kind is None and draw(st.integers(0, 5)) == 0):
        requester, action = draw(st.sampled_from([("school", a) for a in ACTIONS] + [("pupil", a) for a in ACTIONS]))
        return "fr.vitawin.request.created.v1", {**base, "requester_kind": requester, "action_type": action,
                                                 "contact_email": "r@college.example.fr"}
    kind = kind or draw(st.sampled_from(sorted(KINDS)))
    requester, action = KINDS[kind]
    if kind == "job_fair":
        levels = draw(subset(LEVELS, min_size=1))
    else:
        levels = [draw(st.sampled_from(LEVELS))]
    audience = ("college" if set(levels) <= set(COLLEGE_LEVELS) else
                "lycee" if set(levels) <= set(LYCEE_LEVELS) else "all")
    codes = draw(subset(tuple(ROME)))[:10]
    wanted = draw(st.integers(1, 4))
    data = {**base, "kind": kind, "requester_kind": requester, "action_type": action, "school_uai": "0940585A",
            "levels": levels, "audience": audience, "rome_codes": codes,
            "rome_jobs": [{"code": c, "label": ROME[c]} for c in codes], "professionals_wanted": wanted,
            "accepted_count": 0, "created_at": "2026-11-27T09:30:00.000Z", "updated_at": "2026-11-27T09:30:00.000Z",
            "expires_at": "2027-03-01T23:00:00.000Z"}
    if kind != "job_fair":
        data["level"] = levels[0]
    if requester == "school":
        data["contact_email"] = "referent@college.example.fr"
    if kind in ("class_testimony", "class_intervention", "job_fair"):
        data.update(date=draw(st.sampled_from(DATES)), start_time="09:00", end_time="11:00")
    if kind == "class_intervention":
        data["topic"] = "Les métiers de bouche"
    if kind in ("internship_hosting", "discovery_internship"):
        data["period"] = draw(subset(WEEKS, min_size=1))[:6]
    if kind == "internship_hosting":
        data["pupils"] = data["professionals_wanted"]
    if kind == "discovery_internship":
        data["around"] = draw(st.sampled_from(["school", "town"]))
    if kind == "apprenticeship_search":
        data.update(diploma=draw(st.sampled_from(DIPLOMAS)), start="2027-09")
    if draw(st.booleans()):
        data.update(status="open", version=1)
        return "fr.vitawin.request.created.v2", data
    data.update(status=draw(st.sampled_from(["open", "partly_matched"])), version=draw(st.integers(2, 9)))
    return "fr.vitawin.request.updated.v1", data


@st.composite
def usages(draw, req, vol, today, fit=False, miss=None):
    """Counters: often all zero (nothing used yet), else at, just below or just above the limits
    the pair has (capacity, weekly contact cap, slots), or anything. With `fit`, below every
    limit but the `miss` one, which is reached or passed."""
    action = req["action_type"]
    s = (vol.get("actions") or {}).get(action) or DEFAULT_SETTINGS[action]
    capacity = s.get("capacity_per_period") or s.get("places") or s.get("mentees") or 1

    def around(limit, high, aspect):
        if fit:
            return st.sampled_from([limit, limit + 1]) if miss == aspect else st.integers(0, limit - 1)
        return st.one_of(st.just(0), st.sampled_from([limit - 1, limit, limit + 1]), st.integers(0, high))
    by_week = draw(st.dictionaries(st.sampled_from(WEEKS), st.integers(0, 3)))
    for week in req.get("period", ()):
        by_week[week] = draw(around(capacity, 3, "capacity" if week == req["period"][-1] else None))
    proposed = draw(st.dictionaries(st.sampled_from([week_of(d) for d in TODAYS]), st.integers(0, 4)))
    proposed[week_of(today)] = draw(around(s["weekly_contact_cap"], 5, "weekly_cap"))
    return Usage(accepted_by_week=by_week, accepted_total=draw(around(capacity, 3, "capacity")),
                 proposed_by_week=proposed,
                 request_outstanding=draw(around(req.get("professionals_wanted", 1) + 2, 6, "request_open")))


ASPECTS = ("action", "audience", "availability", "modality", "distance", "capacity", "weekly_cap", "request_open")


@st.composite
def pairs(draw, near_misses_only=False, kind=None):
    """A request, a volunteer, the usage counters, today and the hidden flag, every event checked
    against its contract. Half the pairs are drawn freely (the volunteer biased toward the
    request); half fit each other but for at most one aspect, just missed (a counter at its
    limit, a week of the period not offered...), so that each rule is often the only one broken.
    `near_misses_only`: every pair is one of those, with one aspect missed; `kind`: requests of
    that kind only (see request_events)."""
    req_type, req = draw(request_events(kind))
    fit = near_misses_only or draw(st.booleans())
    miss = draw(st.sampled_from(ASPECTS if near_misses_only else (None, None) + ASPECTS)) if fit else None
    event(f"drawn: {'fitting' if fit else 'free'}{', but ' + miss if miss else ''}")
    vol_type, vol = draw(volunteer_events(req, fit, miss))
    CONTRACTS.validate(req_type, req)
    CONTRACTS.validate(vol_type, vol)
    hidden = (draw(st.booleans()) if miss == "request_open" else False) if fit else draw(st.integers(0, 9)) == 0
    today = draw(st.sampled_from(TODAYS))
    return req, vol, draw(usages(req, vol, today, fit, miss)), today, hidden


def parse(req: dict, vol: dict, hidden: bool) -> tuple[Request, Volunteer]:
    request = Request.from_event(req)
    return (dataclasses.replace(request, hidden=True) if hidden else request), Volunteer.from_event(vol)


# --- properties ----------------------------------------------------------------------------------
def check_agrees_with_the_design(pair):
    req, vol, usage, today, hidden = pair
    request, volunteer = parse(req, vol, hidden)
    broken = rules.check(request, volunteer, usage, today)
    event("eligible" if not broken else "broken: " + ", ".join(b.rule for b in broken))
    assert (broken == []) == expected_eligible(req, vol, usage, today, hidden), broken


@SETTINGS
@given(pairs())
def test_check_accepts_exactly_the_pairs_the_rules_of_the_design_accept(pair):
    check_agrees_with_the_design(pair)


@pytest.mark.parametrize("kind", sorted(KINDS) + ["v1"])
@settings(SETTINGS, max_examples=100)
@given(data=st.data())
def test_check_agrees_with_the_design_on_pairs_that_just_miss_one_rule(kind, data):
    check_agrees_with_the_design(data.draw(pairs(near_misses_only=True, kind=kind)))


@SETTINGS
@given(pairs())
def test_check_reports_exactly_the_rules_whose_own_function_is_broken(pair):
    req, vol, usage, today, hidden = pair
    request, volunteer = parse(req, vol, hidden)
    offer = volunteer.offer(request.action_type)
    individual = [rules.check_action(request, volunteer), rules.check_request_open(request, usage)]
    if offer is not None:
        individual += [rules.check_audience(request, offer), rules.check_availability(request, offer),
                       rules.check_modality(request, offer), rules.check_distance(request, volunteer, offer),
                       rules.check_capacity(request, offer, usage), rules.check_weekly_cap(offer, usage, today)]
    broken = rules.check(request, volunteer, usage, today)
    assert sorted(broken, key=lambda b: b.rule) == sorted((b for b in individual if b), key=lambda b: b.rule)
    assert (broken == []) == all(b is None for b in individual)
    assert all(b.rule in rules.RULES and b.reason for b in broken)


@settings(SETTINGS, max_examples=600)
@given(pairs())
def test_an_accepted_pair_is_within_both_distance_limits_unless_remote(pair):
    req, vol, usage, today, hidden = pair
    request, volunteer = parse(req, vol, hidden)
    if rules.check(request, volunteer, usage, today):
        event("not eligible")
        return
    settings_ = (vol.get("actions") or {}).get(req["action_type"], {})  # none: the default, never remote
    if settings_.get("modality") == "remote":
        event("eligible, remote")
        return
    event("eligible, within reach")
    d = distance_km(Location(**req["location"]), Location(**vol["location"]))
    assert d <= req["max_distance_km"]
    assert d <= settings_.get("max_distance_km", vol["max_distance_km"])


@SETTINGS
@given(pairs(), st.integers(0, 50), st.integers(0, 60), st.integers(0, 20),
       st.sets(st.sampled_from(["0940585A", "94033", "94080", "0941301D"])),
       st.tuples(st.floats(0.01, 10), *[st.floats(0, 10)] * 5))
def test_rank_is_within_0_and_1(pair, received, answers, outstanding, priorities, weights):
    req, vol, _, _, hidden = pair
    request, volunteer = parse(req, vol, hidden)
    if volunteer.offer(request.action_type) is None:
        return
    distance = distance_km(request.location, volunteer.location)
    ranked = rank(request, volunteer, distance, VolunteerStats(received, answers, outstanding), priorities,
                  RankingWeights(*weights))
    assert 0.0 <= ranked.score <= 1.0
    assert all(isinstance(r, str) and r for r in ranked.reasons)
