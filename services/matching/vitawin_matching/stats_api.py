"""/api/v1/proposals/stats: matching's counts for the territory's dashboard (the web app's
/tableau-de-bord): proposals per town, action type, month and status, and how they were answered
(answer rate, acceptance rate, median time to answer), for the territory and per town. Counts
only: no id, no name.

Territory managers only: 401 when anonymous, 403 for any other role (vitawin_common.identity),
checked before the query string (422 in French: months "AAAA-MM", `to` not before `from`, an INSEE
code). The counting is `vitawin_matching.stats`; its source (`ProposalStatsSource`, the Mongo one
is adapters.MongoProposalStats) is app.extensions["vitawin_matching"]["stats"], made on first use
in the gunicorn worker when the app was not given one."""
from __future__ import annotations

from typing import Iterable, Protocol

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from vitawin_common import identity
from vitawin_common.period_schemas import MonthTownQuerySchema, PeriodSchema, town_field
from vitawin_common.periods import MonthPeriod

from vitawin_matching import bootstrap
from vitawin_matching.stats import PROPOSAL_FIELDS, proposal_counts
from vitawin_matching.workflow import STATUSES

ACTION_TYPES = ("testimony (témoignage métier), intervention (intervention en classe), internship (stage), "
                "apprenticeship (alternance), mentoring (mentorat), job_fair (forum des métiers)")
STATUS_CHOICES = ", ".join(f"{code} ({label})" for code, label in STATUSES.items())


class ProposalStatsSource(Protocol):
    def proposals_in(self, period: MonthPeriod, fields: Iterable[str]) -> Iterable[dict]: ...
    def request_towns(self, town: str | None = None) -> dict[str, str | None]: ...


class StatsQuerySchema(MonthTownQuerySchema):
    town = town_field("Code INSEE d'une commune : seulement les propositions faites pour ses demandes")


class ProposalRowSchema(Schema):
    town = fields.String(allow_none=True, metadata={
        "description": "Code INSEE de la commune de la demande (null si matching ne la connaît pas)"})
    action_type = fields.String(metadata={"description": f"Type d'action : {ACTION_TYPES}"})
    month = fields.String(metadata={"description": "Mois de la proposition (AAAA-MM, heure de Paris)",
                                    "example": "2026-09"})
    status = fields.String(metadata={"description": f"État de la proposition aujourd'hui : {STATUS_CHOICES}"})
    count = fields.Integer(metadata={"description": "Nombre de propositions"})


class RatesSchema(Schema):
    proposed = fields.Integer(metadata={"description": "Propositions faites"})
    answered = fields.Integer(metadata={"description": "Propositions qui ont reçu une réponse, oui ou non "
                                                       "(acceptées, en attente de confirmation, refusées)"})
    accepted = fields.Integer(metadata={"description": "Propositions acceptées (mise en relation confirmée)"})
    answer_rate = fields.Float(allow_none=True, metadata={
        "description": "Taux de réponse : answered / proposed, de 0 à 1 (null sans proposition)", "example": 0.75})
    acceptance_rate = fields.Float(allow_none=True, metadata={
        "description": "Taux d'acceptation : accepted / answered, la part des réponses qui sont un oui, de 0 à 1 "
                       "(null sans réponse)", "example": 0.5})
    median_answer_hours = fields.Float(allow_none=True, metadata={
        "description": "Délai médian de réponse, en heures : de la proposition à la première réponse (celle du "
                       "professionnel, ou le refus de l'établissement s'il vient d'abord) ; null sans réponse",
        "example": 26.5})


class TownRatesSchema(RatesSchema):
    town = fields.String(allow_none=True, metadata={"description": "Code INSEE de la commune de la demande"})


class ProposalRatesSchema(RatesSchema):
    by_town = fields.List(fields.Nested(TownRatesSchema), metadata={"description": "Les mêmes chiffres par commune"})


class ProposalCountsSchema(Schema):
    total = fields.Integer(metadata={"description": "Propositions faites dans la période"})
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": f"Propositions par état : {STATUS_CHOICES}"})
    rows = fields.List(fields.Nested(ProposalRowSchema), metadata={
        "description": "Un nombre par commune, type d'action, mois et état (combinaisons non nulles)"})
    rates = fields.Nested(ProposalRatesSchema, metadata={"description": "Réponses, pour tout le territoire et "
                                                                         "par commune"})


class ProposalStatsSchema(Schema):
    period = fields.Nested(PeriodSchema)
    town = fields.String(allow_none=True, metadata={"description": "La commune demandée (null : tout le territoire)"})
    proposals = fields.Nested(ProposalCountsSchema)


stats_blp = Blueprint("proposals_stats", __name__, url_prefix="/api/v1/proposals",
                      description="Tableau de bord du territoire : les propositions et les réponses en chiffres "
                                  "(gestionnaires de territoire)")


def _source() -> ProposalStatsSource:
    deps = current_app.extensions["vitawin_matching"]
    if deps.get("stats") is None:  # made here, in the gunicorn worker, after the fork
        deps["stats"] = bootstrap.proposal_stats(bootstrap.settings())
    return deps["stats"]


@stats_blp.route("/stats")
class ProposalStats(MethodView):
    @identity.roles_required("territory_manager")
    @stats_blp.arguments(StatsQuerySchema, location="query")
    @stats_blp.response(200, ProposalStatsSchema)
    @stats_blp.alt_response(401, description="Connexion requise")
    @stats_blp.alt_response(403, description="Réservé aux gestionnaires de territoire")
    @stats_blp.alt_response(422, description="Mois (AAAA-MM) ou code INSEE invalide, ou fin avant le début")
    def get(self, query):
        """Chiffres du territoire : propositions, taux de réponse et d'acceptation, par commune et par mois

        Réservé aux gestionnaires de territoire. Des nombres seulement : ni identifiant, ni nom.
        Les propositions sont comptées au mois où elles ont été faites (heure de Paris), par
        commune de la demande, type d'action et état actuel. Taux de réponse : propositions qui
        ont reçu une réponse (oui ou non) sur propositions faites ; taux d'acceptation :
        propositions acceptées sur propositions qui ont reçu une réponse ; délai médian : de la
        proposition à la première réponse, en heures. `from` et `to` (AAAA-MM, inclus) bornent la
        période ; `town` la limite aux demandes d'une commune."""
        period, town = query["period"], query.get("town")
        source = _source()
        towns = source.request_towns(town)
        proposals, months = proposal_counts(source.proposals_in(period, PROPOSAL_FIELDS), towns, town)
        return {"period": {"first": period.first, "last": period.last, "months": period.axis(months)},
                "town": town, "proposals": proposals}
