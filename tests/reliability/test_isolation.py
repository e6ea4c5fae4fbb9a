"""One slow model never holds the capacity other models and the control plane need.

A live gunicorn with the production config file, one worker of 8 threads (2 kept from /predict:
a predict capacity of 6, one model's share 3), and a slow external model whose server parks every
call until the test lets it go (concurrency 2: 2 calls at the server, 1 request waiting for them).
Sixteen callers, twice the worker's threads, crowd it; while their calls are parked the other model
and every /health still answer, and the callers beyond the model's share are told 503 at once, with
Retry-After, in the error shape. Timings are only ceilings here; the figures live in
bench/isolation.py. The bulkhead's own wait is checked in-process.
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from core.errors import HubBusy, ModelBusy
from inference.admission import Admission
from registry.model_server import bulkhead, circuit_breaker, model_server_call
from registry.models import ModelClass, RegisteredModel
from tests.conftest import register, wait_for
from tests.live import LiveHub, gunicorn_hub, url_of_test_database
from tests.reliability.fault_server import Fault, FaultServer, fault_server

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
CONTROL_THREADS = 2
SHARE = 0.5
SHARE_OF_ONE_MODEL = 3  # half of the 6 threads left for /predict: running plus waiting
SLOW_CONCURRENCY = 2
CALLERS = 16
# Far above what an idle answer takes, far below "never": without admission control these requests
# wait behind parked calls until the test releases them.
PROMPT = 3.0

IMAGE_CONFIG = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="boxes" toName="image"><Label value="rectangle"/></RectangleLabels></View>'
)
TEXT_CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="Positive"/><Choice value="Negative"/></Choices></View>'
)


def _image_body() -> dict[str, Any]:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "white").save(buffer, format="PNG")
    image = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {
        "tasks": [{"id": 1, "data": {"image": image}}],
        "project": "3.1700000000",
        "label_config": IMAGE_CONFIG,
    }


TEXT_BODY = {
    "tasks": [{"id": 1, "data": {"text": "Not my model's problem."}}],
    "project": "4.1700000000",
    "label_config": TEXT_CONFIG,
}


@pytest.fixture
def slow_server() -> Iterator[FaultServer]:
    # Parked until the test sets `stopping` (the fixture's exit does too).
    with fault_server(Fault.SLOW, delay=120) as server:
        yield server


@pytest.fixture
def small_hub(tmp_path: Path) -> Iterator[LiveHub]:
    with gunicorn_hub(
        tmp_path / "gunicorn.log",
        tmp_path / "constructed",
        url_of_test_database(),
        workers=1,
        GUNICORN_THREADS=str(THREADS),
        HUB_CONTROL_THREADS=str(CONTROL_THREADS),
        HUB_MODEL_SHARE=str(SHARE),
        HUB_BUSY_RETRY_AFTER_SECONDS="2",
        HUB_BULKHEAD_WAIT_SECONDS="150",  # the request waiting for the server waits until released
    ) as hub:
        yield hub


def test_a_crowd_on_a_slow_model_leaves_the_others_and_health_answering(
    small_hub: LiveHub, slow_server: FaultServer
) -> None:
    slow = RegisteredModel.objects.create(
        name="slow",
        slug="slow",
        kind="http",
        url=slow_server.infer_url,
        max_concurrency=SLOW_CONCURRENCY,
        timeout_seconds=150,  # parked calls stay parked until released
    )
    ModelClass.objects.create(model=slow, name="rectangle", type="bounding_box")
    register("dummy", "examples.dummy.model.DummyModel")
    url = small_hub.url
    # The dummy built once before the crowd comes: what is measured below is waiting, not loading.
    assert requests.post(f"{url}/ml/dummy/predict", json=TEXT_BODY, timeout=30).status_code == 200

    image_body = _image_body()
    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        calls: list[Future[requests.Response]] = [
            pool.submit(requests.post, f"{url}/ml/slow/predict", json=image_body, timeout=150)
            for _ in range(CALLERS)
        ]
        try:
            wait_for(lambda: slow_server.in_flight == SLOW_CONCURRENCY, what="the slow calls to be parked")
            # While 2 calls are parked at the server and 14 requests crowd in behind them:
            for path in ("/health", "/ml/slow/health", "/ml/dummy/health"):
                answer = requests.get(url + path, timeout=PROMPT)
                assert answer.status_code == 200, (path, answer.text)
            other = requests.post(f"{url}/ml/dummy/predict", json=TEXT_BODY, timeout=PROMPT)
            assert other.status_code == 200 and other.json()["results"][0]["result"], other.text
            wait_for(
                lambda: sum(call.done() for call in calls) >= CALLERS - SHARE_OF_ONE_MODEL,
                what="the callers beyond the model's share to be answered",
            )
            refused = [call.result() for call in calls if call.done()]
            assert slow_server.in_flight == SLOW_CONCURRENCY  # still parked: the answers above did not wait
        finally:
            slow_server.stopping.set()
        answered = [call.result() for call in calls]

    assert len(refused) == CALLERS - SHARE_OF_ONE_MODEL
    for answer in refused:
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "model_busy" and "busy" in answer.json()["error"]
        assert answer.headers["Retry-After"] == "2"
    ok = [answer for answer in answered if answer.status_code == 200]
    assert len(ok) == SHARE_OF_ONE_MODEL and all(a.json()["results"][0]["result"] for a in ok)
    assert slow_server.max_in_flight == SLOW_CONCURRENCY


def test_a_call_that_waits_too_long_for_the_bulkhead_is_busy_not_a_server_failure(
    settings: Any, slow_server: FaultServer
) -> None:
    settings.HUB_BULKHEAD_WAIT_SECONDS = 0.5
    model = RegisteredModel.objects.create(
        name="one", slug="one", kind="http", url=slow_server.infer_url, max_concurrency=1, timeout_seconds=1
    )
    held, release = threading.Event(), threading.Event()

    def hold_the_one_place() -> None:
        # Longer than the patience (the longer of the setting and the timeout), but not forever.
        with bulkhead(model):
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold_the_one_place, daemon=True)
    holder.start()
    held.wait(5)
    with pytest.raises(ModelBusy) as busy:
        model_server_call(model, model.url, {"image": {"base64": ""}})
    release.set()
    holder.join(5)
    assert busy.value.wait == settings.HUB_BUSY_RETRY_AFTER_SECONDS and "within 1 s" in str(busy.value)
    assert slow_server.infer_calls == 0  # the call never reached the server
    assert circuit_breaker(model).failures == 0  # nor counted against it


def test_a_batch_waits_for_its_own_calls_however_slow_the_model_is(
    settings: Any, slow_server: FaultServer
) -> None:
    """Calls that wait behind the batch's own calls (a place frees within the model's timeout) do not
    fail as busy, even past HUB_BULKHEAD_WAIT_SECONDS: the patience is at least the model's timeout."""
    settings.HUB_BULKHEAD_WAIT_SECONDS = 0.1
    slow_server.delay = 0.5
    model = RegisteredModel.objects.create(
        name="two", slug="two", kind="http", url=slow_server.infer_url, max_concurrency=1, timeout_seconds=5
    )
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(lambda _: model_server_call(model, model.url, {"image": {}}), range(3)))
    assert len(answers) == 3 and slow_server.infer_calls == 3 and slow_server.max_in_flight == 1


def test_every_model_together_leaves_the_control_threads_free(settings: Any) -> None:
    settings.HUB_CONTROL_THREADS, settings.HUB_MODEL_SHARE = 2, 0.5
    gate = Admission(threads=8)  # 6 for /predict, 3 for one model
    with ExitStack() as held:
        for slug in ("a", "a", "a", "b", "b", "b"):
            held.enter_context(gate.admit(slug))
        with pytest.raises(ModelBusy) as busy, gate.admit("a"):
            pass
        assert busy.value.get_codes() == "model_busy"
        with pytest.raises(HubBusy) as full, gate.admit("c"):
            pass
        assert full.value.get_codes() == "hub_busy" and gate.held() == 6
    # Everything given back, failures included; no slug is remembered once it holds nothing.
    with pytest.raises(RuntimeError), gate.admit("a"):
        raise RuntimeError("the model failed")
    assert gate.held() == 0 and gate._held == {}
