"""The query string of the dashboard's aggregate endpoints (vitawin_common.period_schemas): `from`
and `to` read into a MonthPeriod, `town` an INSEE code, each refusal in French under the name of
its parameter; a service's own `town_field` keeps the INSEE check."""
import pytest
from marshmallow import ValidationError

from vitawin_common.period_schemas import MonthTownQuerySchema, town_field
from vitawin_common.periods import MonthPeriod


def test_the_months_are_read_into_a_period_and_the_town_kept():
    query = MonthTownQuerySchema().load({"from": "2026-01", "to": "2026-06", "town": "2A004"})
    assert query["period"] == MonthPeriod("2026-01", "2026-06") and query["town"] == "2A004"
    assert MonthTownQuerySchema().load({})["period"] == MonthPeriod()


@pytest.mark.parametrize("query, field, reason", [
    ({"from": "2026-13"}, "from", "Mois invalide"),
    ({"from": "2026-06", "to": "2026-05"}, "to", "Le mois de fin (to) doit être le mois de début (from)"),
    ({"town": "9408"}, "town", "Code INSEE de commune invalide"),
])
def test_a_bad_parameter_is_refused_in_french_under_its_name(query, field, reason):
    with pytest.raises(ValidationError) as caught:
        MonthTownQuerySchema().load(query)
    assert list(caught.value.messages) == [field]
    assert caught.value.messages[field][0].startswith(reason)


def test_a_town_described_by_a_service_is_still_an_insee_code():
    class ProposalsQuery(MonthTownQuerySchema):
        town = town_field("Code INSEE d'une commune : seulement les propositions faites pour ses demandes")

    assert ProposalsQuery().load({"town": "94080"})["town"] == "94080"
    with pytest.raises(ValidationError) as caught:
        ProposalsQuery().load({"town": "Vincennes"})
    assert list(caught.value.messages) == ["town"]
