"""Run label-studio-ml-backend's example backends' own tests against the Hub, with only the rename
``label_studio_ml`` -> ``wow_ai_hub``, and print tests passed of total per example and mode.

Not a test module (pytest does not collect it) and no upstream code is kept: the examples are copied
from a fetched git directory into a temporary folder each run.

    python -m tests.upstream.run_upstream --mirror /path/to/label-studio-ml-backend.git [--install]

Modes: ``inprocess`` (their test_api.py through ``wow_ai_hub.api.init_app``), ``start`` (the same file
over HTTP against ``wow-ai-ml start`` on the example folder), ``hub`` (against its ``/ml/<slug>``) and
``wsgi`` (against the example's own ``_wsgi.py`` under ``gunicorn --preload``, as its Dockerfile runs it).
``--install`` puts what the examples need and the Hub lacks into ``.upstream/venv``, a virtualenv
layered on the Hub's (the Hub's packages pinned as constraints, so nothing of the Hub's changes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from io import BytesIO
from pathlib import Path

from tests.upstream.example_catalog import EXAMPLES, MODES, SMOKE_TEST, Example

ROOT = Path(__file__).resolve().parents[2]
OVERLAY = ROOT / ".upstream" / "venv"
DEFAULT_MIRROR = "/work/.mirror/HumanSignal+label-studio-ml-backend/repo"


def copy_example(mirror: str, example: Example, into: Path) -> Path:
    """The example's files at its revision, with ``label_studio_ml`` renamed in every Python file."""
    archive = subprocess.run(
        ["git", f"--git-dir={mirror}", "archive", "--format=tar", example.revision, example.path],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    folder = into / example.path
    template = folder / "_wsgi.py.tmpl"
    if template.exists():  # the template `label-studio-ml create` renders
        text = template.read_text().format(script=example.module, model_class=example.model_class)
        (folder / "_wsgi.py").write_text(text)
    if example.revision != "HEAD":
        (folder / "test_hub_smoke.py").write_text(SMOKE_TEST)
        (folder / "_wsgi.py").write_text(
            f"from wow_ai_hub.api import init_app\nfrom model import {example.model_class}\n\n"
            f"app = init_app(model_class={example.model_class})\n"
        )
    if example.derived is not None:
        source, copy, change = example.derived
        (folder / copy).write_text(change((folder / source).read_text()))
    for path in folder.rglob("*.py"):
        path.write_text(path.read_text().replace("label_studio_ml", "wow_ai_hub"))
    (folder / "wow-ai-ml.json").write_text(
        json.dumps({"model_class": example.model_class, "module": example.module, "slug": slug_of(example)})
    )
    return folder


def slug_of(example: Example) -> str:
    return example.model_class.lower()


def python() -> str:
    return str(OVERLAY / "bin" / "python") if (OVERLAY / "bin" / "python").exists() else sys.executable


def install(examples: list[Example], apt: bool) -> None:
    """What the examples need and the Hub lacks, into the overlay virtualenv; never an upgrade of the Hub's."""
    if not (OVERLAY / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(OVERLAY)], check=True)
        site = next((OVERLAY / "lib").glob("python3*/site-packages"))
        (site / "hub.pth").write_text("\n".join(p for p in sys.path if p.endswith("site-packages")) + "\n")
    constraints = OVERLAY / "constraints.txt"
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze"], check=True, capture_output=True, text=True
    )
    constraints.write_text("\n".join(line for line in frozen.stdout.splitlines() if "==" in line) + "\n")
    wanted = sorted({p for e in examples for p in e.packages if not installed(p)})
    if wanted:
        print(f"installing {' '.join(wanted)} into {OVERLAY}", flush=True)
        subprocess.run(
            [python(), "-m", "pip", "install", "--quiet", "-c", str(constraints), *wanted], check=False
        )
    if apt and shutil.which("tesseract") is None:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "tesseract-ocr", "tesseract-ocr-chi-sim", "tesseract-ocr-deu"],
            check=False,
        )


def installed(package: str) -> bool:
    """Whether the overlay has ``package`` (``name`` or ``name==version``) at that version."""
    name, _, version = package.partition("==")
    probe = f"import importlib.metadata as m, sys; v = m.version({name!r}); sys.exit(bool({version!r}) and not v.startswith({version!r}))"
    return subprocess.run([python(), "-c", probe], capture_output=True).returncode == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(example: Example, data_dir: Path, folder: Path) -> dict[str, str]:
    """What a deployment of the example sets: MODEL_DIR an absolute folder (as upstream's compose files
    do), and the example's folder as the local-files root, so its bundled data files can be read."""
    skip = ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL", "HUB_BROKER_DIR")
    env = {k: v for k, v in os.environ.items() if k not in skip}
    (folder / ".models").mkdir(exist_ok=True)
    env.update(
        example.env,
        HUB_DATA_DIR=str(data_dir),
        PYTHONPATH=str(ROOT),
        HUB_TRAINING_DEBOUNCE_SECONDS="1",
        MODEL_DIR=str(folder / ".models"),
        LOCAL_FILES_DOCUMENT_ROOT=str(folder),
    )
    return env


def run_tests(folder: Path, example: Example, env: dict[str, str], report: Path) -> dict[str, object]:
    command = [
        python(),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:django",
        "-p",
        "no:cacheprovider",
        "--continue-on-collection-errors",  # a file that fails to import costs its own tests only
        f"--junitxml={report}",
        *example.tests,
    ]
    run = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=1800)
    if not report.exists():
        return {"passed": 0, "total": 0, "failures": {"(collection)": (run.stdout + run.stderr)[-400:]}}
    suite = ET.parse(report).getroot()  # noqa: S314 - pytest's own report
    cases = suite.iter("testcase")
    failures: dict[str, str] = {}
    total = passed = 0
    for case in cases:
        total += 1
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is None and case.find("skipped") is None:
            passed += 1
        elif problem is not None:
            failures[case.get("name", "?")] = (
                (problem.get("message") or "").splitlines()[0][:300] if problem.get("message") else ""
            )
    if total == 0:
        failures["(collection)"] = (run.stdout + run.stderr)[-400:]
    return {"passed": passed, "total": total, "failures": failures}


def server_command(server: str, folder: Path, port: int) -> list[str]:
    """``start``: ``wow-ai-ml start`` on the folder; ``wsgi``: the example's own ``_wsgi.py`` under
    gunicorn, as its Dockerfile runs it."""
    if server == "start":
        return [
            python(),
            "-m",
            "wow_ai_hub.cli",
            "start",
            str(folder),
            "-p",
            str(port),
            "--host",
            "127.0.0.1",
        ]
    bind = ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "8", "--timeout", "0"]
    return [python(), "-m", "gunicorn", "--preload", *bind, "_wsgi:app"]


def serve(server: str, folder: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (folder / f"{server}.log").open("w")
    process = subprocess.Popen(
        server_command(server, folder, port),
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, url
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.5)
    return process, ""


# HTTP modes: the server each runs against, and the path the tests' client prefixes.
HTTP_MODES = {"start": ("start", ""), "hub": ("start", "/ml/{slug}"), "wsgi": ("wsgi", "")}


def run_example(
    mirror: str, name: str, example: Example, modes: list[str], workdir: Path
) -> dict[str, object]:
    folder = copy_example(mirror, example, workdir / name)
    results: dict[str, object] = {"note": example.note}
    modes = [m for m in modes if m in example.modes]
    if "inprocess" in modes:
        env = base_env(example, workdir / name / ".inprocess-data", folder)
        results["inprocess"] = run_tests(folder, example, env, workdir / f"{name}-inprocess.xml")
    for server in ("start", "wsgi"):
        server_modes = [m for m in modes if m in HTTP_MODES and HTTP_MODES[m][0] == server]
        if not server_modes:
            continue
        env = base_env(example, folder / ".hub-data", folder)
        if server == "wsgi":  # as the Dockerfile: nothing but MODEL_DIR says where the state goes
            env.pop("HUB_DATA_DIR")
        process, url = serve(server, folder, env)
        try:
            for mode in server_modes:
                if not url:
                    log = (folder / f"{server}.log").read_text()[-400:]
                    results[mode] = {"passed": 0, "total": 0, "failures": {f"({server})": log}}
                    continue
                target = url + HTTP_MODES[mode][1].format(slug=slug_of(example))
                results[mode] = run_tests(
                    folder, example, {**env, "WOW_AI_HUB_TEST_URL": target}, workdir / f"{name}-{mode}.xml"
                )
        finally:
            # A server that failed to start (an example's package missing without --install) is gone.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
            process.wait(timeout=60)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=os.environ.get("UPSTREAM_GIT_DIR", DEFAULT_MIRROR))
    parser.add_argument("--examples", default=",".join(EXAMPLES))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument(
        "--install", action="store_true", help="install what the examples need (.upstream/venv)"
    )
    parser.add_argument("--apt", action="store_true", help="with --install: tesseract-ocr from Debian too")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if not Path(args.mirror).exists():
        print(f"no label-studio-ml-backend git directory at {args.mirror} (--mirror or UPSTREAM_GIT_DIR)")
        return 2
    names = [n for n in args.examples.split(",") if n]
    if args.install:
        install([EXAMPLES[n] for n in names], args.apt)
    workdir = Path(tempfile.mkdtemp(prefix="upstream-examples-"))
    modes = args.modes.split(",")
    everything = {}
    for name in names:
        print(f"== {name}", flush=True)
        everything[name] = outcome = run_example(args.mirror, name, EXAMPLES[name], modes, workdir)
        for mode in (m for m in modes if m in outcome):
            result = outcome[mode]
            assert isinstance(result, dict)
            print(f"  {mode:9} {result['passed']}/{result['total']} passed", flush=True)
            for test, why in result["failures"].items():
                print(f"    FAILED {test}: {why}", flush=True)
        if outcome["note"]:
            print(f"  note: {outcome['note']}")
    (ROOT / ".upstream").mkdir(exist_ok=True)
    (ROOT / ".upstream" / "results.json").write_text(json.dumps(everything, indent=2))
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"kept {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
