"""init_app: label-studio-ml-backend's test_api.py files, served in-process by the Hub's protocol stack."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest.mock import patch

import pytest

from registry.models import RegisteredModel, TrainingJob
from tests.models.repeater import Repeater
from tests.processes import REPO_ROOT
from wow_ai_hub.api import init_app

pytestmark = pytest.mark.django_db(transaction=True)
CFG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="Positive"/><Choice value="Negative"/></Choices></View>'
)
CHOSEN = [
    {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["Negative"]}}
]
WEBHOOK = {
    "action": "ANNOTATION_CREATED",
    "project": {"id": 3, "label_config": CFG, "created_at": "2024-01-01T00:00:00Z"},
    "annotation": {"id": 1, "task": 5, "result": CHOSEN},
    "task": {"id": 5, "data": {"text": "meh"}},
}
PREDICT = {"tasks": [{"id": 5, "data": {"text": "x"}}], "project": "3.1704067200", "label_config": CFG}


@pytest.fixture
def client():
    app = init_app(model_class=Repeater)
    app.config["TESTING"] = True
    with app.test_client() as client:
        yield client


def test_the_flask_style_client_serves_the_model_through_the_protocol_routes(client) -> None:
    health = client.get("/health")
    assert (health.status_code, health.json["model_class"]) == (200, "Repeater")
    assert RegisteredModel.objects.get().import_path == "tests.models.repeater.Repeater"
    response = client.post("/predict", data=json.dumps(PREDICT), content_type="application/json")
    assert response.status_code == 200
    body = json.loads(response.data)
    # Nothing learned yet: one empty prediction per task, with the version the model named in setup().
    assert body == {"results": [{"result": [], "score": 0.0, "model_version": "Repeater-v0.0.1"}]}
    assert response.get_json() == response.json == body
    bad = client.post("/predict", json={"tasks": "not a list"})
    assert bad.status_code == 400 and set(bad.json) >= {"error", "code"}


def test_a_webhook_trains_in_this_process_before_the_next_call(client) -> None:
    assert client.post("/predict", json=PREDICT).json["results"][0]["model_version"] == "Repeater-v0.0.1"
    # The embedded worker runs fit in this process, so what a test patches, fit sees.
    with patch.object(Repeater, "annotation_of", side_effect=lambda data: [{**CHOSEN[0], "id": "patched"}]):
        response = client.post("/webhook", json=WEBHOOK)
    assert response.status_code == 201
    assert TrainingJob.objects.get().status == "succeeded"
    body = client.post("/predict", json=PREDICT).json
    assert body["results"][0]["result"][0]["id"] == "patched"
    # Bumped by fit, which returned nothing (no new Hub version): every worker sees it at its next call.
    assert body["results"][0]["model_version"] == "Repeater-v0.1.0"
    assert "Repeater-v0.1.0" in client.get("/versions").json["versions"]


def test_basic_auth_is_the_models_require_credentials() -> None:
    client = init_app(Repeater, basic_auth_user="ml", basic_auth_pass="s3cret").test_client()
    assert client.get("/health").status_code == 401
    token = base64.b64encode(b"ml:s3cret").decode()
    assert client.get("/health", headers={"Authorization": f"Basic {token}"}).status_code == 200


def test_only_model_classes_are_served() -> None:
    with pytest.raises(ValueError, match="subclass"):
        init_app(dict)  # type: ignore[arg-type]


def test_a_backends_own_test_file_runs_with_nothing_set_up(tmp_path: Path) -> None:
    """As in a backend folder: pytest there, no Django, no database: init_app makes its own SQLite."""
    (tmp_path / "model.py").write_text((REPO_ROOT / "tests/models/repeater.py").read_text())
    (tmp_path / "_wsgi.py").write_text("from wow_ai_hub.api import init_app\nfrom model import Repeater\n")
    (tmp_path / "test_api.py").write_text(
        textwrap.dedent(
            f"""
            import json
            import pytest
            from model import Repeater

            @pytest.fixture
            def client():
                from _wsgi import init_app
                app = init_app(model_class=Repeater)
                app.config['TESTING'] = True
                with app.test_client() as client:
                    yield client

            def test_learns(client):
                assert client.post('/webhook', data=json.dumps({WEBHOOK!r}), content_type='application/json').status_code == 201
                response = client.post('/predict', data=json.dumps({PREDICT!r}), content_type='application/json')
                assert response.status_code == 200
                assert response.json['results'][0]['result'][0]['value']['choices'] == ['Negative']
            """
        )
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "HUB_DATA_DIR")
    }
    env["PYTHONPATH"] = str(REPO_ROOT)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django", "test_api.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "1 passed" in run.stdout
