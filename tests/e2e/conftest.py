"""Real Label Studio (installed by `make e2e` into .e2e/ls-venv) beside a real Hub (bin/run-hub)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.processes import REPO_ROOT, answers_ok, free_port, manage_shell, stop_group, wait_ready
from tests.processes import label_studio as label_studio_process

LS_BIN = Path(os.environ.get("LABEL_STUDIO_BIN", REPO_ROOT / ".e2e" / "ls-venv" / "bin" / "label-studio"))
TOKEN = "e2e0123456789abcdef0123456789abcdef0123"


class StepFailed(AssertionError):
    pass


@contextmanager
def step(name: str) -> Iterator[None]:
    """Name the user-visible step that broke, so a red run reads like a bug report."""
    try:
        yield
    except Exception as exc:
        raise StepFailed(f"step '{name}' failed: {type(exc).__name__}: {exc}") from exc


@dataclass
class LabelStudio:
    url: str

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method, self.url + path, headers={"Authorization": f"Token {TOKEN}"}, timeout=120, **kwargs
        )
        if response.status_code >= 400:
            raise StepFailed(
                f"Label Studio {method} {path} -> {response.status_code}: {response.text[:1500]}"
            )
        return response.json() if response.content else None


@dataclass
class Hub:
    url: str
    data_dir: Path
    detector_url: str

    @property
    def admin_password(self) -> str:
        return (self.data_dir / "admin-password").read_text().strip()

    def shell(self, script: str) -> str:
        """Run Python in the Hub's Django (its own data dir and database); what it printed."""
        env = {**os.environ, "HUB_DATA_DIR": str(self.data_dir)}
        env.pop("DATABASE_URL", None)
        return manage_shell(env, script)

    def training_busy(self, slug: str) -> bool:
        """Whether the model has a training job queued or running (events keep adding runs)."""
        script = (
            "from registry.models import TrainingJob\n"
            f"print(TrainingJob.objects.filter(model_project__model__slug={slug!r}, "
            "status__in=['queued', 'running']).exists())\n"
        )
        return self.shell(script).strip() == "True"


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudio]:
    if not LS_BIN.exists():
        pytest.fail(f"Label Studio is not installed at {LS_BIN}: run `make e2e`")
    data = tmp_path_factory.mktemp("label-studio")
    with label_studio_process(
        LS_BIN, data, username="admin@example.com", password="e2e-admin-password", token=TOKEN
    ) as url:
        yield LabelStudio(url=url)


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """The quickstart itself (bin/run-hub): detector, Celery worker, gunicorn, on a scratch data dir."""
    port, detector_port = free_port(), free_port()
    data = tmp_path_factory.mktemp("hub")
    log = data / "hub.log"
    env = {
        **os.environ,
        "PY": str(REPO_ROOT / ".venv" / "bin" / "python") if (REPO_ROOT / ".venv").exists() else "python3",
        "PORT": str(port),
        "DETECTOR_PORT": str(detector_port),
        "HUB_DATA_DIR": str(data),
        "HUB_TRAINING_DEBOUNCE_SECONDS": "1",
        # A killed worker's job is given back after 10 s, and pre-annotation writes come in several
        # imports, so a job lasts long enough to be watched and interrupted.
        "HUB_JOB_STALE_SECONDS": "10",
        "HUB_PREANNOTATION_WRITE_SIZE": "250",
    }
    for key in ("DATABASE_URL", "CELERY_BROKER_URL", "HUB_BROKER_DIR"):
        env.pop(key, None)  # the quickstart's own SQLite and folder broker
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bin/run-hub"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(
            answers_ok(f"http://127.0.0.1:{port}/ml/byom-detector/health"), process, "the Hub", 120, log
        )
        yield Hub(
            url=f"http://127.0.0.1:{port}",
            data_dir=data,
            detector_url=f"http://127.0.0.1:{detector_port}/api/infer",
        )
    finally:
        stop_group(process)
