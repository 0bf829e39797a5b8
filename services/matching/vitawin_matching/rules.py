"""The hard rules of matching (docs/matching.md, "Hard rules"), one function each, in plain Python
(no I/O). A proposal never breaks any of them.

Each rule returns None when it holds, or a `Broken` naming the rule (a short English code, for
logs and metrics) and saying why in French (for the people who ask why nobody was proposed).
`check` applies them all to a request and a volunteer's offer for the request's action type.

Rules 6 to 8 (capacity, weekly cap, request open) read counters the caller takes from MongoDB
(`Usage`); the same conditions are checked again inside the transaction that creates the
proposal, so what `check` says with slightly stale counters never breaks them.

Where docs/matching.md is silent, these functions decide as follows:
- A request from fr.vitawin.request.created.v1 lacks what v2 carries. Missing data never makes a
  restriction of the offer hold: no audience asks for an offer open to all; no level, no period,
  no date, no diploma only fit offers that do not restrict them. An internship request without
  a period counts the volunteer's accepted placements in total against capacity_per_period.
- A request without `kind` (v1) takes the kind its requester and action type imply
  (`kind_of`); when none does (mentoring, which no v2 kind asks for), every modality is accepted.
- The level rule of internships takes the request's `level`, else every one of its `levels`.
- The weekly cap counts the proposals of `today`'s ISO week only (`Usage.proposed_by_week`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Mapping

from vitawin_common.territory import distance_km

from vitawin_matching.domain import (ALL, APPRENTICESHIP, DEFAULT_EXTRA_PROPOSALS, IN_CLASS, INTERNSHIP,
                                     INTERVENTION, JOB_FAIR, MENTORING, ON_SITE, PAUSED, REMOTE,
                                     TESTIMONY, WITHDRAWN, ActionOffer, Request, Volunteer)

__all__ = ["Broken", "Usage", "RULES", "km", "MODALITIES_BY_KIND", "KIND_BY_REQUESTER_AND_ACTION", "kind_of",
           "iso_week", "distance_km", "pair_distance_km", "check_action", "check_audience",
           "check_availability", "check_modality", "check_distance", "check_capacity",
           "check_weekly_cap", "check_request_open", "check"]

RULES = ("action", "audience", "availability", "modality", "distance", "capacity", "weekly_cap",
         "request_open")

# The modalities each kind of request accepts (docs/matching.md, rule 4).
MODALITIES_BY_KIND: Mapping[str, frozenset[str]] = {
    "class_testimony": frozenset({IN_CLASS, REMOTE}),
    "class_intervention": frozenset({IN_CLASS, REMOTE}),
    "job_fair": frozenset({IN_CLASS}),
    "internship_hosting": frozenset({ON_SITE}),
    "discovery_internship": frozenset({ON_SITE}),
    "apprenticeship_search": frozenset({ON_SITE}),
    "job_information": frozenset({REMOTE, ON_SITE, IN_CLASS}),
}
ANY_MODALITY = frozenset({ON_SITE, IN_CLASS, REMOTE})
# The v2 kind each (requester, action type) pair stands for (contracts: request.created.v2 allOf),
# to judge a v1 request, which has no kind.
KIND_BY_REQUESTER_AND_ACTION: Mapping[tuple[str, str], str] = {
    ("school", TESTIMONY): "class_testimony",
    ("school", INTERVENTION): "class_intervention",
    ("school", JOB_FAIR): "job_fair",
    ("school", INTERNSHIP): "internship_hosting",
    ("pupil", TESTIMONY): "job_information",
    ("pupil", INTERNSHIP): "discovery_internship",
    ("pupil", APPRENTICESHIP): "apprenticeship_search",
}

ACTION_NAMES = {TESTIMONY: "témoignage métier", INTERVENTION: "intervention en classe",
                INTERNSHIP: "accueil de stagiaires", APPRENTICESHIP: "alternance", MENTORING: "mentorat",
                JOB_FAIR: "forum des métiers"}
AUDIENCE_NAMES = {"college": "collégiens", "lycee": "lycéens", ALL: "collégiens et lycéens"}
UNITS = {INTERNSHIP: ("stagiaire", "stagiaires"), APPRENTICESHIP: ("place d'alternance", "places d'alternance"),
         MENTORING: ("mentoré", "mentorés")}
MODALITY_NAMES = {ON_SITE: "sur le lieu de travail", IN_CLASS: "dans l'établissement", REMOTE: "à distance"}


@dataclass(frozen=True)
class Broken:
    """A hard rule a pair breaks: `rule` is one of RULES, `reason` says why in French."""
    rule: str
    reason: str


@dataclass(frozen=True)
class Usage:
    """The counters rules 6 to 8 read, for one request and one volunteer's offer of the request's
    action type (filled by the caller from MongoDB):
    - accepted_by_week: internship: accepted placements of the volunteer in each ISO week;
    - accepted_total: apprenticeship, mentoring: accepted placements for the action (mentoring:
      the mentees followed now); internship: every accepted placement (only read for a request
      without a period);
    - proposed_by_week: proposals made to the volunteer for this action, per ISO week (only the
      week of `today` is read: the caller may give that week alone);
    - request_outstanding: the request's pending and accepted proposals."""
    accepted_by_week: Mapping[str, int] = field(default_factory=dict, hash=False)
    accepted_total: int = 0
    proposed_by_week: Mapping[str, int] = field(default_factory=dict, hash=False)
    request_outstanding: int = 0

    def proposed_in_week_of(self, day: date) -> int:
        return self.proposed_by_week.get(iso_week(day), 0)


def iso_week(day: date) -> str:
    """The ISO 8601 week of a day, as the contracts write it: "2027-W05"."""
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def kind_of(request: Request) -> str | None:
    """The request's kind; for a v1 request, the kind its requester and action type imply."""
    return request.kind or KIND_BY_REQUESTER_AND_ACTION.get((request.requester_kind, request.action_type))


def pair_distance_km(request: Request, volunteer: Volunteer) -> float:
    """Great-circle distance between the request's place and the volunteer's."""
    return distance_km(request.location, volunteer.location)


def km(value: float, digits: int = 1) -> str:
    """French notation: "1,2 km", "10 km"."""
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",") + " km"


def _weeks(weeks) -> str:
    weeks = list(weeks)
    return ("semaine " if len(weeks) == 1 else "semaines ") + ", ".join(weeks)


# --- the rules ---------------------------------------------------------------------------------
def check_action(request: Request, volunteer: Volunteer) -> Broken | None:
    """1. The request's action type is pledged, and the pledge is active."""
    if request.action_type not in volunteer.action_types:
        name = ACTION_NAMES.get(request.action_type, request.action_type)
        return Broken("action", f"ne propose pas l'action « {name} »")
    if volunteer.status == PAUSED:
        return Broken("action", "engagement en pause")
    if volunteer.status == WITHDRAWN:
        return Broken("action", "engagement retiré")
    if not volunteer.is_candidate:
        return Broken("action", "engagement inactif")
    return None


def check_audience(request: Request, offer: ActionOffer) -> Broken | None:
    """2. The offer is open to all, or to the request's audience (a request for all, or without
    an audience, needs an offer open to all); internships: the request's level is taken."""
    audience = request.audience or ALL
    if offer.audience != ALL and offer.audience != audience:
        return Broken("audience", f"ouvert aux {AUDIENCE_NAMES.get(offer.audience, offer.audience)} seulement, "
                                  f"la demande concerne des {AUDIENCE_NAMES.get(audience, audience)}")
    if request.action_type == INTERNSHIP and offer.levels:
        asked = (request.level,) if request.level else request.levels
        if not asked:
            return Broken("audience", "niveau de la demande inconnu, l'offre n'accueille que certains niveaux")
        refused = [level for level in asked if level not in offer.levels]
        if refused:
            return Broken("audience", f"n'accueille pas le niveau {', '.join(refused)} "
                                      f"(niveaux accueillis : {', '.join(offer.levels)})")
    return None


def check_availability(request: Request, offer: ActionOffer) -> Broken | None:
    """3. Internship: every week of the request's period is in the offer's periods (none: any
    week). Job fair: the request's date is one of the offer's dates, or the offer is on request.
    Apprenticeship: the request's diploma is one of the offer's (none: any). Others: no calendar."""
    if request.action_type == INTERNSHIP and offer.periods:
        if not request.period:
            return Broken("availability", "période de la demande inconnue, l'offre n'accueille que certaines semaines")
        missing = [week for week in request.period if week not in offer.periods]
        if missing:
            return Broken("availability", f"pas disponible {_weeks(missing)}")
    elif request.action_type == JOB_FAIR and not offer.on_request:
        if request.date is None:
            return Broken("availability", "date de la demande inconnue, l'offre ne vaut que pour certaines dates")
        if request.date not in offer.dates:
            return Broken("availability", f"pas disponible le {request.date:%d/%m/%Y}")
    elif request.action_type == APPRENTICESHIP and offer.diplomas:
        if request.diploma is None:
            return Broken("availability", "diplôme de la demande inconnu, l'offre ne vaut que pour certains diplômes")
        if request.diploma not in offer.diplomas:
            return Broken("availability", f"ne prépare pas au diplôme {request.diploma} "
                                          f"(diplômes proposés : {', '.join(offer.diplomas)})")
    return None


def check_modality(request: Request, offer: ActionOffer) -> Broken | None:
    """4. The offer's modality is one the request's kind accepts."""
    accepted = MODALITIES_BY_KIND.get(kind_of(request), ANY_MODALITY)
    if offer.modality not in accepted:
        wanted = " ou ".join(MODALITY_NAMES[m] for m in (IN_CLASS, ON_SITE, REMOTE) if m in accepted)
        return Broken("modality", f"propose l'action {MODALITY_NAMES.get(offer.modality, offer.modality)}, "
                                  f"la demande l'attend {wanted}")
    return None


def check_distance(request: Request, volunteer: Volunteer, offer: ActionOffer,
                   distance: float | None = None) -> Broken | None:
    """5. Unless the offer is remote, the distance is at most the request's limit and the
    offer's (its own, else the pledge's). `distance` (km) when the caller has it already."""
    if offer.modality == REMOTE:
        return None
    if distance is None:
        distance = pair_distance_km(request, volunteer)
    limit = min(request.max_distance_km, offer.limit_km(volunteer))
    if distance > limit:
        digits = 1
        while digits < 6 and km(distance, digits) == km(limit, digits):  # never "à 10 km, au-delà de 10 km"
            digits += 1
        return Broken("distance", f"à {km(distance, digits)}, au-delà de la limite de {km(limit, digits)}")
    return None


def check_capacity(request: Request, offer: ActionOffer, usage: Usage) -> Broken | None:
    """6. Internship: in each week of the period, accepted placements below capacity_per_period.
    Apprenticeship: accepted below places. Mentoring: accepted below mentees. Other actions take
    no placement."""
    capacity = offer.capacity
    if capacity is None:
        return None
    units = UNITS[offer.action_type][0 if capacity == 1 else 1]
    if offer.action_type == INTERNSHIP and request.period:
        full = [week for week in request.period if usage.accepted_by_week.get(week, 0) >= capacity]
        if full:
            return Broken("capacity", f"complet {_weeks(full)} ({capacity} {units} au plus par semaine)")
        return None
    if usage.accepted_total >= capacity:
        return Broken("capacity", f"complet ({usage.accepted_total} sur {capacity} {units})")
    return None


def check_weekly_cap(offer: ActionOffer, usage: Usage, today: date) -> Broken | None:
    """7. Proposals made to the volunteer for this action in today's ISO week are below the
    offer's weekly contact cap."""
    made = usage.proposed_in_week_of(today)
    if made >= offer.weekly_contact_cap:
        return Broken("weekly_cap", f"déjà {made} proposition{'s' if made > 1 else ''} cette semaine "
                                    f"({offer.weekly_contact_cap} au plus)")
    return None


def check_request_open(request: Request, usage: Usage, extra: int = DEFAULT_EXTRA_PROPOSALS) -> Broken | None:
    """8. The request is open or partly matched, not hidden, and its outstanding proposals are
    below its slots."""
    if not request.is_open:
        return Broken("request_open", "demande close")
    if request.hidden:
        return Broken("request_open", "demande masquée par la modération")
    slots = request.slots(extra)
    if usage.request_outstanding >= slots:
        return Broken("request_open", f"la demande a déjà ses {slots} propositions en cours")
    return None


def check(request: Request, volunteer: Volunteer, usage: Usage, today: date, *,
          extra: int = DEFAULT_EXTRA_PROPOSALS, distance: float | None = None) -> list[Broken]:
    """Every hard rule the pair breaks, in the order of RULES; empty: the volunteer may be
    proposed. When the action type is not pledged, there is no offer to judge: only the action
    rule (and the request's) is reported."""
    broken = [check_action(request, volunteer)]
    offer = volunteer.offer(request.action_type)
    if offer is not None:
        broken += [check_audience(request, offer), check_availability(request, offer),
                   check_modality(request, offer), check_distance(request, volunteer, offer, distance),
                   check_capacity(request, offer, usage), check_weekly_cap(offer, usage, today)]
    broken.append(check_request_open(request, usage, extra))
    return [b for b in broken if b is not None]
