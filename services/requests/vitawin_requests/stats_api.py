"""/api/v1/requests/stats: the requests service's counts for the territory's dashboard (the web
app's /tableau-de-bord): requests per town, action type, requester, month and status; initiatives
per town, kind and month. Counts only: nothing a request says, no id, no name.

Territory managers only: 401 when anonymous, 403 for any other role (vitawin_common.identity),
checked before the query string (422 in French: months "AAAA-MM", `to` not before `from`, an INSEE
code). The counting is `vitawin_requests.stats`, over the documents of the period and town the
repositories give (one pass over each collection, fields projected by MongoDB)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from vitawin_common import identity
from vitawin_common.period_schemas import MonthTownQuerySchema, PeriodSchema

from vitawin_requests.domain import STATUSES
from vitawin_requests.fieldtypes import choices, deps
from vitawin_requests.initiatives.rules import KINDS as INITIATIVE_KINDS
from vitawin_requests.initiatives.rules import STATUSES as INITIATIVE_STATUSES
from vitawin_requests.kinds import ACTION_TYPES, REQUESTER_KINDS
from vitawin_requests.stats import INITIATIVE_FIELDS, REQUEST_FIELDS, initiative_counts, request_counts

MONTH_DOC = {"description": "Mois de la création (AAAA-MM, heure de Paris)", "example": "2026-09"}


class RequestRowSchema(Schema):
    town = fields.String(metadata={"description": "Code INSEE de la commune de la demande (celle de "
                                                  "l'établissement, ou celle choisie par l'élève)"})
    action_type = fields.String(metadata={"description": f"Type d'action : {choices(ACTION_TYPES)}"})
    requester_kind = fields.String(metadata={"description": f"Auteur : {choices(REQUESTER_KINDS)}"})
    month = fields.String(metadata=MONTH_DOC)
    status = fields.String(metadata={"description": f"État de la demande aujourd'hui : {choices(STATUSES)}"})
    count = fields.Integer(metadata={"description": "Nombre de demandes"})


class RequestCountsSchema(Schema):
    total = fields.Integer(metadata={"description": "Demandes déposées dans la période (masquées comprises)"})
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": f"Demandes par état : {choices(STATUSES)}"})
    rows = fields.List(fields.Nested(RequestRowSchema), metadata={
        "description": "Un nombre par commune, type d'action, auteur, mois et état (combinaisons non nulles)"})


class InitiativeRowSchema(Schema):
    town = fields.String(metadata={"description": "Code INSEE de la commune de l'initiative"})
    kind = fields.String(metadata={"description": f"Type : {choices(INITIATIVE_KINDS)}"})
    month = fields.String(metadata={"description": "Mois de la publication (AAAA-MM, heure de Paris)",
                                    "example": "2026-09"})
    count = fields.Integer(metadata={"description": "Nombre d'initiatives"})


class InitiativeCountsSchema(Schema):
    total = fields.Integer(metadata={"description": "Initiatives publiées dans la période (masquées comprises)"})
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": f"Initiatives par état : {choices(INITIATIVE_STATUSES)}"})
    rows = fields.List(fields.Nested(InitiativeRowSchema), metadata={
        "description": "Un nombre par commune, type et mois (combinaisons non nulles)"})


class RequestStatsSchema(Schema):
    period = fields.Nested(PeriodSchema)
    town = fields.String(allow_none=True, metadata={"description": "La commune demandée (null : tout le territoire)"})
    requests = fields.Nested(RequestCountsSchema)
    initiatives = fields.Nested(InitiativeCountsSchema)


stats_blp = Blueprint("requests_stats", __name__, url_prefix="/api/v1/requests",
                      description="Tableau de bord du territoire : les demandes et les initiatives en chiffres "
                                  "(gestionnaires de territoire)")


@stats_blp.route("/stats")
class RequestStats(MethodView):
    @identity.roles_required("territory_manager")
    @stats_blp.arguments(MonthTownQuerySchema, location="query")
    @stats_blp.response(200, RequestStatsSchema)
    @stats_blp.alt_response(401, description="Connexion requise")
    @stats_blp.alt_response(403, description="Réservé aux gestionnaires de territoire")
    @stats_blp.alt_response(422, description="Mois (AAAA-MM) ou code INSEE invalide, ou fin avant le début")
    def get(self, query):
        """Chiffres du territoire : demandes et initiatives, par commune et par mois

        Réservé aux gestionnaires de territoire. Des nombres seulement : ni contenu, ni
        identifiant, ni nom (la demande d'un élève est comptée, jamais montrée). Les demandes sont
        comptées au mois de leur dépôt (heure de Paris), par commune, type d'action, auteur
        (établissement ou élève) et état actuel ; les initiatives au mois de leur publication, par
        commune et par type. Les demandes et initiatives masquées par la modération comptent.
        `from` et `to` (AAAA-MM, inclus) bornent la période ; `town` la limite à une commune."""
        period, town = query["period"], query.get("town")
        uow = deps().uow_factory()
        requests, request_months = request_counts(uow.requests.for_stats(period, town, REQUEST_FIELDS))
        initiatives, initiative_months = initiative_counts(uow.initiatives.for_stats(period, town, INITIATIVE_FIELDS))
        return {"period": {"first": period.first, "last": period.last,
                           "months": period.axis(request_months | initiative_months)},
                "town": town, "requests": requests, "initiatives": initiatives}
