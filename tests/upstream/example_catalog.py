"""The label-studio-ml-backend examples that ``run_upstream`` runs, and how each is run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

# The ways an example's tests run: in-process, and over HTTP against `wow-ai-ml start` (its root and
# /ml/<slug>) and against its own _wsgi.py under gunicorn.
MODES = ("inprocess", "start", "hub", "wsgi")


@dataclass(frozen=True)
class Example:
    path: str  # in the upstream repository
    model_class: str
    tests: tuple[str, ...]
    module: str = "model"
    revision: str = "HEAD"
    packages: tuple[str, ...] = ()  # what --install adds (beyond what the Hub has)
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""
    # (test file, the copy to write, how): a copy of an upstream test changed in one stated way, to
    # show what a deliberate difference alone costs (reported as its own row, never as upstream's).
    derived: tuple[str, str, Callable[[str], str]] | None = None
    modes: tuple[str, ...] = MODES  # the ways it can run at all


FAKE_IMAGE_URL = "http://test_predict.easyocr.ml-backend.com/image.jpeg"


def tesseract_local_media(text: str) -> str:
    """Tesseract's tests with the image each fakes behind a made-up URL (patched ``requests``) named
    as a local-storage file instead, so the Hub reads it under LOCAL_FILES_DOCUMENT_ROOT."""
    first, marker, second = text.partition("def test_image_with_non_default_orientation")
    local = "/data/local-files/?d=test_images/"
    return (
        first.replace(FAKE_IMAGE_URL, local + "image.jpeg")
        + marker
        + second.replace(FAKE_IMAGE_URL, local + "image_has_exif_orientation.jpeg")
    )


TESSERACT = Example(
    "label_studio_ml/examples/tesseract",
    "BBOXOCR",
    ("test_model.py",),
    module="tesseract",
    packages=("pytesseract", "boto3", "responses"),
    env={"AWS_DEFAULT_REGION": "us-east-1"},
)

EXAMPLES = {
    "interactive_substring_matching": Example(
        "label_studio_ml/examples/interactive_substring_matching",
        "InteractiveSubstringMatching",
        ("test_api.py",),
    ),
    "sklearn_text_classifier": Example(
        "label_studio_ml/examples/sklearn_text_classifier", "SklearnTextClassifier", ("test_api.py",)
    ),
    "timeseries_segmenter": Example(
        "label_studio_ml/examples/timeseries_segmenter",
        "TimeSeriesSegmenter",
        ("tests/test_segmenter.py",),
        # torch==2.13.0 is the CPU wheel on disk; a range would let pip fetch a multi-GB CUDA build.
        packages=("torch==2.13.0", "torchmetrics", "pytest-mock"),
        env={"TRAIN_EPOCHS": "10"},
    ),
    "spacy": Example(
        "label_studio_ml/examples/spacy",
        "SpacyMLBackend",
        ("test_api.py",),
        packages=("spacy",),
        # spaCy's trained pipelines are not on PyPI; a blank English pipeline stands in (it finds no entities).
        env={"SPACY_MODEL": "blank:en"},
        note="spaCy does not publish en_core_web_sm on PyPI, so it cannot be installed here; SPACY_MODEL=blank:en",
    ),
    "tesseract": TESSERACT,
    "tesseract_local_image": replace(
        TESSERACT,
        tests=("test_model_local_image.py",),
        derived=("test_model.py", "test_model_local_image.py", tesseract_local_media),
        note="not upstream's test: its image URL replaced by the same file under local storage",
    ),
    # The SDK's own unit tests (test_basic.py is left out: it needs a backend already serving on :9090).
    "sdk_tests": Example(
        "tests",
        "LabelStudioMLBase",
        ("test_unit_model.py", "test_response.py", "test_build_label_map.py", "test_api.py"),
        modes=("inprocess",),
        note="label_studio_ml's own tests, not an example's: unit tests, so in-process only",
    ),
    "default_configs": Example("label_studio_ml/default_configs", "NewModel", ("test_api.py",)),
    "the_simplest_backend": Example(
        "label_studio_ml/examples/the_simplest_backend",
        "MyModel",
        ("test_hub_smoke.py",),
        revision="6c04470^",  # removed upstream after this commit
        note="ships no test file; the runner writes a smoke test of its learn-and-repeat loop",
    ),
}

# The_simplest_backend repeats the last annotation fit saw: the loop Label Studio drives, as a test.
SMOKE_TEST = """
import json
from _wsgi import init_app
from model import MyModel

CFG = '<View><Text name="text" value="$text"/><Choices name="c" toName="text"><Choice value="A"/></Choices></View>'
RESULT = [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["A"]}}]
PROJECT = {"id": 1, "label_config": CFG, "created_at": "2024-01-01T00:00:00Z"}


def test_it_repeats_the_last_annotation():
    client = init_app(model_class=MyModel).test_client()
    assert client.get("/health").status_code == 200
    event = {"action": "ANNOTATION_CREATED", "project": PROJECT, "annotation": {"id": 1, "result": RESULT}}
    assert client.post("/webhook", json=event).status_code == 201
    if "WOW_AI_HUB_TEST_URL" in __import__("os").environ:
        __import__("time").sleep(8)  # the backend's worker trains after the debounce
    body = client.post("/predict", json={"tasks": [{"id": 2, "data": {"text": "x"}}], "project": "1.1704067200", "label_config": CFG}).json
    assert body["results"][0]["result"][0]["value"] == RESULT[0]["value"]
"""
