"""A backend served the way label-studio-ml-backend's Dockerfiles serve it, ``gunicorn --preload
_wsgi:app`` with ``MODEL_DIR`` on a volume, and nothing else: annotations train the model (a trainer
thread in the served process), and what it learnt survives a restart (the state is in MODEL_DIR)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import serving
from tests.inference.test_init_app import PREDICT, WEBHOOK
from tests.inference.test_sdk_media import CFG, TextFiles
from tests.processes import REPO_ROOT, answers_ok, free_port, stop_group, wait_ready

WSGI = """
import os
from wow_ai_hub.api import init_app
from model import {model_class}

app = init_app(model_class={model_class})
"""


@contextmanager
def served(folder: Path, **extra_env: str) -> Iterator[str]:
    """``gunicorn --preload _wsgi:app`` in the backend folder, as the upstream Dockerfile's CMD."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "HUB_DATA_DIR", "CELERY_BROKER_URL")
        and k != "HUB_BROKER_DIR"
    }
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        MODEL_DIR=str(folder / "models"),
        HUB_TRAINING_DEBOUNCE_SECONDS="1",
        **extra_env,
    )
    port = free_port()
    log = folder / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", "--preload", "--bind", f"127.0.0.1:{port}"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--workers", "1", "--threads", "4", "--timeout", "0", "_wsgi:app"],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(answers_ok(f"http://127.0.0.1:{port}/health"), process, "gunicorn _wsgi:app", 120, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_group(process)


def predicted(url: str) -> list[Any]:
    response = requests.post(f"{url}/predict", json=PREDICT, timeout=30)
    assert response.status_code == 200, response.text
    result: list[Any] = response.json()["results"][0]["result"]
    return result


def test_gunicorn_wsgi_app_trains_from_webhooks_and_keeps_it_across_a_restart(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text((REPO_ROOT / "tests/models/repeater.py").read_text())
    (tmp_path / "_wsgi.py").write_text(WSGI.format(model_class="Repeater"))
    with served(tmp_path) as url:
        assert predicted(url) == []
        assert requests.post(f"{url}/webhook", json=WEBHOOK, timeout=30).status_code == 201
        deadline = time.monotonic() + 60
        while not predicted(url) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert predicted(url)[0]["value"]["choices"] == ["Negative"]
    assert (tmp_path / "models" / ".hub-data").is_dir()
    with served(tmp_path) as url:  # restarted: what fit wrote is still there
        assert predicted(url)[0]["value"]["choices"] == ["Negative"]


def test_a_backend_served_alone_reaches_the_label_studio_its_environment_names(tmp_path: Path) -> None:
    """As upstream's docker-compose configures a backend: LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY,
    while Label Studio's /setup names its default address and a token that 1.23 has disabled."""
    (tmp_path / "model.py").write_text((REPO_ROOT / "tests/models/media.py").read_text())
    (tmp_path / "_wsgi.py").write_text(WSGI.format(model_class="FileLengthModel"))
    setup = {
        "project": "4.1700000000",
        "schema": CFG,
        "hostname": "http://localhost:8080",
        "access_token": "x",
    }
    task = {"id": 11, "data": {"doc": "/data/upload/4/notes.txt"}}
    body = {"tasks": [task], "project": "4.1700000000", "label_config": CFG}
    with serving(TextFiles) as label_studio:  # it serves the upload for TextFiles.token only
        env = {"LABEL_STUDIO_URL": label_studio, "LABEL_STUDIO_API_KEY": TextFiles.token}
        with served(tmp_path, **env) as url:
            assert requests.post(f"{url}/setup", json=setup, timeout=30).status_code == 200
            response = requests.post(f"{url}/predict", json=body, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["result"][0]["value"]["text"] == [
        "hello from label studio|notes.txt"
    ]


@pytest.mark.parametrize(
    ("served_as", "expected"),
    [
        ({}, ""),
        ({"HUB_STANDALONE_MODEL": "m"}, "http://ls:8080 key"),
        ({"HUB_SERVED_ALONE": "1"}, "http://ls:8080 key"),
    ],
    ids=["shared Hub", "wow-ai-ml start", "init_app"],
)
def test_only_a_backend_served_alone_reads_label_studio_url(served_as: dict[str, str], expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HUB_SERVED_ALONE", "HUB_STANDALONE_MODEL")}
    env.update(served_as, LABEL_STUDIO_URL="http://ls:8080", LABEL_STUDIO_API_KEY="key")
    env.update(DJANGO_SETTINGS_MODULE="hubsite.settings", PYTHONPATH=str(REPO_ROOT))
    probe = "from django.conf import settings as s; print(s.HUB_OPERATOR_LABEL_STUDIO_URL, s.HUB_OPERATOR_LABEL_STUDIO_API_KEY)"
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == expected, done.stderr
