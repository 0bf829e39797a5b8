"""Errors the common Flask layer answers for every service."""
from flask import Flask
from pymongo.errors import OperationFailure

from vitawin_common import web


def test_a_lost_write_conflict_is_a_409_to_try_again_not_a_500():
    app = Flask(__name__)

    @app.post("/conflict")
    def conflict():
        raise OperationFailure("WriteConflict", code=112, details={"errorLabels": ["TransientTransactionError"]})

    @app.post("/broken")
    def broken():
        raise OperationFailure("something else", code=2)

    app = web.init_app(app, "tests", configure_logging=False)
    answer = app.test_client().post("/conflict")
    assert answer.status_code == 409
    assert "réessayez" in answer.get_json()["message"]
    assert app.test_client().post("/broken").status_code == 500
