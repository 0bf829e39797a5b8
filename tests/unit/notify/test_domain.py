import pytest

from vitawin_notify import domain
from tests.unit.notify.conftest import emails_for_proposal


@pytest.mark.parametrize("km, text", [(2.8, "2,8 km"), (0, "0,0 km"), (12, "12,0 km"), (3.14, "3,1 km")])
def test_distances_are_written_with_a_french_decimal_comma(km, text):
    assert domain.french_km(km) == text


def test_the_delivery_key_is_stable_and_distinct_per_event_recipient_and_template():
    key = domain.delivery_key("e1", "a@example.fr", "proposal_to_volunteer")
    assert key == domain.delivery_key("e1", "a@example.fr", "proposal_to_volunteer")
    assert len({key,
                domain.delivery_key("e2", "a@example.fr", "proposal_to_volunteer"),
                domain.delivery_key("e1", "b@example.fr", "proposal_to_volunteer"),
                domain.delivery_key("e1", "a@example.fr", "proposal_to_requester")}) == 4


def test_town_names_come_from_the_territory(event_factory, towns):
    volunteer_email, _ = emails_for_proposal("e1", event_factory().data, towns)
    assert volunteer_email.context["request_town"] == "Fontenay-sous-Bois"
    assert volunteer_email.context["volunteer_town"] == "Vincennes"


def test_a_town_outside_the_territory_falls_back_to_its_code(event_factory, towns):
    data = event_factory(request__town="75056").data
    volunteer_email, _ = emails_for_proposal("e1", data, towns)
    assert volunteer_email.context["request_town"] == "75056"
