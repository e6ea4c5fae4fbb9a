from __future__ import annotations

import json
import os
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings
from django.test import Client

from registry.models import RegisteredModel
from tests.live import LiveHub, gunicorn_hub, url_of_test_database
from tests.processes import REPO_ROOT, celery_worker_command

# Traffic counters written with every request, so tests can read them at once (servers the
# tests start inherit it); tests/registry/test_counters.py covers the batched writes.
os.environ["HUB_COUNTER_FLUSH_SECONDS"] = "0"


def pytest_configure(config: pytest.Config) -> None:
    """Jobs the tests publish go to a broker of their own, never to the quickstart's."""
    from hubsite.celery import app

    broker_dir = Path(tempfile.mkdtemp(prefix="hub-test-broker-"))
    os.environ["HUB_BROKER_DIR"] = str(broker_dir)  # for the workers the tests start
    if app.conf.broker_url.startswith("filesystem"):
        for folder in ("queue", "processed", "control"):
            (broker_dir / folder).mkdir()
        app.conf.broker_transport_options = {
            "data_folder_in": str(broker_dir / "queue"),
            "data_folder_out": str(broker_dir / "queue"),
            "processed_folder": str(broker_dir / "processed"),
            "control_folder": str(broker_dir / "control"),
            "store_processed": False,
        }
    elif app.conf.broker_url.startswith("redis"):
        import redis

        redis.Redis.from_url(app.conf.broker_url).flushdb()  # a database of the tests' own (.ci/run: 15)


CFG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="Positive"/><Choice value="Negative"/></Choices></View>'
)
ECHO_CFG = '<View><Text name="text" value="$text"/><TextArea name="note" toName="text"/></View>'


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


class ProtocolClient:
    """Speaks to the Hub the way Label Studio's connector does: JSON bodies, no trailing slash."""

    kind = ""

    def request(self, method: str, path: str, body: Any = None, raw: str | None = None) -> Answer:
        raise NotImplementedError

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def post(self, path: str, body: Any = None, raw: str | None = None) -> Answer:
        return self.request("POST", path, body, raw)

    @staticmethod
    def _decode(status: int, content: bytes, headers: dict[str, str]) -> Answer:
        # Label Studio treats any 2xx body that is not a JSON object as a failure (checklist point 32).
        body = json.loads(content) if content else None
        if 200 <= status < 300:
            assert isinstance(body, dict), f"2xx body must be a JSON object, got {content[:200]!r}"
        return Answer(status=status, body=body, headers=headers)


class DjangoProtocolClient(ProtocolClient):
    kind = "django"

    def __init__(self) -> None:
        self._client = Client()

    def request(self, method: str, path: str, body: Any = None, raw: str | None = None) -> Answer:
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if method == "GET":
            response = self._client.get(path)
        else:
            response = self._client.generic(method, path, data or "", content_type="application/json")
        return self._decode(response.status_code, response.content, dict(response.headers))


class LiveProtocolClient(ProtocolClient):
    kind = "live"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._session = requests.Session()

    def request(self, method: str, path: str, body: Any = None, raw: str | None = None) -> Answer:
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        response = self._session.request(
            method, self.base_url + path, data=data, headers=headers, timeout=(1, 30), allow_redirects=False
        )
        return self._decode(response.status_code, response.content, dict(response.headers))


@pytest.fixture(scope="session")
def live_hub(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveHub]:
    """The Hub under gunicorn on loopback, on the test database."""
    marker = tmp_path_factory.mktemp("marker") / "constructed"
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with django_db_blocker.unblock():
        database_url = url_of_test_database()
    with gunicorn_hub(log, marker, database_url) as hub:
        yield hub


@pytest.fixture(params=["django", "live"])
def protocol(request: pytest.FixtureRequest) -> ProtocolClient:
    """The same checks against the Django test client and against a live gunicorn server.

    Modules using it are marked ``django_db(transaction=True)``, so what a test writes is committed
    and the live server sees it (requesting `db` lazily from here proved unreliable).
    """
    marker = request.node.get_closest_marker("django_db")
    assert marker is not None and marker.kwargs.get("transaction"), (
        "mark the module django_db(transaction=True)"
    )
    if request.param == "django":
        return DjangoProtocolClient()
    hub: LiveHub = request.getfixturevalue("live_hub")
    return LiveProtocolClient(hub.url)


def register(slug: str, import_path: str, **fields: Any) -> RegisteredModel:
    return RegisteredModel.objects.create(
        name=slug, slug=slug, kind="python", import_path=import_path, **fields
    )


@pytest.fixture
def models(protocol: ProtocolClient) -> dict[str, RegisteredModel]:
    """Every test model, registered (after `protocol` has opened the right kind of database access)."""
    paths = {
        "dummy": "examples.dummy.model.DummyModel",
        "text-classifier": "examples.text_classifier.model.TextClassifier",
        "echo": "tests.models.protocol.EchoModel",
        "two": "tests.models.protocol.TwoOpinionsModel",
        "mixed": "tests.models.protocol.MixedRegionsModel",
        "raising": "tests.models.protocol.RaisingModel",
        "wrong-count": "tests.models.protocol.WrongCountModel",
        "broken": "tests.models.protocol.BrokenConstructorModel",
        "slow": "tests.models.protocol.SlowConstructorModel",
        "image": "tests.models.protocol.ImageModel",
        "stateful": "tests.models.protocol.StatefulModel",
        "sdk-style": "tests.models.ls_sdk_style.KeywordSentiment",
    }
    return {slug: register(slug, path) for slug, path in paths.items()}


def admin_model_form(**fields: str) -> dict[str, str]:
    """The admin's add/change form for a registered model, as a browser posts it, with defaults."""
    form = {
        "name": "Model",
        "slug": "model",
        "kind": "python",
        "enabled": "on",
        "description": "",
        "version": "1",
        "import_path": "",
        "params": "{}",
        "url": "",
        "classes_url": "",
        "auth_method": "none",
        "auth_username": "",
        "auth_header_name": "",
        "auth_secret": "",
        "image_transport": "base64",
        "timeout_seconds": "30",
        "max_concurrency": "8",
        "threshold": "0",
        "request_extra": "{}",
        "classes-TOTAL_FORMS": "0",
        "classes-INITIAL_FORMS": "0",
        "classes-MIN_NUM_FORMS": "0",
        "classes-MAX_NUM_FORMS": "1000",
    }
    return {**form, **fields}


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            (self.process.kill if kill else self.process.terminate)()
            self.process.wait(timeout=30)


class WorkerFactory:
    """Starts real Celery workers on the test database and the tests' broker."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.workers: list[Worker] = []

    def start(self, **env_overrides: str) -> Worker:
        log = self.tmp_path / f"worker-{len(self.workers)}.log"
        env = {
            **os.environ,
            "DATABASE_URL": url_of_test_database(),
            "HUB_DATA_DIR": str(settings.DATA_DIR),
            "DB_CONN_MAX_AGE": "0",
            "HUB_JOB_HEARTBEAT_SECONDS": "0.5",
            "HUB_JOB_STALE_SECONDS": "3",
            "HUB_TRAINING_DEBOUNCE_SECONDS": str(settings.HUB_TRAINING_DEBOUNCE_SECONDS),
            **env_overrides,
        }
        with log.open("w") as log_file:
            process = subprocess.Popen(
                celery_worker_command("--concurrency=1", "-n", f"test{len(self.workers)}@%h", "-l", "INFO"),
                cwd=REPO_ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(process=process, log=log)
        self.workers.append(worker)
        deadline = time.monotonic() + 60
        while "ready." not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                worker.stop(kill=True)
                pytest.fail(f"the Celery worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        return worker


@pytest.fixture
def celery_workers(transactional_db: None, tmp_path: Path, settings: Any) -> Iterator[WorkerFactory]:
    settings.HUB_TRAINING_DEBOUNCE_SECONDS = 1.5
    factory = WorkerFactory(tmp_path)
    yield factory
    for worker in factory.workers:
        worker.stop(kill=True)


def wait_for(condition: Any, timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


class QuietHandler(BaseHTTPRequestHandler):
    """Base for the stand-in servers of the tests: one call to answer, no request logging."""

    def reply(self, status: int, body: bytes = b"", content_type: str = "application/octet-stream") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serving(
    handler: type[BaseHTTPRequestHandler],
    address: tuple[str, int] = ("127.0.0.1", 0),
    tls: ssl.SSLContext | None = None,
) -> Iterator[str]:
    """A stdlib HTTP(S) server, on a free loopback port unless told, in a thread; yields its base URL."""
    server = ThreadingHTTPServer(address, handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{'https' if tls else 'http'}://{address[0]}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def counters_written_at_once(settings: Any) -> None:
    settings.HUB_COUNTER_FLUSH_SECONDS = 0


@pytest.fixture(autouse=True)
def caches_cleared() -> Iterator[None]:
    """Each test's database starts afresh, and so do this process's caches of it (slugs, ids and
    versions repeat from test to test)."""
    from django.core.cache import caches

    from api.auth import api_auth_failures
    from inference.prediction_cache import CACHE_ALIAS
    from registry.access import credential_gate
    from registry.hot_path import hot_path

    hot_path.clear()
    caches[CACHE_ALIAS].clear()
    caches["default"].clear()
    api_auth_failures.clear()  # the REST API's failed token checks
    credential_gate.clear()  # the protocol's verified credentials and failure counts
    yield
    hot_path.clear()
    caches[CACHE_ALIAS].clear()
    caches["default"].clear()
