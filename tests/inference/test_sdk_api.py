"""The public SDK package, module for module like label_studio_ml, and the base class's API in the Hub."""

from __future__ import annotations

import importlib
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from PIL import Image

import inference.sdk
from inference import media
from registry.models import LabelStudioInstance, TrainingJob
from tests.conftest import register
from tests.registry.test_clients_and_media import jwt, ok_json

# The loopback HTTP server fixture, re-exported for pytest.
from tests.registry.test_clients_and_media import serve as serve
from training.tasks import training_job_run
from wow_ai_hub import utils
from wow_ai_hub.binding import HubBinding, bound
from wow_ai_hub.model import WOWAIHUB, LabelStudioMLBase, bumped_version, uses_classic_fit
from wow_ai_hub.response import ModelResponse
from wow_ai_hub.state import MemoryStateStore

CFG = '<View><Text name="text" value="$text"/><TextArea name="note" toName="text"/></View>'
PROJECT = {"id": 7, "created_at": "2024-01-01T00:00:00Z", "label_config": CFG}
UID = "7.1704067200"


def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = Client().post(path, json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def predict(slug: str) -> dict[str, Any]:
    status, body = post(
        f"/ml/{slug}/predict",
        {"tasks": [{"id": 1, "data": {"text": "t"}}], "project": UID, "label_config": CFG},
    )
    assert status == 200, body
    result: dict[str, Any] = body["results"][0]
    return result


def run_jobs() -> list[TrainingJob]:
    """Run every queued job in this process, as a worker would (the Celery path has its own tests)."""
    for job in TrainingJob.objects.filter(status=TrainingJob.Status.QUEUED):
        training_job_run(job.pk)
    return list(TrainingJob.objects.order_by("pk"))


def test_the_modules_mirror_label_studio_ml_and_the_old_home_is_an_alias() -> None:
    assert LabelStudioMLBase is WOWAIHUB
    assert importlib.import_module("wow_ai_hub.response").ModelResponse is ModelResponse
    upstream_utils = [
        "DATA_UNDEFINED_NAME",
        "get_single_tag_keys",
        "get_first_tag_keys",
        "is_skipped",
        "get_choice",
        "get_image_size",
        "InMemoryLRUDictCache",
        "match_labels",
        "is_valid_url",
        "is_preload_needed",
        "compare_nested_structures",
    ]
    assert all(callable(getattr(utils, name)) for name in upstream_utils[1:])
    assert utils.DATA_UNDEFINED_NAME == "$undefined$"
    assert inference.sdk.WOWAIHUB is WOWAIHUB
    assert importlib.import_module("inference.sdk.model").LabelStudioMLBase is WOWAIHUB


def test_utils_behave_like_upstreams(tmp_path: Path) -> None:
    parsed = WOWAIHUB(label_config=CFG.replace("TextArea", "Choices")).parsed_label_config
    assert utils.get_single_tag_keys(parsed, "Choices", "Text") == ("note", "text", "text", [])
    with pytest.raises(ValueError, match="<Labels> is expected"):
        utils.get_single_tag_keys(parsed, "Labels", "Text")
    assert utils.get_first_tag_keys(parsed, "Choices", "Text")[0] == "note"
    assert utils.get_first_tag_keys(parsed, "Choices", "Image") == (None, None)
    assert utils.is_skipped({"annotations": [{"was_cancelled": True}]})
    assert not utils.is_skipped({"annotations": [{"skipped": True}, {}]})
    assert utils.get_choice({"annotations": [{"result": [{"value": {"choices": ["A"]}}]}]}) == "A"
    assert utils.match_labels("Positve\nneg", ["Positive", "Negative"]) == ["Positive", "Negative"]
    cache = utils.InMemoryLRUDictCache(capacity=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)  # "b" is the least recently used
    assert ("b" in cache, "a" in cache, cache.get("b")) == (False, True, None)
    assert utils.is_valid_url("http://x/y") and not utils.is_valid_url("not a url")
    assert utils.is_preload_needed("upload/1/a.png") and utils.is_preload_needed("/data/local-files/?d=a")
    assert not utils.is_preload_needed("just text")
    utils.compare_nested_structures({"a": [1.0, {"b": 2}]}, {"a": [1.00001, {"b": 2}]})
    with pytest.raises(AssertionError, match=r"\.a\[0\]"):
        utils.compare_nested_structures({"a": [1.0]}, {"a": [1.1]})
    # A photo taken sideways: its EXIF orientation turns 40x30 pixels into a 30x40 image.
    image = Image.new("RGB", (40, 30))
    exif = image.getexif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    (tmp_path / "photo.jpg").write_bytes(buffer.getvalue())
    assert utils.get_image_size(str(tmp_path / "photo.jpg")) == (30, 40)


def test_bump_model_version_returns_and_keeps_the_next_version() -> None:
    model = WOWAIHUB()
    assert model.model_version == "0.0.1"
    assert model.bump_model_version() == "0.1.0"
    assert model.get("model_version") == model.model_version == "0.1.0"
    assert [bumped_version(v) for v in ("Clf-v1.2.3", "v9", "beta")] == ["Clf-v1.3.0", "v10", "beta.1"]


def test_the_classic_fit_signature_is_recognised() -> None:
    class Classic(WOWAIHUB):
        def fit(self, completions: Any, workdir: Any = None, **kwargs: Any) -> Any: ...  # type: ignore[override]

    class Tasks(WOWAIHUB):
        def fit(self, tasks: Any, **kwargs: Any) -> Any: ...  # type: ignore[override]

    assert uses_classic_fit(Classic) and uses_classic_fit(Tasks)
    assert not uses_classic_fit(WOWAIHUB)


@pytest.mark.django_db
def test_a_class_attribute_version_is_reported_before_the_model_was_ever_built() -> None:
    register("declared", "tests.models.sdk_features.DeclaredVersionModel")
    assert post("/ml/declared/setup", {"project": UID, "schema": CFG}) == (
        200,
        {"model_version": "declared-2.0.0"},
    )
    assert predict("declared")["model_version"] == "declared-2.0.0"
    assert "declared-2.0.0" in Client().get("/ml/declared/versions").json()["versions"]


@pytest.mark.django_db(transaction=True)
def test_a_model_gets_the_events_it_declares_and_its_bumped_version_everywhere(settings: Any) -> None:
    settings.HUB_TRAINING_DEBOUNCE_SECONDS = 0
    register("keeper", "tests.models.sdk_features.TaskKeeperModel")
    register("plain", "tests.models.sdk_features.DeclaredVersionModel")
    assert Client().get("/ml/keeper/health").json()["model_class"] == "TaskKeeperModel"
    assert post("/ml/keeper/setup", {"project": UID, "schema": CFG})[1] == {"model_version": "keeper@1"}
    created = {"action": "TASKS_CREATED", "project": PROJECT, "tasks": [{"id": 31}, {"id": 32}]}
    # Only the model that asked for TASKS_CREATED has it stored; the other acknowledges it only.
    assert post("/ml/plain/webhook", created)[0] == 200
    status, body = post("/ml/keeper/webhook", created)
    assert status == 201 and body["job"]
    jobs = run_jobs()
    assert [j.status for j in jobs] == ["succeeded"] and jobs[0].resulting_version is None
    assert predict("keeper")["result"][0]["value"]["text"] == ["[31, 32]"]
    annotation = {"id": 1, "task": 31, "result": []}
    post("/ml/keeper/webhook", {"action": "ANNOTATION_CREATED", "project": PROJECT, "annotation": annotation})
    jobs = run_jobs()
    assert jobs[-1].status == "succeeded" and jobs[-1].resulting_version == 1
    # fit bumped the model's own version (from 0.0.1): /setup, /predict and /versions all carry it.
    assert post("/ml/keeper/setup", {"project": UID, "schema": CFG})[1] == {"model_version": "0.1.0"}
    assert predict("keeper")["model_version"] == "0.1.0"
    assert "0.1.0" in Client().get("/ml/keeper/versions").json()["versions"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_fit_is_a_failed_job_and_label_studio_gets_its_201(settings: Any) -> None:
    settings.HUB_TRAINING_DEBOUNCE_SECONDS = 0
    register("failing", "tests.models.sdk_features.FailingFitModel")
    status, body = post("/ml/failing/webhook", {"action": "START_TRAINING", "project": PROJECT})
    assert status == 201 and body["status"] == "ok"
    [job] = run_jobs()
    assert (job.status, job.error) == ("failed", "RuntimeError: the GPU caught fire")


@pytest.mark.django_db
def test_the_label_studio_client_and_token_are_the_projects() -> None:
    register("ls-user", "tests.models.sdk_features.LabelStudioUserModel")
    setup = {"project": UID, "schema": CFG, "hostname": "http://ls.example:8080/", "access_token": "tok-7"}
    assert post("/ml/ls-user/setup", setup)[0] == 200
    assert predict("ls-user")["result"][0]["value"]["text"] == ["tok-7|http://ls.example:8080"]
    assert LabelStudioInstance.objects.get().hostname == "http://ls.example:8080"


def test_without_a_project_there_is_no_label_studio_client() -> None:
    model = WOWAIHUB()
    assert model.get_label_studio_access_token() is None
    with pytest.raises(RuntimeError, match="knows no Label Studio"):
        model.get_label_studio_client()


@pytest.mark.django_db(transaction=True)
def test_a_version_fit_sets_without_a_new_hub_version_reaches_every_worker(settings: Any) -> None:
    settings.HUB_TRAINING_DEBOUNCE_SECONDS = 0
    register("repeater", "tests.models.repeater.Repeater")
    event = {"action": "ANNOTATION_CREATED", "project": PROJECT, "annotation": {"id": 1, "result": []}}
    assert post("/ml/repeater/webhook", event)[0] == 201
    assert predict("repeater")["model_version"] == "Repeater-v0.0.1"  # cached by this worker meanwhile
    [job] = run_jobs()  # fit bumps the version and returns nothing: no new Hub version, no new instance
    assert job.status == "succeeded" and job.resulting_version is None
    assert predict("repeater")["model_version"] == "Repeater-v0.1.0"


def test_a_personal_access_token_reaches_the_model_as_a_fresh_access_token(serve: Any) -> None:
    """As label-studio-ml-backend's: a legacy token as it is, a personal access token (a JWT refresh
    token) exchanged with the project's Label Studio for an access token, once per worker."""
    access = jwt({"exp": time.time() + 300, "token_type": "access"})
    label_studio = serve({"/api/token/refresh/": ok_json({"access": access})})
    refresh = jwt({"exp": time.time() + 3600, "token_type": "refresh"})
    media._access_tokens.clear()

    def model_with(token: str) -> WOWAIHUB:
        view = (label_studio.url + "/", token, True)
        with bound(HubBinding(state=MemoryStateStore(), model_version="m@1", label_studio=lambda: view)):
            return WOWAIHUB()

    assert model_with("legacy-abc").get_label_studio_access_token() == "legacy-abc"
    model = model_with(refresh)
    assert model.get_label_studio_access_token() == model.get_label_studio_access_token() == access
    assert [path for _, path, _, _ in label_studio.hits] == ["/api/token/refresh/"]
