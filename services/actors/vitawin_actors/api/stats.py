"""/api/v1/actors/stats: the actors service's counts for the territory's dashboard (the web app's
/tableau-de-bord): actors registered per kind, town and month; organisations per sector (NAF
section); pledges per town, action type, month and status. Counts only: no name, no id, no contact.

Territory managers only: 401 when anonymous, 403 for any other role (vitawin_common.identity),
checked before the query string (422 in French: months "AAAA-MM", `to` not before `from`, an INSEE
code). The counting is `vitawin_actors.domain.stats`, over the documents of the period and town
the repositories give (one pass over each collection, fields projected by MongoDB)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from vitawin_common import identity
from vitawin_common.period_schemas import MonthTownQuerySchema, PeriodSchema

from vitawin_actors.api.fields import ACTION_CHOICES, _choices, _deps
from vitawin_actors.domain import ACTOR_KINDS, STATUSES
from vitawin_actors.domain.sectors import NAF_SECTIONS, UNKNOWN_SECTION, UNKNOWN_SECTION_LABEL
from vitawin_actors.domain.stats import ACTOR_FIELDS, PLEDGE_FIELDS, actor_counts, pledge_counts

MONTH_EXAMPLE = "2026-09"
SECTIONS = ", ".join(f"{letter} ({label})" for letter, (label, _, _) in NAF_SECTIONS.items())


class ActorRowSchema(Schema):
    kind = fields.String(metadata={"description": f"Type d'acteur : {_choices(ACTOR_KINDS)}"})
    town = fields.String(allow_none=True, metadata={
        "description": "Code INSEE de la commune (null pour un gestionnaire de territoire, qui n'en a pas)"})
    month = fields.String(metadata={"description": "Mois de l'inscription (AAAA-MM, heure de Paris)",
                                    "example": MONTH_EXAMPLE})
    count = fields.Integer(metadata={"description": "Nombre d'acteurs inscrits"})


class ActorCountsSchema(Schema):
    total = fields.Integer(metadata={"description": "Acteurs inscrits dans la période (hors acteurs effacés)"})
    rows = fields.List(fields.Nested(ActorRowSchema), metadata={
        "description": "Un nombre par type d'acteur, commune et mois (seulement les combinaisons non nulles)"})


class SectorRowSchema(Schema):
    section = fields.String(metadata={
        "description": f"Section de la NAF rév. 2 (INSEE), d'après les deux premiers chiffres du code NAF : "
                       f"{SECTIONS} ; « {UNKNOWN_SECTION} » ({UNKNOWN_SECTION_LABEL}) pour un code absent ou "
                       f"inconnu", "example": "I"})
    label = fields.String(metadata={"description": "Libellé de la section", "example": "Hébergement et restauration"})
    count = fields.Integer(metadata={"description": "Nombre d'organisations"})


class SectorCountsSchema(Schema):
    total = fields.Integer(metadata={"description": "Organisations inscrites dans la période (entreprises, "
                                                    "artisans, collectivités, associations, établissements publics, "
                                                    "organisations partenaires)"})
    rows = fields.List(fields.Nested(SectorRowSchema), metadata={"description": "Par section, de A à U"})


class PledgeRowSchema(Schema):
    town = fields.String(allow_none=True, metadata={"description": "Code INSEE de la commune du professionnel"})
    action_type = fields.String(metadata={"description": f"Type d'action : {ACTION_CHOICES}"})
    month = fields.String(metadata={"description": "Mois de l'engagement (AAAA-MM, heure de Paris)",
                                    "example": MONTH_EXAMPLE})
    status = fields.String(metadata={"description": f"État de l'engagement aujourd'hui : {_choices(STATUSES)}"})
    count = fields.Integer(metadata={"description": "Nombre d'engagements qui proposent ce type d'action"})


class TownCountSchema(Schema):
    town = fields.String(allow_none=True, metadata={"description": "Code INSEE de la commune"})
    count = fields.Integer()


class MonthCountSchema(Schema):
    month = fields.String(metadata={"description": "Mois (AAAA-MM, heure de Paris)", "example": MONTH_EXAMPLE})
    count = fields.Integer()


class PledgeCountsSchema(Schema):
    total = fields.Integer(metadata={"description": "Engagements pris dans la période, chacun compté une fois"})
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": f"Engagements par état : {_choices(STATUSES)}",
        "example": {"active": 12, "paused": 1, "withdrawn": 2}})
    by_town = fields.List(fields.Nested(TownCountSchema), metadata={
        "description": "Engagements par commune, chacun compté une fois"})
    by_month = fields.List(fields.Nested(MonthCountSchema), metadata={
        "description": "Engagements par mois, chacun compté une fois"})
    rows = fields.List(fields.Nested(PledgeRowSchema), metadata={
        "description": "Un nombre par commune, type d'action, mois et état ; un engagement qui propose plusieurs "
                       "types d'action compte dans chacun"})


class ActorStatsSchema(Schema):
    period = fields.Nested(PeriodSchema)
    town = fields.String(allow_none=True, metadata={"description": "La commune demandée (null : tout le territoire)"})
    actors = fields.Nested(ActorCountsSchema)
    sectors = fields.Nested(SectorCountsSchema)
    pledges = fields.Nested(PledgeCountsSchema)


stats_blp = Blueprint("actors_stats", __name__, url_prefix="/api/v1/actors",
                      description="Tableau de bord du territoire : les acteurs et les engagements en chiffres "
                                  "(gestionnaires de territoire)")


@stats_blp.route("/stats")
class ActorStats(MethodView):
    @identity.roles_required("territory_manager")
    @stats_blp.arguments(MonthTownQuerySchema, location="query")
    @stats_blp.response(200, ActorStatsSchema)
    @stats_blp.alt_response(401, description="Connexion requise")
    @stats_blp.alt_response(403, description="Réservé aux gestionnaires de territoire")
    @stats_blp.alt_response(422, description="Mois (AAAA-MM) ou code INSEE invalide, ou fin avant le début")
    def get(self, query):
        """Chiffres du territoire : acteurs, secteurs et engagements, par commune et par mois

        Réservé aux gestionnaires de territoire. Des nombres seulement : ni nom, ni identifiant,
        ni contact. Les acteurs sont comptés au mois de leur inscription (heure de Paris), par
        type et par commune (un acteur effacé ne compte plus) ; les organisations par section de
        la NAF rév. 2 (source : INSEE) ; les engagements au mois où ils ont été pris, par
        commune, type d'action et état actuel (actif, en pause, retiré). `from` et `to`
        (AAAA-MM, inclus) bornent la période ; `town` la limite à une commune."""
        period, town = query["period"], query.get("town")
        uow = _deps().uow_factory()
        actors, sectors, actor_months = actor_counts(uow.actors.for_stats(period, town, ACTOR_FIELDS))
        pledges, pledge_months = pledge_counts(uow.volunteers.for_stats(period, town, PLEDGE_FIELDS))
        return {"period": {"first": period.first, "last": period.last,
                           "months": period.axis(actor_months | pledge_months)},
                "town": town, "actors": actors, "sectors": sectors, "pledges": pledges}
