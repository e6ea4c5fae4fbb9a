"""`wow-ai-ml`, driven as a user drives it: as a command, in subprocesses."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import CFG, wait_for
from tests.processes import REPO_ROOT, free_port

CLI = [sys.executable, "-m", "wow_ai_hub.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize(
    "command", [[], ["init"], ["start"], ["register"], ["models"], ["deploy"], ["deploy", "gcp"]]
)
def test_every_subcommand_has_help(command: list[str]) -> None:
    done = run(*command, "--help")
    assert done.returncode == 0 and "usage: wow-ai-ml" in done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["nope"],
        ["init", "dir"],
        ["start"],
        ["start", "d", "-p", "notaport"],
        ["start", "d", "--basic-auth-user", "u"],
        ["register", "--slug", "x"],
        ["deploy", "gcp", "d", "--from", "m.py"],
    ],
)
def test_bad_arguments_are_a_usage_error(args: list[str]) -> None:
    done = run(*args)
    assert done.returncode == 2 and "usage:" in done.stderr


def test_init_creates_a_backend_folder_and_refuses_to_overwrite_it(tmp_path: Path) -> None:
    target = tmp_path / "my-backend"
    done = run("init", str(target), "--script", "examples/dummy/model.py")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in target.iterdir()) == [
        "Dockerfile",
        "README.md",
        "docker-compose.yml",
        "model.py",
        "requirements.txt",
        "wow-ai-ml.json",
    ]
    assert '"model_class": "DummyModel"' in (target / "wow-ai-ml.json").read_text()
    assert "wow-ai-ml start" in (target / "README.md").read_text()
    again = run("init", str(target), "--script", "tests/models/ls_sdk_style.py")
    assert again.returncode == 1 and "use --force" in again.stderr
    assert "DummyModel" in (target / "model.py").read_text()
    forced = run("init", str(target), "--script", "tests/models/ls_sdk_style.py", "--force")
    assert forced.returncode == 0 and "KeywordSentiment" in (target / "model.py").read_text()


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("tests/models/protocol.py", "several model classes"),
        ("manage.py", "no class derived"),
        ("nope.py", "no such"),
    ],
)
def test_init_names_what_is_wrong_with_the_script(tmp_path: Path, script: str, message: str) -> None:
    done = run("init", str(tmp_path / "b"), "--script", script)
    assert done.returncode == 1 and message in done.stderr


class Backend:
    def __init__(self, url: str, auth: tuple[str, str] | None) -> None:
        self.url = url
        self.auth = auth

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, self.url + path, auth=self.auth, timeout=30, **kwargs)


@pytest.fixture
def start_backend(tmp_path: Path) -> Iterator[Any]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(script: str, *extra: str, auth: tuple[str, str] | None = None) -> Backend:
        folder = tmp_path / f"backend{len(processes)}"
        assert run("init", str(folder), "--script", script).returncode == 0
        port = free_port()
        log = (tmp_path / f"start{len(processes)}.log").open("w")
        process = subprocess.Popen(
            [*CLI, "start", str(folder), "-p", str(port), "--host", "127.0.0.1", *extra],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(process)
        backend = Backend(f"http://127.0.0.1:{port}", auth)
        deadline = time.monotonic() + 60
        while True:
            try:
                if backend.call("GET", "/health").status_code == 200:
                    return backend
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"wow-ai-ml start did not serve: {(tmp_path / f'start{len(processes) - 1}.log').read_text()[-2000:]}"
                )
            time.sleep(0.3)

    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


@pytest.mark.parametrize("base", ["", "/ml/backend0"])
def test_start_serves_the_whole_protocol_at_the_root_and_under_ml(start_backend: Any, base: str) -> None:
    backend = start_backend("tests/models/ls_sdk_style.py")
    health = backend.call("GET", base + "/health").json()
    assert health["status"] == "UP" and health["model_class"] == "KeywordSentiment"
    assert backend.call("GET", base + "/").json() == health
    setup = backend.call("POST", base + "/setup", json={"project": "1.1700000000", "schema": CFG})
    assert setup.json() == {"model_version": "backend0@1"}
    tasks = [{"id": 1, "data": {"text": "I love it"}}, {"id": 2, "data": {"text": "meh"}}]
    results = backend.call(
        "POST", base + "/predict", json={"tasks": tasks, "project": "1.1700000000", "label_config": CFG}
    ).json()["results"]
    assert [r["result"][0]["value"]["choices"] for r in results] == [["Positive"], ["Negative"]]
    webhook = backend.call(
        "POST", base + "/webhook", json={"action": "ANNOTATION_CREATED", "project": {"id": 1}}
    )
    assert webhook.status_code == 201
    assert backend.call("GET", base + "/versions").json()["versions"][0] == "backend0@1"
    assert backend.call("GET", base + "/metrics").json()["predictions_total"] == 2
    assert backend.call("GET", base + "/predict").status_code == 405
    assert backend.call("POST", base + "/nothing", json={}).json()["code"] == "not_found"


def test_start_with_basic_auth_refuses_requests_without_it(start_backend: Any) -> None:
    backend = start_backend(
        "examples/dummy/model.py",
        "--basic-auth-user",
        "label",
        "--basic-auth-pass",
        "studio",
        auth=("label", "studio"),
    )
    for path in ("/health", "/ml/backend0/health", "/predict"):
        refused = requests.get(backend.url + path, timeout=10)
        assert (
            refused.status_code == 401
            and refused.headers["WWW-Authenticate"] == 'Basic realm="Login required"'
        )
        assert refused.json()["code"] == "not_authenticated"
    wrong = base64.b64encode(b"label:wrong").decode()
    assert (
        requests.get(
            backend.url + "/health", headers={"Authorization": f"Basic {wrong}"}, timeout=10
        ).status_code
        == 401
    )
    assert backend.call("GET", "/health").status_code == 200


def test_start_learns_annotate_and_the_model_retrains(start_backend: Any) -> None:
    """The SDK guide's loop alone: start, connect, annotate; the embedded worker runs fit."""
    backend = start_backend("tests/models/repeater.py")
    project = {"id": 1, "label_config": CFG, "created_at": "2023-11-14T22:13:20Z"}
    assert backend.call("POST", "/setup", json={"project": "1.1700000000", "schema": CFG}).status_code == 200
    predict = {"tasks": [{"id": 2, "data": {"text": "x"}}], "project": "1.1700000000", "label_config": CFG}
    assert backend.call("POST", "/predict", json=predict).json()["results"][0]["result"] == []
    chosen = [
        {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["Negative"]}}
    ]
    event = {"action": "ANNOTATION_CREATED", "project": project, "annotation": {"id": 1, "result": chosen}}
    assert backend.call("POST", "/webhook", json=event).status_code == 201

    def repeated() -> Any:
        result = backend.call("POST", "/predict", json=predict).json()["results"][0]
        return result if result["result"] else None

    learned = wait_for(repeated, what="the worker to train the standalone backend")
    assert learned["result"][0]["value"] == {"choices": ["Negative"]}
    assert learned["model_version"] == "Repeater-v0.1.0"  # fit bumped it
    assert backend.call("GET", "/versions").json()["versions"][-1] == "Repeater-v0.1.0"


def test_start_names_a_missing_requirement(tmp_path: Path) -> None:
    script = tmp_path / "needs.py"
    script.write_text(
        "import totally_missing_lib\nfrom wow_ai_hub import WOWAIHUB\n\n\nclass Needs(WOWAIHUB):\n    pass\n"
    )
    assert run("init", str(tmp_path / "b"), "--script", str(script)).returncode == 0
    done = run("start", str(tmp_path / "b"), "-p", str(free_port()))
    assert done.returncode == 1 and "'totally_missing_lib'" in done.stderr


def test_register_and_models_work_on_the_configured_database(tmp_path: Path) -> None:
    env = {**os.environ, "HUB_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    first = run(
        "register",
        "--slug",
        "dummy",
        "--import-path",
        "examples.dummy.model.DummyModel",
        "--migrate",
        env=env,
    )
    assert first.returncode == 0 and "Registered dummy (python), version dummy@1" in first.stdout
    second = run("register", "--slug", "detector", "--url", "http://detector:9091/api/infer", env=env)
    assert second.returncode == 0, second.stderr
    bad = run("register", "--slug", "bad", "--url", "ftp://nope", env=env)
    assert bad.returncode == 1 and "url" in bad.stderr
    listing = run("models", env=env).stdout.splitlines()
    assert listing[0].split() == ["slug", "kind", "version", "enabled", "target"]
    assert listing[1].split() == ["detector", "http", "detector@1", "yes", "http://detector:9091/api/infer"]
    assert listing[2].split() == ["dummy", "python", "dummy@1", "yes", "examples.dummy.model.DummyModel"]


def test_deploy_gcp_dry_run_prints_the_commands_with_the_key_masked(tmp_path: Path) -> None:
    env = {**os.environ, "GCP_REGION": "europe-west4"}
    done = run(
        "deploy",
        "gcp",
        str(tmp_path / "svc"),
        "--from",
        "examples/dummy/model.py",
        "--gcp-project-id",
        "proj-1",
        "--wow-ai-host",
        "https://label.example.com",
        "--wow-ai-api-key",
        "supersecretkey123",
        "--dry-run",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert f"gcloud builds submit {tmp_path / 'svc'} --tag gcr.io/proj-1/svc --project proj-1" in done.stdout
    assert "gcloud run deploy svc --image gcr.io/proj-1/svc --region europe-west4" in done.stdout
    assert "LABEL_STUDIO_URL=https://label.example.com" in done.stdout
    assert "supersecretkey123" not in done.stdout and "LABEL_STUDIO_API_KEY=su" in done.stdout
    assert "Dockerfile" in done.stdout and not (tmp_path / "svc").exists()


def test_deploy_gcp_without_gcloud_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}
    done = run(
        "deploy",
        "gcp",
        str(tmp_path / "svc"),
        "--from",
        "examples/dummy/model.py",
        "--gcp-project-id",
        "p",
        "--wow-ai-host",
        "https://h",
        "--wow-ai-api-key",
        "k",
        env=env,
    )
    assert done.returncode == 1 and "gcloud is not on the PATH" in done.stderr
