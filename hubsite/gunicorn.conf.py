"""gunicorn settings, from the environment (``gunicorn -c hubsite/gunicorn.conf.py hubsite.wsgi``)."""

import os
import shutil
import tempfile
from typing import Any

# Each worker writes its metrics here and a scrape of /metrics adds them up (core/metrics.py).
# A fresh folder per server: counts left by an earlier run would otherwise be added in.
metrics_dir_made_here = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if metrics_dir_made_here:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="hub-metrics-")

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '9090')}"  # noqa: S104 - a server
# One process per core. Threads let a worker wait on many model calls at once: a request parked on a
# busy model server costs a thread and no CPU, and admission control (inference/admission.py) keeps
# any one model, and all of them together, from holding the threads /health and the others need.
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1))
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
worker_class = "gthread"
# Each worker listens on a socket of its own and the kernel spreads new connections over them. On one
# shared socket, whichever worker wakes first may accept every connection a client opens, and keep-alive
# pins them there: one process (one core, under the GIL) serves them all while the others idle.
reuse_port = True
# Above Label Studio's 100 s predict budget, so a slow batch ends in our own error, not a killed worker.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # empty: no access log
# One fixed control-socket path per user would make several Hubs on one machine (replicas, tests)
# fight over it; the Hub does not use runtime control.
control_socket_disable = True
# Access lines carry the request path, and with it a model's connection key (/ml/<slug>/k/<key>): masked.
logger_class = "core.redact.GunicornLogger"


def post_worker_init(worker: Any) -> None:
    """Freeze what the loaded app holds out of the garbage collector's sight, so that a full collection,
    which stops the whole worker, does not walk every object Django, DRF and the SDK made at start-up
    (bench/README.md has what it cost /predict). Then tell admission control how many threads the
    worker has."""
    import gc

    from django.urls import get_resolver

    from inference.admission import admission

    get_resolver().url_patterns  # noqa: B018 - imports the URL conf and every view, before the freeze
    gc.freeze()
    # Admission control counts the threads this worker really has (--threads may override the env).
    admission.threads = worker.cfg.threads


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    if metrics_dir_made_here:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
