"""Access tokens: issued with the private key, verified with the public key only; the caller they
name; 401/403 in French through a Flask app built with vitawin_common.web."""
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask

from vitawin_common import identity, web
from vitawin_common.identity import Caller, InvalidToken, TokenIssuer, TokenVerifier


@pytest.fixture(scope="module")
def keys():
    return identity.generate_keys()


@pytest.fixture
def issuer(keys):
    return TokenIssuer(keys[0])


@pytest.fixture
def verifier(keys):
    return TokenVerifier(keys[1])


def test_a_token_names_its_caller(issuer, verifier):
    token = issuer.issue("acc-1", "pupil", actor_id="act-9", school_uai="0941234A")
    assert verifier.verify(token) == Caller("acc-1", "pupil", "act-9", "0941234A")


def test_an_expired_token_is_refused_with_a_french_reason(issuer, verifier):
    token = issuer.issue("acc-1", "pupil", now=datetime.now(timezone.utc) - timedelta(hours=1))
    with pytest.raises(InvalidToken, match="expiré"):
        verifier.verify(token)


def test_a_token_signed_by_another_key_is_refused(verifier):
    foreign = TokenIssuer(identity.generate_keys()[0]).issue("acc-1", "territory_manager")
    with pytest.raises(InvalidToken, match="invalide"):
        verifier.verify(foreign)


def test_a_tampered_token_is_refused(issuer, verifier):
    header, payload, signature = issuer.issue("acc-1", "pupil").split(".")
    forged = TokenIssuer(identity.generate_keys()[0]).issue("acc-1", "territory_manager").split(".")[1]
    with pytest.raises(InvalidToken):
        verifier.verify(".".join((header, forged, signature)))


def test_an_unknown_role_cannot_be_issued(issuer):
    with pytest.raises(ValueError):
        issuer.issue("acc-1", "admin")


def test_keys_are_written_once_and_the_private_one_is_private(tmp_path):
    private, public = identity.write_keys(tmp_path / "auth")
    first = public.read_bytes()
    assert private.stat().st_mode & 0o077 == 0
    identity.write_keys(tmp_path / "auth")
    assert public.read_bytes() == first


def test_the_verifier_comes_from_the_environment(keys, issuer, tmp_path):
    path = tmp_path / "public.pem"
    path.write_bytes(keys[1])
    verifier = identity.verifier_from_env({"AUTH_PUBLIC_KEY_FILE": str(path)})
    assert verifier.verify(issuer.issue("acc-1", "partner")).role == "partner"
    assert identity.verifier_from_env({}) is None


@pytest.fixture
def app(verifier):
    app = Flask(__name__)
    identity.init_app(app, verifier)

    @app.get("/who")
    def who():
        caller = identity.current_caller()
        return {"subject": caller.subject if caller else None}

    @app.get("/managers")
    def managers():
        return {"subject": identity.require_caller(["territory_manager"]).subject}

    return web.init_app(app, "tests", configure_logging=False)


def test_anonymous_calls_go_through_where_allowed(app):
    assert app.test_client().get("/who").get_json() == {"subject": None}


def test_a_bearer_token_names_the_caller(app, issuer):
    answer = app.test_client().get("/who", headers={"Authorization": f"Bearer {issuer.issue('acc-7', 'pupil')}"})
    assert answer.get_json() == {"subject": "acc-7"}


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer "])
def test_a_bad_authorization_header_is_a_401_in_french(app, header):
    answer = app.test_client().get("/who", headers={"Authorization": header})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="vitawin"')
    assert "jeton" in answer.get_json()["message"].lower() or "bearer" in answer.get_json()["message"].lower()


def test_a_role_reserved_endpoint_refuses_anonymous_then_other_roles(app, issuer):
    client = app.test_client()
    assert client.get("/managers").status_code == 401
    answer = client.get("/managers", headers={"Authorization": f"Bearer {issuer.issue('acc-1', 'pupil')}"})
    assert answer.status_code == 403
    assert answer.get_json()["message"] == "Action réservée aux rôles : gestionnaire de territoire."
    answer = client.get("/managers", headers={"Authorization": f"Bearer {issuer.issue('acc-2', 'territory_manager')}"})
    assert answer.get_json() == {"subject": "acc-2"}


def test_a_service_without_a_public_key_refuses_every_token(issuer):
    app = Flask(__name__)
    identity.init_app(app, None)
    app.get("/who")(lambda: {"subject": getattr(identity.current_caller(), "subject", None)})
    app = web.init_app(app, "tests", configure_logging=False)
    answer = app.test_client().get("/who", headers={"Authorization": f"Bearer {issuer.issue('acc-1', 'pupil')}"})
    assert answer.status_code == 401


def test_roles_required_checks_the_caller_before_the_view_and_keeps_what_documents_it(verifier, issuer):
    from flask_smorest import Api, Blueprint

    app = Flask(__name__)
    app.config.update(API_TITLE="tests", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    identity.init_app(app, verifier)
    blp = Blueprint("reports", __name__, url_prefix="/reports")
    calls = []

    @blp.route("")
    @identity.roles_required("territory_manager", "partner")
    @blp.response(200)
    def reports():
        """Rapports du territoire"""
        calls.append(identity.current_caller().subject)
        return {"ok": True}

    api = Api(web.init_app(app, "tests", configure_logging=False))
    api.register_blueprint(blp)
    client = app.test_client()

    assert client.get("/reports").status_code == 401
    pupil = client.get("/reports", headers={"Authorization": f"Bearer {issuer.issue('acc-1', 'pupil')}"})
    assert pupil.status_code == 403
    assert pupil.get_json()["message"] == "Action réservée aux rôles : gestionnaire de territoire, partenaire."
    assert calls == []
    partner = client.get("/reports", headers={"Authorization": f"Bearer {issuer.issue('acc-2', 'partner')}"})
    assert partner.status_code == 200 and calls == ["acc-2"]
    assert reports.__name__ == "reports" and reports.__doc__ == "Rapports du territoire"
    operation = api.spec.to_dict()["paths"]["/reports"]["get"]
    assert operation["summary"] == "Rapports du territoire" and "200" in operation["responses"]


def test_roles_required_without_a_role_admits_any_caller_and_refuses_an_unknown_role(app, issuer):
    @identity.roles_required()
    def anyone():
        return identity.current_caller().role

    app.add_url_rule("/anyone", view_func=anyone)
    client = app.test_client()
    assert client.get("/anyone").status_code == 401
    assert client.get("/anyone", headers={"Authorization": f"Bearer {issuer.issue('acc-1', 'pupil')}"}).text == "pupil"
    with pytest.raises(ValueError, match="admin"):
        identity.roles_required("admin")
