"""The soft criteria of matching (docs/matching.md, "Ranking"), in plain Python (no I/O): among
the pairs the hard rules accept (rules.check), which come first, and why, in French.

`rank` gives a score in [0, 1] (higher is better): the weighted mean of six criteria, each in
[0, 1], with the weights of `RankingWeights` (MATCHING_WEIGHT_* variables):
- distance: 1 at 0 km, 0 at the pair's limit (the smaller of the request's and the offer's);
  a remote offer is neutral (0.5). Reason "à 1,2 km" or "à distance".
- rome: the share of the request's ROME codes the offer has; neutral (0.5) when the request asks
  for none. Reason "métier : Boulanger / Boulangère (D1102)" for each shared code.
- period: internships: the share of the weeks of the request's period and of the week before
  and after it that the offer lists (an offer free every week: 1), so an offer that is free
  around the period too comes first; job fair: 1 when the offer lists the date, 0.5 when it
  comes on request; other actions (no calendar on the pledge): 0.5. Reason "disponible semaine
  2027-W05" (weeks the offer lists) or "disponible le 18/03/2027".
- reactivity: answers given / proposals received, with a prior of 1/2 weighing 2 proposals:
  (answers + 1) / (received + 2). Reason "répond à 80 % des propositions" from 3 proposals on.
- load: 1 - outstanding / capacity (the offer's placements, else its weekly contact cap), so
  that not every pupil goes to the same nearest company. No reason.
- priority: 1 when the request's school (UAI) or town (INSEE code) is among the territory's
  priorities, else 0. Reason "établissement prioritaire" or "commune prioritaire".
Reasons come in that order. Deterministic; ties are the caller's (sort by (-score, volunteer id)).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Collection, Mapping

from vitawin_matching.domain import INTERNSHIP, JOB_FAIR, REMOTE, ActionOffer, Request, Volunteer
from vitawin_matching.rules import km

__all__ = ["RankingWeights", "VolunteerStats", "Ranked", "rank", "score", "NEUTRAL", "MIN_PROPOSALS_FOR_RATE"]

NEUTRAL = 0.5
MIN_PROPOSALS_FOR_RATE = 3  # the answer rate is shown from this many proposals received
PRIOR_RATE, PRIOR_WEIGHT = 0.5, 2


@dataclass(frozen=True)
class RankingWeights:
    """Weight of each criterion (non-negative, not all zero; only their ratios matter). Each can
    be set with MATCHING_WEIGHT_<NAME> (MATCHING_WEIGHT_DISTANCE, ..._ROME, ..._PERIOD,
    ..._REACTIVITY, ..._LOAD, ..._PRIORITY); none is required."""
    distance: float = 0.30
    rome: float = 0.20
    period: float = 0.10
    reactivity: float = 0.15
    load: float = 0.15
    priority: float = 0.10

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"ranking weight {f.name} must be a finite number >= 0, not {value!r}")
        if self.total == 0:
            raise ValueError("at least one ranking weight must be above 0")

    @property
    def total(self) -> float:
        return sum(getattr(self, f.name) for f in fields(self))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "RankingWeights":
        values = {}
        for f in fields(cls):
            name = "MATCHING_WEIGHT_" + f.name.upper()
            text = environ.get(name)
            if text is None or not text.strip():
                continue
            try:
                values[f.name] = float(text)
            except ValueError:
                raise ValueError(f"{name} must be a number, not {text!r}") from None
        return cls(**values)


@dataclass(frozen=True)
class VolunteerStats:
    """What the ranking knows of a volunteer's past, for the request's action type:
    proposals received, answers given (accepted or declined, by the volunteer), and outstanding
    proposals (pending or accepted: the load)."""
    proposals_received: int = 0
    answers: int = 0
    outstanding: int = 0


@dataclass(frozen=True)
class Ranked:
    score: float  # in [0, 1], higher is better
    reasons: tuple[str, ...]  # French, for the people who get the proposal


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def _distance(request: Request, volunteer: Volunteer, offer: ActionOffer, distance_km: float):
    if offer.modality == REMOTE:
        return NEUTRAL, ["à distance"]
    limit = min(request.max_distance_km, offer.limit_km(volunteer))
    value = _clamp(1 - distance_km / limit) if limit > 0 else 0.0
    return value, ["à moins de 0,1 km" if distance_km < 0.05 else f"à {km(distance_km)}"]


def _rome(request: Request, offer: ActionOffer):
    if not request.rome_codes:
        return NEUTRAL, []
    shared = [code for code in request.rome_codes if code in offer.rome_codes]
    reasons = []
    for code in shared:
        label = request.rome_label(code) or offer.rome_label(code)
        reasons.append(f"métier : {label} ({code})" if label else f"métier : {code}")
    return len(shared) / len(request.rome_codes), reasons


def _week_shift(week: str, days: int) -> str | None:
    """The ISO week `days` days from `week`'s Monday; None for a week that does not exist."""
    try:
        year, number = int(week[:4]), int(week[6:])
        monday = date.fromisocalendar(year, number, 1) + timedelta(days=days)
    except ValueError:
        return None
    iso = monday.isocalendar()
    return f"{iso[0]:04d}-W{iso[1]:02d}"


def _period(request: Request, offer: ActionOffer):
    if request.action_type == INTERNSHIP and request.period:
        if not offer.periods:
            return 1.0, []
        listed = [week for week in request.period if week in offer.periods]
        around = [w for w in (_week_shift(request.period[0], -7), _week_shift(request.period[-1], 7)) if w]
        window = len(request.period) + len(around)
        value = (len(listed) + sum(1 for w in around if w in offer.periods)) / window
        reasons = [("disponible semaine " if len(listed) == 1 else "disponible semaines ") + ", ".join(listed)] \
            if listed else []
        return value, reasons
    if request.action_type == JOB_FAIR and request.date is not None:
        if request.date in offer.dates:
            return 1.0, [f"disponible le {request.date:%d/%m/%Y}"]
        return NEUTRAL, []
    return NEUTRAL, []


def _reactivity(stats: VolunteerStats):
    received, answers = max(0, stats.proposals_received), max(0, min(stats.answers, stats.proposals_received))
    value = (answers + PRIOR_RATE * PRIOR_WEIGHT) / (received + PRIOR_WEIGHT)
    reasons = [f"répond à {round(100 * answers / received)} % des propositions"] \
        if received >= MIN_PROPOSALS_FOR_RATE else []
    return value, reasons


def _load(offer: ActionOffer, stats: VolunteerStats):
    capacity = offer.capacity or offer.weekly_contact_cap
    return _clamp(1 - max(0, stats.outstanding) / capacity), []


def _priority(request: Request, priorities: Collection[str]):
    if request.school_uai is not None and request.school_uai in priorities:
        return 1.0, ["établissement prioritaire"]
    if request.town in priorities:
        return 1.0, ["commune prioritaire"]
    return 0.0, []


def rank(request: Request, volunteer: Volunteer, distance_km: float, stats: VolunteerStats,
         priorities: Collection[str] = frozenset(), weights: RankingWeights = RankingWeights()) -> Ranked:
    """Score and French reasons of a pair (the volunteer's offer for the request's action type;
    ValueError when it is not pledged). `distance_km`: between the two places; `priorities`: the
    territory's priority school UAIs and/or town INSEE codes."""
    offer = volunteer.offer(request.action_type)
    if offer is None:
        raise ValueError(f"volunteer {volunteer.volunteer_id} has not pledged {request.action_type}")
    parts = (("distance", _distance(request, volunteer, offer, distance_km)),
             ("rome", _rome(request, offer)),
             ("period", _period(request, offer)),
             ("reactivity", _reactivity(stats)),
             ("load", _load(offer, stats)),
             ("priority", _priority(request, priorities)))
    total = sum(getattr(weights, name) * value for name, (value, _) in parts)
    reasons = tuple(reason for _, (_, texts) in parts for reason in texts)
    return Ranked(_clamp(total / weights.total), reasons)


score = rank  # the name docs/matching.md gives it
