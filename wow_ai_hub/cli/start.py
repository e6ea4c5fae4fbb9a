"""``wow-ai-ml start DIR``: one backend folder served alone, at the root and at ``/ml/<slug>``, with a
training worker beside it on a broker that is a folder in the backend's data directory."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

import hubsite
from wow_ai_hub.cli.common import CONFIG_FILE, HUB_ROOT, CliError


def backend_config(directory: Path) -> dict[str, str]:
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise CliError(
            f"{directory} is not a backend folder (no {CONFIG_FILE}); create one with wow-ai-ml init"
        )
    config: dict[str, str] = json.loads(path.read_text())
    return config


def check_imports(directory: Path, module: str = "model") -> None:
    sys.path.insert(0, str(directory))
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise CliError(
            f"{module}.py needs {exc.name!r}, which is not installed: pip install {exc.name}"
        ) from exc
    finally:
        sys.path.remove(str(directory))


def standalone_env(
    directory: Path, slug: str, user: str | None = None, password: str | None = None
) -> dict[str, str]:
    env = {
        **os.environ,
        "HUB_DATA_DIR": str(directory.resolve() / ".hub-data"),
        "HUB_STANDALONE_MODEL": slug,
        "PYTHONPATH": os.pathsep.join(
            [str(directory.resolve()), str(HUB_ROOT), os.environ.get("PYTHONPATH", "")]
        ),
    }
    # A standalone backend keeps its own SQLite and its broker (a folder) in the backend folder.
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "HUB_BROKER_DIR"):
        env.pop(name, None)
    if user and password:
        env.update(HUB_BASIC_AUTH_USER=user, HUB_BASIC_AUTH_PASS=password)
    return env


WORKER = ["-m", "celery", "-A", "hubsite", "worker", "--pool=solo", "--concurrency=1", "-Q", "hub"]


def start(args: argparse.Namespace) -> int:
    """Register the model in the folder's database, then run gunicorn and a training worker (on the
    folder broker) until either stops or the command is interrupted; the exit code is gunicorn's."""
    directory = Path(args.dir)
    config = backend_config(directory)
    module = config.get("module", "model")
    check_imports(directory, module)
    env = standalone_env(directory, config["slug"], args.basic_auth_user, args.basic_auth_pass)
    prepare = [
        sys.executable,
        "-m",
        "wow_ai_hub.cli",
        "register",
        "--slug",
        config["slug"],
        "--name",
        config["slug"],
        "--import-path",
        f"{module}.{config['model_class']}",
        "--migrate",
        "--quiet",
    ]
    subprocess.run(prepare, env=env, check=True)
    conf = str(Path(hubsite.__file__).with_name("gunicorn.conf.py"))
    print(
        f"Serving {config['model_class']} at http://{args.host}:{args.port} (and /ml/{config['slug']});"
        " a worker trains it from Label Studio's events",
        flush=True,
    )
    worker = subprocess.Popen(
        [sys.executable, *WORKER, "--without-gossip", "--without-mingle", "-l", "WARNING"], env=env
    )
    bind = ["--bind", f"{args.host}:{args.port}", "--workers", str(args.workers)]
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", conf, "hubsite.wsgi", *bind], env=env)

    def stop(signum: int, frame: FrameType | None) -> None:
        for child in (server, worker):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while server.poll() is None and worker.poll() is None:
            try:
                server.wait(timeout=1)
            except subprocess.TimeoutExpired:
                continue
    finally:
        stop(signal.SIGTERM, None)
        for child in (server, worker):
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
    return server.returncode or 0
