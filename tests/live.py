"""The Hub served by gunicorn on loopback with the production config file, for tests that need a real
server, on the test database."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.processes import answers_ok, free_port, gunicorn_command, wait_ready


def url_of_test_database() -> str:
    """The URL of the database pytest-django created, for servers started by the tests."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class LiveHub:
    url: str
    marker: Path
    log: Path  # gunicorn's stdout and stderr: its access log and the Hub's own log lines


@contextmanager
def gunicorn_hub(
    log: Path, marker: Path, database_url: str, workers: int = 2, **env_overrides: str
) -> Iterator[LiveHub]:
    """The Hub under gunicorn with the production config file on loopback, on ``database_url`` (the
    test database's, ``url_of_test_database()``); ``env_overrides`` change its settings."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HUB_DATA_DIR": str(settings.DATA_DIR),
        "HUB_TEST_CONSTRUCTION_MARKER": str(marker),
        "DB_CONN_MAX_AGE": "0",
        **env_overrides,
    }
    with log.open("w") as log_file:
        process = subprocess.Popen(
            gunicorn_command(port, workers),
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(answers_ok(f"http://127.0.0.1:{port}/health"), process, "gunicorn", 60, log)
    except RuntimeError as exc:
        process.kill()
        pytest.fail(str(exc))
    url = f"http://127.0.0.1:{port}"
    try:
        yield LiveHub(url=url, marker=marker, log=log)
    finally:
        process.terminate()
        process.wait(timeout=30)
