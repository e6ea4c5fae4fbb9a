"""``init_app(model_class)``: the Hub serving one model class in this process, as label_studio_ml's
``init_app`` does for its Flask app.

Its ``test_client()`` answers like the Flask test client that label-studio-ml-backend's ``test_api.py``
files use (``post(path, data=..., content_type=...)`` or ``post(path, json=...)``; ``.status_code``,
``.json``, ``.get_json()``, ``.data``), and every call goes through the Hub's real protocol stack: the
model is registered by its import path and ``/predict`` is ``/ml/<slug>/predict`` on Django's test
client. Events that start training run at once in this process after their call (an embedded worker),
so ``fit`` sees what the test patched.

Served (``app.run()`` in a backend's ``_wsgi.py``, or ``gunicorn _wsgi:app`` as upstream's Dockerfiles
do), each process trains in a thread of its own: queued jobs of the model run once their debounce is
over, so Label Studio's annotations reach ``fit`` without a separate worker.

Outside a configured Django (a backend's own ``pytest``), it sets the Hub up on its own SQLite file in
``$MODEL_DIR/.hub-data`` when ``MODEL_DIR`` is set (as upstream keeps its state in ``MODEL_DIR``, so a
restarted server keeps what it learnt), else in a temporary data directory, unless ``DATABASE_URL`` /
``HUB_DATA_DIR`` say otherwise. With
``WOW_AI_HUB_TEST_URL`` set, the test client speaks HTTP to that running backend instead (``wow-ai-ml
start``, or a Hub's ``/ml/<slug>``), so the same test file checks a deployed model.
"""

from __future__ import annotations

import itertools
import json as jsonlib
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from wow_ai_hub.model import WOWAIHUB

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

logger = logging.getLogger(__name__)

# How often a served app's trainer looks for jobs that are due, and reaps runs whose process died.
TRAINER_POLL_SECONDS = 1.0
TRAINER_REAP_EVERY = 30


def _ensure_django() -> None:
    """Set Django up for the Hub if nothing has (an isolated SQLite database in a temporary folder)."""
    from django.conf import settings

    if settings.configured:
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubsite.settings")
    os.environ.setdefault("HUB_SERVED_ALONE", "1")  # so LABEL_STUDIO_URL / _API_KEY are read, as upstream
    if "DATABASE_URL" not in os.environ and "HUB_DATA_DIR" not in os.environ:
        model_dir = os.environ.get("MODEL_DIR")
        data_dir = os.path.join(os.path.abspath(model_dir), ".hub-data") if model_dir else ""
        os.environ["HUB_DATA_DIR"] = data_dir or tempfile.mkdtemp(prefix="wow-ai-hub-app-")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _register(model_class: type[WOWAIHUB], basic_auth: tuple[str, str] | None) -> str:
    """Register the class under a slug of its name (a new one if that slug names another class)."""
    from registry.models import RegisteredModel
    from registry.services import registered_model_register

    import_path = f"{model_class.__module__}.{model_class.__qualname__}"
    base = re.sub(r"[^a-z0-9]+", "-", model_class.__name__.lower()).strip("-") or "model"
    slug, n = base, 1
    while RegisteredModel.objects.filter(slug=slug).exclude(import_path=import_path).exists():
        n += 1
        slug = f"{base}-{n}"
    model, _ = registered_model_register(
        name=model_class.__name__, slug=slug, kind="python", import_path=import_path
    )
    if basic_auth is not None:
        model.protocol_auth_required = True
        model.protocol_username = basic_auth[0]
        model.set_protocol_password(basic_auth[1])
        model.save()
    return model.slug


class HubResponse:
    """An answer, with the attributes of a Flask test response that tests read."""

    def __init__(self, status_code: int, data: bytes, headers: dict[str, str]) -> None:
        self.status_code = status_code
        self.data = data
        self.headers = headers
        self.content_type = headers.get("Content-Type", "")
        self.mimetype = self.content_type.split(";")[0]

    @property
    def status(self) -> str:
        return str(self.status_code)

    @property
    def text(self) -> str:
        return self.data.decode()

    @property
    def json(self) -> Any:
        return self.get_json(silent=True)

    def get_json(self, force: bool = False, silent: bool = False) -> Any:
        try:
            return jsonlib.loads(self.data) if self.data else None
        except ValueError:
            if silent:
                return None
            raise

    def get_data(self, as_text: bool = False) -> bytes | str:
        return self.text if as_text else self.data


class HubTestClient:
    """Calls the model the way Flask's test client calls a label_studio_ml app."""

    def __init__(self, app: HubApp) -> None:
        self.app = app

    def __enter__(self) -> HubTestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def open(
        self,
        path: str,
        method: str = "GET",
        data: Any = None,
        json: Any = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> HubResponse:
        if json is not None:
            data, content_type = jsonlib.dumps(json), "application/json"
        if isinstance(data, dict) and content_type in (None, "application/json"):
            data, content_type = jsonlib.dumps(data), "application/json"
        body = data.encode() if isinstance(data, str) else (data or b"")
        url = os.environ.get("WOW_AI_HUB_TEST_URL", "")
        if url:
            response = _over_http(url, method, path, body, content_type, headers or {})
        else:
            response = self._in_process(method, path, body, content_type, headers or {})
        if method.upper() == "POST" and path.rstrip("/").endswith(("/webhook", "/train")) and not url:
            self.app.run_queued_jobs()
        return response

    def _in_process(
        self, method: str, path: str, body: bytes, content_type: str | None, headers: dict[str, str]
    ) -> HubResponse:
        from django.test import Client

        answer = Client().generic(
            method.upper(),
            self.app.hub_path(path),
            body,
            content_type=content_type or "application/octet-stream",
            headers=headers,
        )
        return HubResponse(answer.status_code, answer.content, dict(answer.headers))

    def get(self, path: str, **kwargs: Any) -> HubResponse:
        return self.open(path, method="GET", **kwargs)

    def post(self, path: str, **kwargs: Any) -> HubResponse:
        return self.open(path, method="POST", **kwargs)

    def put(self, path: str, **kwargs: Any) -> HubResponse:
        return self.open(path, method="PUT", **kwargs)

    def delete(self, path: str, **kwargs: Any) -> HubResponse:
        return self.open(path, method="DELETE", **kwargs)


def _over_http(
    base_url: str, method: str, path: str, body: bytes, content_type: str | None, headers: dict[str, str]
) -> HubResponse:
    """The call over HTTP with the standard library, so a test that fakes ``requests`` (``responses``)
    fakes only what the model itself fetches, never the call to the model."""
    import urllib.error
    import urllib.request

    sent = {**headers, **({"Content-Type": content_type} if content_type else {})}
    request = urllib.request.Request(  # noqa: S310 - the test's own backend URL
        base_url.rstrip("/") + path, data=body or None, headers=sent, method=method.upper()
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as answer:  # noqa: S310
            return HubResponse(answer.status, answer.read(), dict(answer.headers))
    except urllib.error.HTTPError as error:
        return HubResponse(error.code, error.read(), dict(error.headers))


class HubApp:
    """One model class served by the Hub in this process: ``test_client()`` for tests, ``run()`` to serve."""

    def __init__(self, model_class: type[WOWAIHUB], slug: str) -> None:
        self.model_class = model_class
        self.slug = slug
        self.config: dict[str, Any] = {}  # what tests set (TESTING); the Hub reads nothing from it
        self._wsgi: Callable[[Environ, StartResponse], Iterable[bytes]] | None = None
        self._trainer: threading.Thread | None = None
        self._trainer_lock = threading.Lock()

    def hub_path(self, path: str) -> str:
        """``/predict`` -> ``/ml/<slug>/predict``: the model's protocol routes."""
        if path.startswith("/ml/"):
            return path
        return f"/ml/{self.slug}" + ("" if path in ("", "/") else path)

    def test_client(self) -> HubTestClient:
        return HubTestClient(self)

    def run_queued_jobs(self) -> None:
        """The test client's embedded worker: run this model's queued training jobs now, in this thread."""
        from registry.models import TrainingJob

        queued = TrainingJob.objects.filter(
            model_project__model__slug=self.slug, status=TrainingJob.Status.QUEUED
        )
        queued.update(not_before=None)  # no debounce: run them now
        self.run_due_jobs(worker="init_app")

    def run_due_jobs(self, worker: str) -> int:
        """Run this model's queued training jobs whose debounce is over; how many ran here. Each is
        claimed first, so processes serving the same database never run one twice."""
        from django.db.models import Q
        from django.utils import timezone

        from registry.models import TrainingJob
        from training.tasks import training_job_run

        due = TrainingJob.objects.filter(
            Q(not_before__isnull=True) | Q(not_before__lte=timezone.now()),
            model_project__model__slug=self.slug,
            status=TrainingJob.Status.QUEUED,
        )
        return sum(bool(training_job_run(pk, worker=worker)) for pk in list(due.values_list("pk", flat=True)))

    def _train_forever(self) -> None:
        """The served app's trainer thread: due jobs, and now and then the reaper (a run whose
        process was stopped is queued again)."""
        from django.db import close_old_connections

        from training.tasks import jobs_reap

        worker = f"init_app:{os.getpid()}"
        for turn in itertools.count():  # forever; a daemon thread ends with its process
            try:
                if turn % TRAINER_REAP_EVERY == 0:
                    jobs_reap()
                self.run_due_jobs(worker)
            except Exception:
                logger.exception("The training thread of %s failed; it goes on", self.slug)
            finally:
                close_old_connections()
            time.sleep(TRAINER_POLL_SECONDS)

    def start_trainer(self) -> None:
        """Start this process's trainer thread, once (a served app has no Celery worker beside it)."""
        with self._trainer_lock:
            if self._trainer is None or not self._trainer.is_alive():
                self._trainer = threading.Thread(
                    target=self._train_forever, name=f"wow-ai-hub-trainer-{self.slug}", daemon=True
                )
                self._trainer.start()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """WSGI: the model's protocol at the root, as label_studio_ml serves it, with a trainer thread
        in this process (started at the first request, so after gunicorn's fork)."""
        from django.core.wsgi import get_wsgi_application

        if self._trainer is None:
            self.start_trainer()
        if self._wsgi is None:
            self._wsgi = get_wsgi_application()
        environ["PATH_INFO"] = self.hub_path(environ.get("PATH_INFO", "/"))
        return self._wsgi(environ, start_response)

    def run(self, host: str = "127.0.0.1", port: int = 9090, debug: bool = False, **kwargs: Any) -> None:
        """Serve until interrupted with the standard library's threaded server (for trying a model;
        ``wow-ai-ml start`` is the way to serve one, with a training worker)."""
        from socketserver import ThreadingMixIn
        from wsgiref.simple_server import WSGIServer, make_server

        class Server(ThreadingMixIn, WSGIServer):
            daemon_threads = True

        with make_server(host, port, self, server_class=Server) as server:
            server.serve_forever()


def init_app(
    model_class: type[WOWAIHUB], basic_auth_user: str | None = None, basic_auth_pass: str | None = None
) -> HubApp:
    """The Hub serving ``model_class`` in this process. Basic auth, when both are given (or
    ``BASIC_AUTH_USER``/``BASIC_AUTH_PASS`` are set), is the model's *require credentials*."""
    if not (isinstance(model_class, type) and issubclass(model_class, WOWAIHUB)):
        raise ValueError(  # noqa: TRY004 - the error label_studio_ml raises here
            "init_app needs a subclass of wow_ai_hub.model.LabelStudioMLBase (WOWAIHUB)."
        )
    if os.environ.get("WOW_AI_HUB_TEST_URL"):  # the model runs elsewhere; its client speaks HTTP
        return HubApp(model_class, re.sub(r"[^a-z0-9]+", "-", model_class.__name__.lower()).strip("-"))
    _ensure_django()
    user = basic_auth_user or os.environ.get("BASIC_AUTH_USER")
    password = basic_auth_pass or os.environ.get("BASIC_AUTH_PASS")
    return HubApp(model_class, _register(model_class, (user, password) if user and password else None))
