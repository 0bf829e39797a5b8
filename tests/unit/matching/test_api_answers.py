"""Answering proposals through the matching API: who may answer which side (others get 404),
the states returned, conflicts as French 409s."""
import pytest

from vitawin_common import identity
from vitawin_common.identity import TokenIssuer, TokenVerifier

from vitawin_matching import handlers
from vitawin_matching.api import create_app
from vitawin_matching.workflow import ACCEPTED, AWAITING_CONFIRMATION, DECLINED

from tests.unit.matching.conftest import request_v2_event, volunteer_event

ORG = "act-" + "a" * 32
SCHOOL = "0940001A"  # the school of conftest's request_state


@pytest.fixture(scope="module")
def keys():
    return identity.generate_keys()


@pytest.fixture
def client(keys, db, uow, monkeypatch):
    monkeypatch.setattr(handlers, "answer_context", _with_actor(handlers.answer_context))
    app = create_app(proposals=uow().proposals, ready=lambda: True, uow_factory=uow, offer_of=lambda doc: None)
    identity.init_app(app, TokenVerifier(keys[1]))
    return app.test_client()


def _with_actor(context):
    """conftest's volunteer events carry no organisation: give this one ORG."""
    def with_actor(found):
        return {**context(found), "volunteer_actor_id": ORG}
    return with_actor


def headers(keys, role, **claims):
    return {"Authorization": f"Bearer {TokenIssuer(keys[0]).issue('acc-1', role, **claims)}"}


def made(db, uow, kind="class_testimony"):
    handlers.on_volunteer_registered(volunteer_event("vol-1", lat_offset_km=1, action_types=[
        {"class_testimony": "testimony", "job_information": "testimony"}[kind]]), uow(), k=1)
    handlers.on_request_created(request_v2_event("req-1", kind=kind), uow(), k=1)
    [proposal_id] = db.proposals
    return proposal_id


def test_the_professional_of_the_proposal_accepts_it(client, keys, db, uow):
    pid = made(db, uow)
    answer = client.post(f"/api/v1/proposals/{pid}/accept", headers=headers(keys, "professional", actor_id=ORG))
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == ACCEPTED


def test_a_pupil_placement_is_confirmed_by_the_referent_of_the_school(client, keys, db, uow):
    pid = made(db, uow, kind="job_information")
    answer = client.post(f"/api/v1/proposals/{pid}/accept", headers=headers(keys, "professional", actor_id=ORG))
    assert answer.get_json()["status"] == AWAITING_CONFIRMATION
    answer = client.post(f"/api/v1/proposals/{pid}/accept", headers=headers(keys, "school_referent", school_uai=SCHOOL))
    assert answer.get_json()["status"] == ACCEPTED


@pytest.mark.parametrize("role, claims", [
    ("professional", {"actor_id": "act-" + "b" * 32}), ("school_referent", {"school_uai": "0940002B"}),
    ("professional", {}),
])
def test_someone_the_proposal_does_not_concern_gets_404(client, keys, db, uow, role, claims):
    pid = made(db, uow)
    answer = client.post(f"/api/v1/proposals/{pid}/decline", headers=headers(keys, role, **claims))
    assert answer.status_code == 404
    assert answer.get_json()["message"] == "Proposition introuvable."


def test_anonymous_is_401_and_other_roles_403(client, keys, db, uow):
    pid = made(db, uow)
    assert client.post(f"/api/v1/proposals/{pid}/accept").status_code == 401
    assert client.post(f"/api/v1/proposals/{pid}/accept", headers=headers(keys, "pupil")).status_code == 403


def test_a_contrary_answer_is_a_409_in_french(client, keys, db, uow):
    pid = made(db, uow)
    pro = headers(keys, "professional", actor_id=ORG)
    assert client.post(f"/api/v1/proposals/{pid}/decline", headers=pro).get_json()["status"] == DECLINED
    answer = client.post(f"/api/v1/proposals/{pid}/accept", headers=pro)
    assert answer.status_code == 409
    assert answer.get_json()["message"].startswith("Cette proposition est déjà refusée")
