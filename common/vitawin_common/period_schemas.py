"""The HTTP side of `periods`, for the services' aggregate endpoints (/api/v1/actors/stats,
/api/v1/requests/stats, /api/v1/proposals/stats): the marshmallow schema of their query string,
`from` and `to` (months "AAAA-MM", both optional, both included) read into a MonthPeriod (422 in
French naming the parameter) and `town` (an INSEE code), and the schema of the period their answers
state. A service whose `town` filters in its own way subclasses the query schema with its own
`town_field(description)`."""
from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from vitawin_common.periods import InvalidPeriod, MonthPeriod

INSEE_TOWN = validate.Regexp(re.compile(r"^(?:[0-9]{2}|2[AB])[0-9]{3}$"),  # Corsica: 2A..., 2B...
                             error="Code INSEE de commune invalide : 5 caractères attendus (ex. 94080).")


def town_field(description: str = "Code INSEE d'une commune : seulement ce qui s'y trouve") -> fields.String:
    """The `town` query parameter: an INSEE code, described for the OpenAPI document."""
    return fields.String(validate=INSEE_TOWN, metadata={"description": description, "example": "94080"})


class MonthTownQuerySchema(Schema):
    """`from`, `to` and `town`; once loaded, "period" holds the MonthPeriod of `from` and `to`."""
    first = fields.String(data_key="from", metadata={
        "description": "Premier mois compté, AAAA-MM, inclus (heure de Paris) ; sans lui, depuis le début",
        "example": "2026-01"})
    last = fields.String(data_key="to", metadata={
        "description": "Dernier mois compté, AAAA-MM, inclus ; sans lui, jusqu'à aujourd'hui", "example": "2026-06"})
    town = town_field()

    @validates_schema
    def period(self, data, **kwargs) -> None:
        try:
            data["period"] = MonthPeriod.parse(data.get("first"), data.get("last"))
        except InvalidPeriod as exc:
            raise ValidationError(str(exc), exc.field) from exc


class PeriodSchema(Schema):
    """The period an answer counts: its first and last months as asked, and every month of it."""
    first = fields.String(data_key="from", allow_none=True, metadata={"description": "Premier mois demandé (AAAA-MM)"})
    last = fields.String(data_key="to", allow_none=True, metadata={"description": "Dernier mois demandé (AAAA-MM)"})
    months = fields.List(fields.String(), metadata={
        "description": "Chaque mois de la période, dans l'ordre : du premier au dernier demandé, ou, quand l'un "
                       "manque, jusqu'au premier ou au dernier mois qui a des données", "example": ["2026-01", "2026-02"]})
