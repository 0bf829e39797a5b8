"""The ROME reference shipped with the service, action settings and their defaults, and the
Mongo side of a pledge's change (over the version read, in the unit of work's transaction)."""
from __future__ import annotations

from datetime import date
from unittest.mock import MagicMock

import pytest

from vitawin_actors import bootstrap
from vitawin_actors.adapters import MongoUnitOfWork, load_rome_reference
from vitawin_actors.domain import (ActionSettings, InvalidValue, PledgeFilter, RomeJob, RomeReference,
                                   check_job_fair_dates, check_levels_for_audience, complete_actions)
from vitawin_actors.handlers import ConcurrentChange

# Jobs pupils of collège and lycée discover most (stages de 3e, lycée professionnel).
COMMON_JOBS = {
    "D1102": "Boulanger / Boulangère", "D1104": "Pâtissier / Pâtissière", "D1101": "Boucher / Bouchère",
    "D1202": "Coiffeur / Coiffeuse", "I1604": "Mécanicien / Mécanicienne automobile",
    "J1501": "Aide-soignant / Aide-soignante", "J1506": "Infirmier / Infirmière en soins généraux (IDE)",
    "J1304": "Auxiliaire de puériculture", "G1602": "Commis / Commise de cuisine",
    "G1803": "Serveur / Serveuse en restauration", "F1703": "Maçon / Maçonne",
    "F1602": "Electricien / Electricienne du bâtiment", "F1603": "Plombier / Plombière sanitaire",
    "H2913": "Soudeur / Soudeuse", "M1607": "Secrétaire", "M1203": "Comptable",
    "M1805": "Développeur / Développeuse informatique", "N4101": "Conducteur / Conductrice de poids lourd",
    "N1103": "Préparateur / Préparatrice de commandes", "A1203": "Agent / Agente d'entretien des espaces verts",
    "K1303": "Garde d'enfant", "K1707": "Policier municipal / Policière municipale",
    "A1501": "Auxiliaire vétérinaire", "E1205": "Designer graphique",
}


def test_the_shipped_rome_reference_has_every_job_sheet_with_its_french_label():
    rome_file = bootstrap.settings().contracts_dir / "reference" / "rome.json"
    rome = load_rome_reference(rome_file)
    assert (rome_file.parent / "README.md").is_file()
    assert len(rome) > 1500
    assert all(rome.labels[code] == label for code, label in COMMON_JOBS.items())
    assert {code[0] for code in rome.labels} == set("ABCDEFGHIJKLMN")
    assert "France Travail" in rome.source
    assert bootstrap.rome() is rome  # read once per process


def test_rome_reference_reads_a_code_and_refuses_a_bad_or_unknown_one_in_french():
    rome = RomeReference({"D1102": "Boulanger / Boulangère"})
    assert rome.job(" d1102 ") == RomeJob("D1102", "Boulanger / Boulangère")
    with pytest.raises(InvalidValue, match="Code ROME invalide : une lettre de A à N suivie de 4 chiffres"):
        rome.job("Z1102")
    with pytest.raises(InvalidValue, match="Code ROME inconnu du référentiel ROME : D1103."):
        rome.job("D1103")


@pytest.mark.parametrize("action_type, modality", [("testimony", "in_class"), ("intervention", "in_class"),
                                                   ("internship", "on_site"), ("apprenticeship", "on_site"),
                                                   ("mentoring", "on_site"), ("job_fair", "in_class")])
def test_every_action_type_has_defaults(action_type, modality):
    plain = ActionSettings.build(action_type).to_plain()
    assert (plain["audience"], plain["modality"], plain["weekly_contact_cap"], plain["rome_codes"]) == (
        "all", modality, 5, [])
    assert "max_distance_km" not in plain  # the pledge's own applies
    assert ActionSettings.from_plain(action_type, plain) == ActionSettings.build(action_type)


def test_job_fair_dates_mean_not_on_request_and_are_sorted():
    plain = ActionSettings.build("job_fair", dates=[date(2027, 5, 2), date(2027, 3, 18)]).to_plain()
    assert (plain["dates"], plain["on_request"]) == (["2027-03-18", "2027-05-02"], False)


def test_settings_of_another_type_are_a_programming_error():
    with pytest.raises(ValueError):
        ActionSettings.build("testimony", topics=["x"])
    with pytest.raises(ValueError):
        complete_actions(["testimony"], {"mentoring": ActionSettings.build("mentoring")})


def test_levels_must_belong_to_the_audience():
    assert check_levels_for_audience(["3e", "4e"], "college") is None
    assert check_levels_for_audience(["2nde", "CAP1"], "lycee") is None
    assert check_levels_for_audience(["3e", "2nde"], "all") is None
    assert "2nde" in check_levels_for_audience(["3e", "2nde"], "college")


def test_job_fair_dates_must_be_after_today():
    assert check_job_fair_dates([date(2026, 11, 27), date(2026, 11, 28), date(2025, 1, 1)], date(2026, 11, 27)) == {
        0: "La date doit être dans le futur (après le 27/11/2026).",
        2: "La date doit être dans le futur (après le 27/11/2026)."}


# --- Mongo ---------------------------------------------------------------------------------------

@pytest.fixture
def mongo_uow():
    db = MagicMock()
    collections = {}
    db.__getitem__.side_effect = lambda name: collections.setdefault(name, MagicMock(name=name))
    return MongoUnitOfWork(MagicMock(), db, outbox=MagicMock())


def test_a_change_replaces_the_pledge_over_the_version_read_in_the_transaction(mongo_uow):
    collection = mongo_uow.volunteers.collection
    collection.replace_one.return_value.matched_count = 1
    event = object()
    with mongo_uow:
        mongo_uow.volunteers.replace({"volunteer_id": "vol-1", "version": 4}, expected_version=3)
        mongo_uow.publish(event, "volunteers")
        mongo_uow.commit()
    session = mongo_uow.client.start_session.return_value.__enter__.return_value
    collection.replace_one.assert_called_once_with(
        {"_id": "vol-1", "version": 3}, {"_id": "vol-1", "volunteer_id": "vol-1", "version": 4}, session=session)
    mongo_uow.outbox.add.assert_called_once_with(event, "volunteers", session=session)
    session.commit_transaction.assert_called_once_with()


def test_version_1_also_matches_a_pledge_stored_without_a_version(mongo_uow):
    collection = mongo_uow.volunteers.collection
    collection.replace_one.return_value.matched_count = 1
    mongo_uow.volunteers.replace({"volunteer_id": "vol-1", "version": 2}, expected_version=1)
    assert collection.replace_one.call_args.args[0] == {"_id": "vol-1", "version": {"$in": [1, None]}}


def test_a_replace_that_matches_nothing_is_a_concurrent_change(mongo_uow):
    mongo_uow.volunteers.collection.replace_one.return_value.matched_count = 0
    with pytest.raises(ConcurrentChange):
        mongo_uow.volunteers.replace({"volunteer_id": "vol-1", "version": 5}, expected_version=4)


def test_page_filters_by_status_counting_a_pledge_without_status_as_active(mongo_uow):
    collection = mongo_uow.volunteers.collection
    collection.count_documents.return_value = 0
    collection.find.return_value.sort.return_value.skip.return_value.limit.return_value = iter([])
    mongo_uow.volunteers.page(PledgeFilter(status="active"))
    assert collection.find.call_args.args[0] == {"status": {"$in": ["active", None]}}
    mongo_uow.volunteers.page(PledgeFilter(status="paused"))
    assert collection.find.call_args.args[0] == {"status": "paused"}
