"""The processes that the tests and the benchmarks start beside the Hub: gunicorn with the production
config, a Celery worker, real Label Studio, ``manage.py shell``. Plain Python (no Django, no pytest),
so that ``bench/`` uses the same start-up as the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gunicorn_command(port: int, workers: int, *extra: str) -> list[str]:
    """The Hub under gunicorn with the production config file, on a loopback port."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "hubsite/gunicorn.conf.py",
        "hubsite.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        *extra,
    ]


def celery_worker_command(*extra: str) -> list[str]:
    """One Celery worker of the Hub's queue, one job at a time, without the cluster chatter."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "hubsite",
        "worker",
        "--pool=solo",
        "-Q",
        "hub",
        "--without-gossip",
        "--without-mingle",
        *extra,
    ]


def preannotate_command(
    model: str, project_id: int, label_studio_url: str, api_key: str, *extra: str
) -> list[str]:
    """``wow-ai-ml preannotate`` of one model over one Label Studio project, as an operator runs it."""
    return [
        sys.executable,
        "-m",
        "wow_ai_hub.cli",
        "preannotate",
        "--model",
        model,
        "--project",
        str(project_id),
        "--label-studio-url",
        label_studio_url,
        "--api-key",
        api_key,
        *extra,
    ]


def preannotation_job_id(cli_output: str) -> int:
    """The job's id in what ``wow-ai-ml preannotate`` printed ("Pre-annotation job N: ...")."""
    return int(cli_output.split("Pre-annotation job ", 1)[1].split(":", 1)[0])


def manage_shell(env: dict[str, str], script: str, timeout: float = 120) -> str:
    """Run Python in the Hub's Django, as ``env`` configures it; what it printed."""
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", script],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.stdout


def answers_ok(url: str) -> Callable[[], bool]:
    """A readiness check: ``url`` answers 200."""

    def check() -> bool:
        try:
            return requests.get(url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    return check


def wait_ready(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, timeout: float, log: Path | None
) -> None:
    """Return once ``ready()``; RuntimeError with the log's tail if the process ends or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"{what} did not start within {timeout:.0f} s:\n{tail}")
        time.sleep(0.2)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started in a session of its own, and everything it started."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextmanager
def label_studio(binary: Path, data_dir: Path, *, username: str, password: str, token: str) -> Iterator[str]:
    """Real Label Studio on a loopback port with a scratch data folder, a user and a legacy API token
    of our choosing, allowed to reach ML backends on loopback; yields its URL."""
    port = free_port()
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_USERNAME": username,
        "LABEL_STUDIO_PASSWORD": password,
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "ML_BLOCK_LOCAL_IP": "false",
        "SSRF_PROTECTION_ENABLED": "false",
        "LABEL_STUDIO_HOST": f"http://127.0.0.1:{port}",
    }
    for key in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL"):
        env.pop(key, None)  # the Hub's, not Label Studio's
    log = data_dir / "label-studio.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(binary), "start", "--no-browser", "--internal-host", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(answers_ok(f"{url}/health"), process, "Label Studio", 240, log)
        yield url
    finally:
        stop_group(process)
