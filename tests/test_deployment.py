"""What can be checked of the deployment here (no Docker engine): the entry script, run directly, and
the compose file's structure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

from tests.processes import REPO_ROOT, free_port


def test_the_image_entry_script_migrates_and_serves(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "HUB_DATA_DIR": str(tmp_path),
        "PYTHON": sys.executable,
        "WEB_CONCURRENCY": "1",
    }
    for key in ("DATABASE_URL", "HOST"):
        env.pop(key, None)
    env["HOST"] = "127.0.0.1"
    process = subprocess.Popen(
        ["bin/docker-entrypoint"],
        cwd=REPO_ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except requests.RequestException:
                time.sleep(0.3)
        assert response.json() == {"status": "UP", "database": "ok"}
        assert (tmp_path / "hub.sqlite3").exists()  # migrated on start
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_the_compose_file_runs_the_hub_a_worker_postgres_and_redis() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"hub", "worker", "db", "redis"}
    assert services["hub"]["ports"] == ["9090:9090"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "hubsite", "worker"]
    for name in ("hub", "worker"):
        environment = services[name]["environment"]
        # A deployment names its hosts: compose refuses to start without them.
        assert environment["ALLOWED_HOSTS"].startswith("${ALLOWED_HOSTS:?")
        assert environment["DATABASE_URL"].startswith("postgres://") and environment[
            "CELERY_BROKER_URL"
        ].startswith("redis://")
        assert services[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
    assert {"hub-data", "db-data"} <= set(compose["volumes"])
    assert "healthcheck" in services["db"] and "healthcheck" in services["redis"]


def test_the_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert dockerfile.count("FROM ") == 2 and "USER hub" in dockerfile
    assert (
        "collectstatic" in dockerfile
        and "HEALTHCHECK" in dockerfile
        and 'CMD ["bin/docker-entrypoint"]' in dockerfile
    )
