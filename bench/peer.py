"""Serve the peer for benchmark 3: label-studio-ml-backend 2.x (Label Studio's own ML backend SDK)
running the same dummy model, under gunicorn with the Hub's worker and thread counts.

Usage: python bench/peer.py --source <git dir of a fetched HumanSignal/label-studio-ml-backend>
                            [--port 9190] [--workers 2] [--threads 32]
The first run builds bench/.peer/ (ignored by git): a virtualenv with the peer's dependencies from
PyPI and the SDK exported from the fetched copy, which is never committed. Serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent / ".peer"
MODEL_DIR = Path(__file__).resolve().parent / "peer_model"
# The peer's requirements.txt asks label-studio-sdk from GitHub, which this network cannot reach:
# PyPI's release (the one the Hub uses) stands in. The rest is as the peer pins it.
PEER_REQUIREMENTS = [
    "Flask>2.3",
    "colorama~=0.4",
    "requests~=2.31",
    "semver~=3.0.2",
    "label-studio-sdk==2.1.2",
    "gunicorn==27.0.1",
]


def build(source: str) -> Path:
    venv = PEER_DIR / "venv"
    python = venv / "bin" / "python"
    if (PEER_DIR / ".built").exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PEER_REQUIREMENTS], check=True)
    src = PEER_DIR / "src"
    src.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        # The SDK without its examples (a fetched copy may lack their large files).
        [
            "git",
            "--git-dir",
            source,
            "archive",
            "HEAD",
            "--",
            "label_studio_ml",
            ":(exclude)label_studio_ml/examples",
            "setup.py",
            "requirements.txt",
            "README.md",
        ],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(src)], check=True)
    (PEER_DIR / ".built").touch()
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="the fetched repository's git directory")
    parser.add_argument("--port", type=int, default=9190)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--threads", type=int, default=32)  # the Hub's GUNICORN_THREADS default
    args = parser.parse_args()
    python = build(args.source)
    env = {**os.environ, "MODEL_DIR": str(PEER_DIR / "model-cache"), "LOG_LEVEL": "WARNING"}
    os.execve(  # noqa: S606 - becomes gunicorn, so Ctrl-C and signals reach it directly
        str(python),
        [
            str(python),
            "-m",
            "gunicorn",
            "--chdir",
            str(MODEL_DIR),
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--worker-class",
            "gthread",
            # As the Hub's gunicorn.conf.py: without it, one worker may take every connection.
            "--reuse-port",
            "dummy_peer:app",
        ],
        env,
    )


if __name__ == "__main__":
    main()
