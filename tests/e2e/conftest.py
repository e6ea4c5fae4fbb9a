"""Real Label Studio (installed by `make e2e` into .e2e/ls-venv) beside a real Hub (bin/run-hub)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.live import free_port

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


def wait_http(url: str, timeout: float, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.5)
    raise StepFailed(f"{url} did not come up:\n{log.read_text()[-4000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


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
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=REPO_ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.stdout

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
    port = free_port()
    data = tmp_path_factory.mktemp("label-studio")
    log = data / "label-studio.log"
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "LABEL_STUDIO_USERNAME": "admin@example.com",
        "LABEL_STUDIO_PASSWORD": "e2e-admin-password",
        "LABEL_STUDIO_USER_TOKEN": TOKEN,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "ML_BLOCK_LOCAL_IP": "false",
        "SSRF_PROTECTION_ENABLED": "false",
        "LABEL_STUDIO_HOST": f"http://127.0.0.1:{port}",
    }
    for key in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL"):
        env.pop(key, None)  # Label Studio reads some of these too; it keeps its own SQLite
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(LS_BIN), "start", "--no-browser", "--internal-host", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 180, process, log)
        yield LabelStudio(url=f"http://127.0.0.1:{port}")
    finally:
        stop(process)


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
        wait_http(f"http://127.0.0.1:{port}/ml/byom-detector/health", 120, process, log)
        yield Hub(
            url=f"http://127.0.0.1:{port}",
            data_dir=data,
            detector_url=f"http://127.0.0.1:{detector_port}/api/infer",
        )
    finally:
        stop(process)
