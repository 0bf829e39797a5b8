"""The answers and queries of the requests API: a request as stored (what a caller may see of it,
moderation included), a page of them, the map, the cancellation body, and the list and map
filters. The bodies of moderation are in `moderation_api`."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from vitawin_requests.domain import CANCEL_REASON_LENGTH, STATUSES
from vitawin_requests.fieldtypes import (KIND_ERROR, LEVEL, BoundingBoxField, IsoWeek, RomeCodeQuery, choices,
                                         known_town, text_field)
from vitawin_requests.kinds import ACTION_TYPES, AROUND, AUDIENCES, KINDS, REQUESTER_KINDS
from vitawin_requests.moderation_api import ModeratedItemSchema, reported_field


class RequestLocationSchema(Schema):
    lat = fields.Float(metadata={"description": "Latitude (WGS 84)", "example": 48.8474})
    lon = fields.Float(metadata={"description": "Longitude (WGS 84)", "example": 2.4380})


class RequestRomeJobSchema(Schema):
    code = fields.String(metadata={"example": "D1102"})
    label = fields.String(metadata={"description": "Intitulé ROME, en français",
                                    "example": "Boulanger / Boulangère"})


class RequestSchema(ModeratedItemSchema):
    """A request as stored. Present or not according to its kind; `contact_email` only for the
    referents of the school and territory managers; `keywords` only to those who may read a pupil's
    request; `reports` and `report_count` only to its moderators (territory managers, referents of
    the school)."""
    request_id = fields.String(metadata={"example": "req-5f3a9c1000000000000000000000abcd"})
    kind = fields.String(metadata={
        "description": f"Type de demande : {choices({kind: rule.label for kind, rule in KINDS.items()})}"})
    requester_kind = fields.String(metadata={"description": f"Demandeur : {choices(REQUESTER_KINDS)}"})
    action_type = fields.String(metadata={"description": f"Action recherchée : {choices(ACTION_TYPES)}"})
    school_uai = fields.String(metadata={"description": "Code UAI de l'établissement", "example": "0940585A"})
    level = fields.String(metadata={"description": "Niveau (types de demande à un seul niveau)"})
    levels = fields.List(fields.String(), metadata={"description": "Niveaux concernés"})
    audience = fields.String(metadata={"description": f"Public : {choices(AUDIENCES)}"})
    town = fields.String(metadata={"description": "Code INSEE de la commune"})
    location = fields.Nested(RequestLocationSchema, metadata={
        "description": "Position : celle de l'établissement, ou le centre de la commune ; jamais un domicile"})
    date = fields.String(metadata={"description": "Jour (AAAA-MM-JJ)"})
    start_time = fields.String(metadata={"description": "Heure de début (HH:MM)"})
    end_time = fields.String(metadata={"description": "Heure de fin (HH:MM)"})
    period = fields.List(fields.String(), metadata={"description": "Semaines ISO de la période"})
    start = fields.String(metadata={"description": "Mois de début (AAAA-MM)"})
    topic = fields.String(metadata={"description": "Thème de l'intervention"})
    class_size = fields.Integer(metadata={"description": "Effectif de la classe"})
    pupils = fields.Integer(metadata={"description": "Places de stage recherchées"})
    diploma = fields.String(metadata={"description": "Diplôme préparé"})
    around = fields.String(metadata={"description": f"Autour de : {choices(AROUND)}"})
    keywords = fields.String(metadata={"description": "Mots-clés de l'élève (jamais publiés)"})
    rome_codes = fields.List(fields.String())
    rome_jobs = fields.List(fields.Nested(RequestRomeJobSchema), metadata={
        "description": "Les codes ROME avec leur intitulé en français"})
    professionals_wanted = fields.Integer(metadata={
        "description": "Propositions à accepter pour que la demande soit pourvue (pour des offres de stage : "
                       "une par place)"})
    accepted_count = fields.Integer(metadata={"description": "Propositions acceptées"})
    max_distance_km = fields.Float()
    contact_email = fields.String(metadata={"description": "Adresse e-mail du référent de l'établissement"})
    status = fields.String(metadata={"description": f"État : {choices(STATUSES)}"})
    version = fields.Integer(metadata={"description": "1 au dépôt, + 1 à chaque changement"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    expires_at = fields.DateTime(metadata={
        "description": "Expiration : fin du jour indiqué, lundi de la première semaine de la période, ou 90 "
                       "jours (information sur un métier) / 180 jours (alternance) après le dépôt"})
    cancelled_at = fields.DateTime()
    cancel_reason = fields.String()
    fulfilled_at = fields.DateTime()
    expired_at = fields.DateTime()


class CancelSchema(Schema):
    reason = text_field(CANCEL_REASON_LENGTH, "Raison de l'annulation (facultative)")


class RequestQuerySchema(Schema):
    kind = fields.List(fields.String(validate=validate.OneOf(KINDS, error=KIND_ERROR)), metadata={
        "description": "Types de demande (paramètre répétable : kind=job_fair&kind=class_testimony)"})
    town = fields.String(validate=known_town, metadata={"description": "Code INSEE de la commune"})
    level = fields.String(validate=LEVEL, metadata={"description": "Niveau concerné"})
    week = IsoWeek(metadata={"description": "Semaine ISO (« 2027-W03 ») : contenue dans la période, ou qui contient "
                                            "la date", "example": "2027-W03"})
    rome = RomeCodeQuery(metadata={"description": "Code ROME", "example": "D1102"})
    bbox = BoundingBoxField(metadata={"description": "Emprise min_lon,min_lat,max_lon,max_lat (degrés décimaux "
                                                     "WGS 84)", "example": "2.40,48.79,2.56,48.86"})


class RequestListQuerySchema(RequestQuerySchema):
    school_uai = fields.String(validate=validate.Regexp(r"^[0-9]{7}[A-Z]$", error=(
        "Code UAI invalide : 7 chiffres suivis d'une lettre majuscule (ex. 0940585A).")), metadata={
        "description": "Les demandes d'un établissement (code UAI) : pour son référent, celles de ses élèves "
                       "aussi", "example": "0940585A"})
    reported = reported_field("true : seulement les demandes signalées que l'appelant modère (toutes pour un "
                              "gestionnaire de territoire, celles de son établissement pour un référent) ; "
                              "filtre réservé à ces deux rôles")
    status = fields.String(validate=validate.OneOf(STATUSES, error=f"État inconnu ; valeurs possibles : "
                                                                   f"{', '.join(STATUSES)}."),
                           metadata={"description": f"État : {choices(STATUSES)}"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, error="Page 1 ou plus attendue."),
                          metadata={"description": "Page, à partir de 1"})
    page_size = fields.Integer(load_default=50, validate=validate.Range(1, 200, error="Entre 1 et 200 attendu."),
                               metadata={"description": "Demandes par page (200 au plus)"})


class RequestPageSchema(Schema):
    items = fields.List(fields.Nested(RequestSchema), metadata={"description": "Les plus récentes d'abord"})
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer(metadata={"description": "Nombre de demandes correspondant aux filtres, toutes pages"})


class RequestMapPointSchema(Schema):
    type = fields.String(metadata={"example": "Point"})
    coordinates = fields.List(fields.Float(), metadata={"description": "[longitude, latitude]"})


class RequestMapPropertiesSchema(Schema):
    request_id = fields.String()
    kind = fields.String()
    action_type = fields.String()
    town = fields.String(metadata={"description": "Code INSEE de la commune"})
    level = fields.String()
    levels = fields.List(fields.String())
    date = fields.String(metadata={"description": "Jour (AAAA-MM-JJ), pour une demande datée"})
    period = fields.List(fields.String(), metadata={"description": "Semaines ISO, pour une période de stage"})


class RequestMapFeatureSchema(Schema):
    type = fields.String(metadata={"example": "Feature"})
    id = fields.String()
    geometry = fields.Nested(RequestMapPointSchema)
    properties = fields.Nested(RequestMapPropertiesSchema)


class RequestMapSchema(Schema):
    type = fields.String(metadata={"example": "FeatureCollection"})
    features = fields.List(fields.Nested(RequestMapFeatureSchema))
