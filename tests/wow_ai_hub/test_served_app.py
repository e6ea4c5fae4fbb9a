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

import requests

from tests.inference.test_init_app import PREDICT, WEBHOOK
from tests.processes import REPO_ROOT, answers_ok, free_port, stop_group, wait_ready

WSGI = """
import os
from wow_ai_hub.api import init_app
from model import Repeater

app = init_app(model_class=Repeater)
"""


@contextmanager
def served(folder: Path) -> Iterator[str]:
    """``gunicorn --preload _wsgi:app`` in the backend folder, as the upstream Dockerfile's CMD."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "HUB_DATA_DIR", "CELERY_BROKER_URL")
        and k != "HUB_BROKER_DIR"
    }
    env.update(PYTHONPATH=str(REPO_ROOT), MODEL_DIR=str(folder / "models"), HUB_TRAINING_DEBOUNCE_SECONDS="1")
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
    (tmp_path / "_wsgi.py").write_text(WSGI)
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
