"""Shared pieces of the benchmarks: a Hub under gunicorn in a scratch data directory, and percentiles."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.processes import REPO_ROOT, answers_ok, free_port, gunicorn_command, manage_shell, wait_ready

RESULTS_DIR = REPO_ROOT / "bench" / "results"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarize(samples_ms: list[float]) -> dict[str, float]:
    return {
        "n": len(samples_ms),
        "p50_ms": round(percentile(samples_ms, 50), 3),
        "p99_ms": round(percentile(samples_ms, 99), 3),
        "mean_ms": round(statistics.fmean(samples_ms), 3),
    }


@contextmanager
def running_hub(
    models: list[tuple[str, str]],
    workers: int = 2,
    setup: Callable[[dict[str, str]], None] | None = None,
    env_overrides: dict[str, str] | None = None,
    log: Path | None = None,
    extra_args: list[str] | None = None,
) -> Iterator[str]:
    """Migrate a scratch SQLite Hub, register ``(slug, import_path)`` Python models (and whatever
    ``setup`` does with the Hub's environment), serve it; yield its URL. ``env_overrides`` give the
    Hub services of its own (a ``DATABASE_URL``, a ``CELERY_BROKER_URL``) or other settings;
    ``extra_args`` go to gunicorn after the config file's; its output goes to ``log`` if given."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as data_dir:
        env = {**os.environ, "HUB_DATA_DIR": data_dir, "GUNICORN_ACCESS_LOG": "", "LOG_LEVEL": "WARNING"}
        env.pop("DATABASE_URL", None)
        env.update(env_overrides or {})
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=REPO_ROOT, env=env, check=True)
        script = "\n".join(
            f"RegisteredModel.objects.create(name={slug!r}, slug={slug!r}, kind='python',"
            # Every call runs the model: a benchmark repeating one task measures the model.
            f" import_path={path!r}, prediction_cache=False)"
            for slug, path in models
        )
        manage_shell(env, "from registry.models import RegisteredModel\n" + script)
        if setup is not None:
            setup(env)
        port = free_port()
        output = log.open("w") if log is not None else subprocess.DEVNULL
        server = subprocess.Popen(
            gunicorn_command(port, workers, *(extra_args or [])),
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(answers_ok(url + "/health"), server, "the Hub", 60, log)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)
            if not isinstance(output, int):
                output.close()


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2))
    return path


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row[c]).ljust(w) for c, w in zip(columns, widths, strict=True)))


def peer_benchmark_arguments(description: str, seconds: float) -> argparse.Namespace:
    """``--peer-url``, ``--seconds`` and ``--concurrency`` of the benchmarks that run beside the peer."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--peer-url", help="a peer ML backend serving the dummy model (bench/peer.py)")
    parser.add_argument("--seconds", type=float, default=seconds)
    parser.add_argument("--concurrency", type=int, default=16)
    return parser.parse_args()
