"""The directory's domain rules: SIRET, NAF, UAI and ISO week checks, the territory rule of an
actor's place, what an actor's event carries, bounding boxes and GeoJSON features. No I/O."""
from datetime import datetime, timezone

import pytest

from vitawin_common.territory import InvalidPlace, Location

from vitawin_actors.domain import (ACTOR_KINDS, MAPPED_KINDS, ORGANISATION_KINDS, Actor, Address, BoundingBox,
                                   InvalidValue, RegisterOrganisation, RegisterPupil, RegisterSchool,
                                   RegisterTerritoryManager, check_internship_periods, check_organisation_town,
                                   check_place, feature_collection, normalise_iso_week, normalise_naf,
                                   normalise_siret, normalise_uai, public_view, to_feature)

ACTOR_REGISTERED = "fr.vitawin.actor.registered.v1"
NEAR_VINCENNES = Location(48.8478, 2.4385)  # a few hundred metres from the centre
BERCY = Location(48.8336, 2.3865)  # Paris 12e, outside the territory
TWENTY_KM_NORTH_OF_VINCENNES = Location(48.8475 + 0.18, 2.4392)


def organisation(**changes) -> RegisterOrganisation:
    values = dict(kind="company", name="Boulangerie des Vignerons", contact_email="contact@vignerons.example.fr",
                  siret="12345678200010", naf_code="10.71C", address=Address("12 rue de Fontenay", "94300"),
                  town="94080", location=NEAR_VINCENNES)
    return RegisterOrganisation(**{**values, **changes})


def school(**changes) -> RegisterSchool:
    values = dict(name="Collège Saint-Exupéry", contact_email="referent@college.example.fr", uai="0940120V",
                  school_type="college", levels=["6e", "5e", "4e", "3e"], address=Address("1 rue Lejemptel", "94300"),
                  town="94080", location=NEAR_VINCENNES, internship_periods={"3e": ["2027-W24", "2027-W25"]})
    return RegisterSchool(**{**values, **changes})


def pupil(**changes) -> RegisterPupil:
    values = dict(first_name="Léa", level="3e", school_uai="0940120V", town="94080",
                  guardian_contact_email="parent.lea@example.fr")
    return RegisterPupil(**{**values, **changes})


# --- SIRET, NAF, UAI, ISO weeks ----------------------------------------------------------------

def test_a_valid_siret_is_kept_as_14_digits_and_spaces_are_removed():
    assert normalise_siret("12345678200010") == "12345678200010"
    assert normalise_siret("123 456 782 00010") == "12345678200010"


@pytest.mark.parametrize("siret, reason", [
    ("12345678200011", "la clé de contrôle ne correspond pas"),
    ("1234567820001", "il doit compter 14 chiffres"),
    ("123456782000100", "il doit compter 14 chiffres"),
    ("1234567820001A", "14 chiffres attendus"),
])
def test_an_invalid_siret_is_refused_in_french(siret, reason):
    with pytest.raises(InvalidValue, match=f"^SIRET invalide : .*{reason}"):
        normalise_siret(siret)


def test_a_naf_code_is_two_digits_a_dot_two_digits_and_a_letter():
    assert normalise_naf("56.10A") == "56.10A"
    assert normalise_naf(" 56.10a ") == "56.10A"
    for bad in ("5610A", "56.10", "56.1A", "A6.10A", "56-10A", "56.10AB"):
        with pytest.raises(InvalidValue, match="^Code NAF invalide : format attendu « 56.10A »"):
            normalise_naf(bad)


def test_a_uai_is_seven_digits_and_the_letter_that_checks_them():
    assert normalise_uai("0940120V") == "0940120V"  # 940120 % 23 == 18 -> V
    assert normalise_uai("0941030j") == "0941030J"
    with pytest.raises(InvalidValue, match="^Code UAI invalide : la lettre ne correspond pas"):
        normalise_uai("0940120W")
    for bad in ("094012V", "09401200V", "0940120", "V0940120", "0940120-V"):
        with pytest.raises(InvalidValue, match="^Code UAI invalide : 7 chiffres suivis d'une lettre"):
            normalise_uai(bad)


def test_an_iso_week_must_exist():
    assert normalise_iso_week("2027-W24") == "2027-W24"
    assert normalise_iso_week("2026-W53") == "2026-W53"  # 2026 has 53 ISO weeks
    for bad in ("2027-W53", "2027-W00", "2027-W54", "2027-24", "2027W24", "27-W24", "semaine 24"):
        with pytest.raises(InvalidValue, match="^Semaine ISO invalide"):
            normalise_iso_week(bad)


def test_internship_periods_name_the_levels_the_school_does_not_teach():
    assert check_internship_periods(["6e", "3e"], {"3e": ["2027-W24"]}) == {}
    assert check_internship_periods(["6e", "3e"], {"3e": ["2027-W24"], "2nde": ["2027-W10"]}) == {
        "2nde": "Niveau non enseigné dans cet établissement (niveaux indiqués : 6e, 3e)."}


# --- the territory rule --------------------------------------------------------------------------

def test_a_place_in_the_territory_near_its_town_centre_is_accepted(territory):
    check_place(territory, "94080", NEAR_VINCENNES)
    check_place(territory, "94080")  # a pupil: a town, no position
    check_organisation_town(territory, "94080", NEAR_VINCENNES, from_outside=False)


def test_a_town_outside_the_territory_is_refused_naming_the_town(territory):
    with pytest.raises(InvalidPlace, match="^Commune inconnue") as caught:
        check_place(territory, "75112", BERCY)
    assert caught.value.field == "town"
    with pytest.raises(InvalidPlace, match="serves_territory_from_outside = true") as caught:
        check_organisation_town(territory, "75112", BERCY, from_outside=False)
    assert caught.value.field == "town"


def test_an_organisation_serving_the_territory_from_outside_may_be_anywhere(territory):
    check_organisation_town(territory, "75112", BERCY, from_outside=True)
    check_organisation_town(territory, "75112", Location(43.2965, 5.3698), from_outside=True)  # not checked


def test_from_outside_does_not_excuse_a_position_far_from_a_territory_town(territory):
    with pytest.raises(InvalidPlace, match="5 km au plus du centre de Vincennes") as caught:
        check_organisation_town(territory, "94080", TWENTY_KM_NORTH_OF_VINCENNES, from_outside=True)
    assert caught.value.field == "location"


# --- actors and their events ---------------------------------------------------------------------

def test_register_gives_an_act_id_and_a_creation_time_to_the_millisecond():
    now = datetime(2026, 11, 27, 9, 30, 0, 123456, tzinfo=timezone.utc)
    actor = Actor.register(organisation(), now=now)
    assert actor.actor_id.startswith("act-") and len(actor.actor_id) == 36
    int(actor.actor_id[4:], 16)
    assert actor.created_at == datetime(2026, 11, 27, 9, 30, 0, 123000, tzinfo=timezone.utc)
    assert actor.kind == "company"
    assert Actor.register(organisation()).actor_id != actor.actor_id


def test_the_document_keeps_everything_the_event_only_public_fields(contract_set):
    actor = Actor.register(organisation())
    doc = actor.to_document()
    assert doc == {"actor_id": actor.actor_id, "kind": "company", "name": "Boulangerie des Vignerons",
                   "contact_email": "contact@vignerons.example.fr", "siret": "12345678200010",
                   "naf_code": "10.71C", "address": {"street": "12 rue de Fontenay", "postcode": "94300"},
                   "town": "94080", "location": {"lat": 48.8478, "lon": 2.4385},
                   "serves_territory_from_outside": False, "created_at": actor.created_at}
    data = actor.event_data()
    contract_set.validate(ACTOR_REGISTERED, data)
    assert data == {"actor_id": actor.actor_id, "kind": "company", "name": "Boulangerie des Vignerons",
                    "town": "94080", "location": {"lat": 48.8478, "lon": 2.4385}, "naf_code": "10.71C",
                    "serves_territory_from_outside": False}


@pytest.mark.parametrize("command, fields", [
    (organisation(kind="partner_organisation", town="75112", location=BERCY, serves_territory_from_outside=True),
     {"actor_id", "kind", "name", "town", "location", "naf_code", "serves_territory_from_outside"}),
    (school(), {"actor_id", "kind", "name", "town", "location", "uai", "school_type", "levels",
                 "internship_periods"}),
    (pupil(), {"actor_id", "kind", "level", "school_uai", "town"}),
    (RegisterTerritoryManager(name="Camille Martin", contact_email="c.martin@pemb.example.fr",
                              organisation_name="Paris Est Marne et Bois"),
     {"actor_id", "kind", "organisation_name"}),
], ids=["partner_organisation", "school", "pupil", "territory_manager"])
def test_each_kind_has_an_event_that_satisfies_the_contract_without_contacts(contract_set, command, fields):
    data = Actor.register(command).event_data()
    contract_set.validate(ACTOR_REGISTERED, data)
    assert set(data) == fields
    assert "contact_email" not in data and "guardian_contact_email" not in data


def test_a_pupils_event_carries_no_first_name_no_guardian_and_no_minor_flag(contract_set):
    actor = Actor.register(pupil())
    assert actor.to_document()["first_name"] == "Léa"
    data = actor.event_data()
    assert data == {"actor_id": actor.actor_id, "kind": "pupil", "level": "3e", "school_uai": "0940120V",
                    "town": "94080"}


def test_a_pupil_without_guardian_email_is_stored_without_the_field():
    doc = Actor.register(pupil(is_minor=False, guardian_contact_email=None)).to_document()
    assert "guardian_contact_email" not in doc and doc["is_minor"] is False


def test_the_contract_refuses_personal_data_of_a_pupil(contract_set):
    from vitawin_common.contracts import ContractViolation
    data = Actor.register(pupil()).event_data()
    for extra in ({"first_name": "Léa"}, {"guardian_contact_email": "parent@example.fr"},
                  {"location": {"lat": 48.8478, "lon": 2.4385}}, {"name": "Léa"}):
        with pytest.raises(ContractViolation):
            contract_set.validate(ACTOR_REGISTERED, {**data, **extra})


def test_the_contract_refuses_a_contact_email_for_any_kind(contract_set):
    from vitawin_common.contracts import ContractViolation
    for command in (organisation(), school()):
        data = Actor.register(command).event_data()
        with pytest.raises(ContractViolation):
            contract_set.validate(ACTOR_REGISTERED, {**data, "contact_email": "contact@example.fr"})


def test_the_contract_requires_the_fields_of_each_kind(contract_set):
    from vitawin_common.contracts import ContractViolation
    data = Actor.register(school()).event_data()
    del data["uai"]
    with pytest.raises(ContractViolation, match="'uai' is a required property"):
        contract_set.validate(ACTOR_REGISTERED, data)


def test_public_view_of_a_stored_document_is_the_event_data():
    actor = Actor.register(school())
    assert public_view(actor.to_document()) == actor.event_data()


def test_every_kind_is_public_in_some_way_and_the_map_shows_organisations_and_schools_only():
    assert set(MAPPED_KINDS) == {*ORGANISATION_KINDS, "school"}
    assert set(ACTOR_KINDS) == {*ORGANISATION_KINDS, "school", "pupil", "territory_manager"}


# --- bounding boxes and GeoJSON ------------------------------------------------------------------

def test_a_feature_is_a_point_lon_lat_with_id_kind_name_and_town_only():
    doc = Actor.register(organisation()).to_document()
    feature = to_feature(doc)
    assert feature == {"type": "Feature", "id": doc["actor_id"],
                       "geometry": {"type": "Point", "coordinates": [2.4385, 48.8478]},
                       "properties": {"actor_id": doc["actor_id"], "kind": "company",
                                      "name": "Boulangerie des Vignerons", "town": "94080"}}
    assert feature_collection([doc]) == {"type": "FeatureCollection", "features": [feature]}


def test_a_pupil_is_never_a_feature():
    with pytest.raises(ValueError):
        to_feature(Actor.register(pupil()).to_document())


def test_the_contract_agrees_with_the_domain_on_kinds_levels_school_types_and_public_fields(contract_set):
    from vitawin_actors.domain import LEVELS, PUBLIC_FIELDS, SCHOOL_TYPES
    schema = contract_set.validator(ACTOR_REGISTERED).schema
    assert schema["properties"]["kind"]["enum"] == list(ACTOR_KINDS)
    assert schema["properties"]["level"]["enum"] == list(LEVELS)
    assert schema["properties"]["school_type"]["enum"] == list(SCHOOL_TYPES)
    by_kind = {kind: branch["then"]["propertyNames"]["enum"]
               for branch in schema["allOf"] for kind in branch["if"]["properties"]["kind"]["enum"]}
    assert by_kind == {kind: list(fields) for kind, fields in PUBLIC_FIELDS.items()}
