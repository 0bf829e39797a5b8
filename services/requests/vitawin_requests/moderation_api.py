"""What the requests and initiatives APIs share for moderation: the bodies of a hide and of a
report (French messages naming the field), the reports shown to moderators, and reading a JSON
body inside a view (after the checks of the caller and of the item, so that a body error never
tells more than a 401, 403 or 404 would)."""
from __future__ import annotations

from flask import request
from flask_smorest import abort
from marshmallow import Schema, ValidationError, fields, validate

from vitawin_requests.moderation import COMMENT_MAX, REASON_MAX, REASON_MIN, REPORT_CATEGORIES

CATEGORY_CHOICES = ", ".join(f"{code} ({label})" for code, label in REPORT_CATEGORIES.items())
REPORTED_ONLY_ROLES = ("territory_manager", "school_referent")


class _Text(fields.String):
    """A string without its surrounding blanks."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class HideSchema(Schema):
    reason = _Text(required=True, validate=validate.Length(REASON_MIN, REASON_MAX, error=(
        f"La raison doit compter entre {REASON_MIN} et {REASON_MAX} caractères.")),
        error_messages={"required": "Champ obligatoire : indiquez la raison du masquage."},
        metadata={"description": f"Raison du masquage ({REASON_MIN} à {REASON_MAX} caractères) : montrée à "
                                 "l'auteur et aux modérateurs",
                  "example": "Coordonnées personnelles dans la description."})


class ReportSchema(Schema):
    category = fields.String(required=True, validate=validate.OneOf(REPORT_CATEGORIES, error=(
        f"Catégorie inconnue ; valeurs possibles : {CATEGORY_CHOICES}.")),
        error_messages={"required": "Champ obligatoire : choisissez une catégorie de signalement."},
        metadata={"description": f"Catégorie du signalement : {CATEGORY_CHOICES}", "example": "personal_data"})
    comment = _Text(allow_none=True, validate=validate.Length(max=COMMENT_MAX, error=(
        f"Le commentaire doit compter au plus {COMMENT_MAX} caractères.")),
        metadata={"description": f"Commentaire facultatif ({COMMENT_MAX} caractères au plus) : lu par les "
                                 "modérateurs seulement, jamais publié dans un événement"})


class ReportReceiptSchema(Schema):
    """The report as it was received (never the count, never the other reports)."""
    category = fields.String(metadata={"description": f"Catégorie : {CATEGORY_CHOICES}"})
    comment = fields.String()
    at = fields.DateTime(metadata={"description": "Date du signalement"})


class ReportViewSchema(Schema):
    """A report as the moderators of the item see it: never the account that reported."""
    category = fields.String(metadata={"description": f"Catégorie : {CATEGORY_CHOICES}"})
    comment = fields.String(metadata={"description": "Commentaire de la personne qui a signalé"})
    reporter_role = fields.String(allow_none=True, metadata={
        "description": "Rôle de la personne qui a signalé (null si elle n'était pas connectée)"})
    anonymous = fields.Boolean(metadata={"description": "Signalement fait sans être connecté"})
    at = fields.DateTime(metadata={"description": "Date du signalement"})


class ModeratedItemSchema(Schema):
    """The moderation fields of an item as read (a base of its response schema)."""
    hidden = fields.Boolean(dump_only=True, metadata={
        "description": "Masqué par la modération : absent des listes publiques, de la carte et de la lecture "
                       "publique ; visible seulement par son auteur et ses modérateurs"})
    hidden_reason = fields.String(dump_only=True, metadata={"description": "Raison du masquage"})
    hidden_by_role = fields.String(dump_only=True, metadata={
        "description": "Rôle de la personne qui a masqué : territory_manager (gestionnaire de territoire) ou "
                       "school_referent (référent d'établissement)"})
    hidden_at = fields.DateTime(dump_only=True, metadata={"description": "Date du masquage"})
    reports = fields.List(fields.Nested(ReportViewSchema), dump_only=True, metadata={
        "description": "Signalements (les plus récents), montrés seulement aux modérateurs"})
    report_count = fields.Integer(dump_only=True, metadata={
        "description": "Nombre de signalements, montré seulement aux modérateurs"})


def reported_field(description: str) -> fields.Boolean:
    return fields.Boolean(error_messages={"invalid": "Booléen attendu : true ou false."},
                          metadata={"description": description})


def body_doc(schema: type[Schema], description: str, required: bool = True) -> dict:
    """The requestBody of an operation whose body is read inside the view (`load_body`)."""
    return {"requestBody": {"required": required, "description": description,
                            "content": {"application/json": {"schema": schema}}}}


def load_body(schema: Schema) -> dict:
    """The JSON object of the request, loaded by `schema`; a French 422 otherwise."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(422, errors={"json": {"_schema": ["Corps JSON invalide : un objet JSON est attendu."]}})
    try:
        return schema.load(body)
    except ValidationError as exc:
        abort(422, errors={"json": exc.messages})
