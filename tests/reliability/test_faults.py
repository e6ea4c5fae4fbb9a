"""What a ``/predict`` answers when an external (``http`` kind) model server misbehaves.

Per task, a failed call gives that task the empty prediction (``{"result": [], "score": 0.0}``), adds
one to ``errors_total`` and sets ``last_error`` on the model and on the model in its project; the
/predict itself answers 200, so Label Studio keeps its other predictions.

=====================  ==========================================  =====================================
Fault of the server    The Hub                                     /predict answers (and records)
=====================  ==========================================  =====================================
healthy                draws the results                           200, the regions
slow (< timeout)       waits                                       200, the regions
slow (> timeout)       read timeout after ``timeout_seconds``      200, empty; "did not answer in time"
hang                   read timeout after ``timeout_seconds``      200, empty; "did not answer in time"
HTTP 500 (any non-2xx) UpstreamBadAnswer                           200, empty; "answered HTTP 500"
connection reset       UpstreamUnavailable                         200, empty; "is unreachable"
malformed JSON         UpstreamBadAnswer                           200, empty; "is not JSON"
wrong shape            V7ResponseError (the server did answer:     200, empty; "'results' must be a
                       does not count towards the breaker)         list"
huge body, declared    refused from Content-Length, unread         200, empty; "more than the N allowed"
huge body, streamed    read up to HUB_MAX_UPSTREAM_RESPONSE_BYTES  200, empty; "more than the N bytes
                                                                   allowed"
trickle (a byte at a   the whole body bounded by                   200, empty; "did not finish sending
time)                  ``timeout_seconds``                         within N s"
breaker open           no call: HUB_BREAKER_FAILURES failed calls  503 {"code": "circuit_open"} at once,
                       in a row open it for                        errors_total + 1; tasks of a batch
                       HUB_BREAKER_COOLDOWN_SECONDS                that meet it mid-batch: empty
after the cool-down    one probe call; the others still refused    the probe's task as above; its
                                                                   success closes the breaker, its
                                                                   failure opens it again
busy (bulkhead full)   a call waits its timeout (at least 30 s)    200, empty; "is busy" (not counted
                       for a place among ``max_concurrency``       by the breaker; tests/reliability/
                                                                   test_isolation.py)
=====================  ==========================================  =====================================

Calls to one model server go through its own pooled session and bulkhead (at most
``max_concurrency`` in flight per worker), so a hanging model does not delay a healthy one.
The breaker and the bulkhead are per worker process: these tests that count calls run in-process.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections
from PIL import Image

from registry.models import ModelClass, RegisteredModel
from tests.conftest import Answer, DjangoProtocolClient, LiveProtocolClient, ProtocolClient
from tests.reliability.fault_server import Fault, FaultServer, fault_server

pytestmark = pytest.mark.django_db(transaction=True)

CONFIG = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="boxes" toName="image"><Label value="rectangle"/></RectangleLabels></View>'
)
PROJECT = "7.1700000000"
UPSTREAM_LIMIT = 10_000  # HUB_MAX_UPSTREAM_RESPONSE_BYTES in these tests


def _png_data_uri() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "white").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


IMAGE = _png_data_uri()


@pytest.fixture(autouse=True)
def small_limits(settings: Any) -> None:
    settings.HUB_MAX_UPSTREAM_RESPONSE_BYTES = UPSTREAM_LIMIT
    settings.HUB_BREAKER_FAILURES = 3
    # Long enough that an open breaker stays open on any machine; tests that need the cool-down
    # over set it to 0 (the breaker reads it at each call) instead of sleeping through it.
    settings.HUB_BREAKER_COOLDOWN_SECONDS = 60.0


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with fault_server() as running:
        yield running


@pytest.fixture
def healthy_server() -> Iterator[FaultServer]:
    with fault_server() as running:
        yield running


def http_model(
    slug: str, server: FaultServer, *, timeout: float = 2, max_concurrency: int = 4
) -> RegisteredModel:
    model = RegisteredModel.objects.create(
        name=slug,
        slug=slug,
        kind="http",
        url=server.infer_url,
        timeout_seconds=timeout,
        max_concurrency=max_concurrency,
        prediction_cache=False,  # every task reaches the server, so its calls can be counted
    )
    ModelClass.objects.create(model=model, name="rectangle", type="bounding_box")
    return model


def predict(client: ProtocolClient, slug: str, tasks: int = 1) -> tuple[Answer, float]:
    """One /predict of ``tasks`` image tasks; its answer and how long it took."""
    body = {
        "tasks": [{"id": n, "data": {"image": IMAGE}} for n in range(1, tasks + 1)],
        "project": PROJECT,
        "label_config": CONFIG,
    }
    started = time.monotonic()
    answer = client.post(f"/ml/{slug}/predict", body)
    return answer, time.monotonic() - started


def labels(answer: Answer) -> list[list[str]]:
    """Per task, the labels of its regions."""
    assert answer.status == 200, answer.body
    return [[r["value"]["rectanglelabels"][0] for r in task["result"]] for task in answer.body["results"]]


def errors_of(model: RegisteredModel) -> tuple[int, str]:
    model.refresh_from_db()
    return model.errors_total, model.last_error


def in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run ``call`` in a thread with database connections of its own; its result lands in the list."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(call())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def another_client(protocol: ProtocolClient) -> ProtocolClient:
    """A client of the same kind for another thread (neither kind may be shared between threads)."""
    if isinstance(protocol, LiveProtocolClient):
        return LiveProtocolClient(protocol.base_url)
    return DjangoProtocolClient()


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("fault", "delay", "error"),
    [
        (Fault.SLOW, 4.0, "did not answer in time"),
        (Fault.HANG, 0.0, "did not answer in time"),
        (Fault.ERROR_500, 0.0, "answered HTTP 500"),
        (Fault.RESET, 0.0, "is unreachable"),
        (Fault.MALFORMED_JSON, 0.0, "is not JSON"),
        (Fault.WRONG_SHAPE, 0.0, "'results' must be a list"),
        (Fault.HUGE, 0.0, f"more than the {UPSTREAM_LIMIT} allowed"),
        (Fault.HUGE_UNDECLARED, 0.0, f"more than the {UPSTREAM_LIMIT} bytes allowed"),
        (Fault.TRICKLE, 0.0, "did not finish sending within 2 s"),
    ],
)
def test_a_faulty_server_gives_the_task_an_empty_prediction_in_time_and_counts_the_error(
    server: FaultServer, fault: Fault, delay: float, error: str
) -> None:
    model = http_model("faulty", server, timeout=2)
    server.fault, server.delay, server.huge_bytes = fault, delay, 10 * UPSTREAM_LIMIT
    answer, took = predict(DjangoProtocolClient(), "faulty")
    assert labels(answer) == [[]]
    assert answer.body["results"][0]["score"] == 0.0
    assert took < model.timeout_seconds + 5
    assert server.infer_calls == 1
    errors, last_error = errors_of(model)
    assert errors == 1 and error in last_error, last_error


@pytest.mark.parametrize(("fault", "delay"), [(Fault.HEALTHY, 0.0), (Fault.SLOW, 0.5)])
def test_a_healthy_or_slow_but_in_time_server_gives_its_regions(
    server: FaultServer, fault: Fault, delay: float
) -> None:
    model = http_model("fine", server, timeout=2)
    server.fault, server.delay = fault, delay
    answer, _ = predict(DjangoProtocolClient(), "fine", tasks=2)
    assert labels(answer) == [["rectangle"], ["rectangle"]]
    assert errors_of(model) == (0, "")


def test_a_hanging_model_does_not_delay_a_healthy_one(
    protocol: ProtocolClient, server: FaultServer, healthy_server: FaultServer
) -> None:
    """The hang is bounded by the model's timeout; meanwhile the other model answers as usual."""
    server.fault = Fault.HANG
    http_model("hanging", server, timeout=6, max_concurrency=1)
    http_model("healthy", healthy_server, max_concurrency=1)
    hanging, hanging_result = in_thread(lambda: predict(another_client(protocol), "hanging"))
    wait_until(lambda: server.in_flight == 1)
    for _ in range(5):
        answer, took = predict(protocol, "healthy")
        assert labels(answer) == [["rectangle"]]
        assert took < 3, f"the healthy model took {took:.1f} s while the other one hung"
    assert server.in_flight == 1, "the hanging call should still be hanging"
    hanging.join(timeout=6 + 10)
    assert not hanging.is_alive(), "the hanging model's /predict did not end after its timeout"
    [(answer, took)] = hanging_result
    assert labels(answer) == [[]]
    assert took < 6 + 5


def test_calls_to_one_server_never_exceed_its_max_concurrency(server: FaultServer) -> None:
    # Each call lasts long enough that the four requests overlap however late their threads start.
    server.fault, server.delay = Fault.SLOW, 2.0
    http_model("busy", server, max_concurrency=2, timeout=30)
    calls = [in_thread(lambda: predict(DjangoProtocolClient(), "busy")) for _ in range(4)]
    for thread, _ in calls:
        thread.join(timeout=30)
    assert [labels(result[0][0]) for _, result in calls] == [[["rectangle"]]] * 4
    assert server.infer_calls == 4
    assert server.max_in_flight == 2


def open_breaker(client: ProtocolClient, slug: str, server: FaultServer) -> None:
    """HUB_BREAKER_FAILURES (3) failed /predicts, each reaching the server."""
    for attempt in range(1, 4):
        answer, _ = predict(client, slug)
        assert labels(answer) == [[]]
        assert server.infer_calls == attempt


@pytest.mark.parametrize("fault", [Fault.ERROR_500, Fault.RESET, Fault.HANG])
def test_after_n_failures_in_a_row_the_breaker_answers_503_at_once_without_calling_the_server(
    server: FaultServer, fault: Fault
) -> None:
    client = DjangoProtocolClient()
    model = http_model("failing", server, timeout=1)
    server.fault = fault
    open_breaker(client, "failing", server)
    # A call that reached the hanging server now would wait 30 s: "at once" has a wide margin.
    model.refresh_from_db()  # the error counts it has so far are kept by the save
    model.timeout_seconds = 30
    model.save()
    answer, took = predict(client, "failing", tasks=3)
    assert answer.status == 503 and answer.body["code"] == "circuit_open"
    assert "failed 3 calls in a row" in answer.body["error"]
    assert took < 15, "an open breaker answers without waiting for anything"
    assert server.infer_calls == 3
    errors, last_error = errors_of(model)
    assert errors == 4 and "failed 3 calls in a row" in last_error


def test_failures_count_only_in_a_row_a_success_starts_the_count_again(server: FaultServer) -> None:
    client = DjangoProtocolClient()
    http_model("flaky", server)
    for round_ in range(3):  # two failures (one fewer than HUB_BREAKER_FAILURES), then a success
        server.fault = Fault.ERROR_500
        for _ in range(2):
            assert labels(predict(client, "flaky")[0]) == [[]]
        server.fault = Fault.HEALTHY
        assert labels(predict(client, "flaky")[0]) == [["rectangle"]], f"round {round_}"
    assert server.infer_calls == 9  # every call reached the server: the breaker never opened


def test_a_wrong_shaped_answer_does_not_open_the_breaker(server: FaultServer) -> None:
    client = DjangoProtocolClient()
    http_model("odd", server)
    server.fault = Fault.WRONG_SHAPE
    for _ in range(4):  # more than HUB_BREAKER_FAILURES
        answer, _ = predict(client, "odd")
        assert labels(answer) == [[]]
    assert server.infer_calls == 4


def test_after_the_cool_down_one_probe_goes_through_and_its_success_closes_the_breaker(
    server: FaultServer, settings: Any
) -> None:
    client = DjangoProtocolClient()
    model = http_model("recovering", server, max_concurrency=3, timeout=30)
    server.fault = Fault.ERROR_500
    open_breaker(client, "recovering", server)
    # Healthy again; slow, so that the rest of the batch meets the probe still under way.
    server.fault, server.delay = Fault.SLOW, 3.0
    settings.HUB_BREAKER_COOLDOWN_SECONDS = 0  # the cool-down is over
    answer, _ = predict(client, "recovering", tasks=3)
    # One task was the probe; the two sent meanwhile were refused by the still-open breaker.
    assert sorted(labels(answer)) == [[], [], ["rectangle"]]
    assert server.infer_calls == 3 + 1
    assert errors_of(model)[0] == 3 + 2
    answer, _ = predict(client, "recovering", tasks=3)
    assert labels(answer) == [["rectangle"]] * 3
    assert server.infer_calls == 4 + 3


def test_a_failed_probe_opens_the_breaker_for_another_cool_down(server: FaultServer, settings: Any) -> None:
    client = DjangoProtocolClient()
    http_model("still-failing", server)
    server.fault = Fault.ERROR_500
    open_breaker(client, "still-failing", server)
    settings.HUB_BREAKER_COOLDOWN_SECONDS = 0  # the cool-down is over
    answer, _ = predict(client, "still-failing")
    assert labels(answer) == [[]] and server.infer_calls == 4  # the probe
    settings.HUB_BREAKER_COOLDOWN_SECONDS = 60  # counted from the failed probe
    answer, _ = predict(client, "still-failing")
    assert answer.status == 503 and server.infer_calls == 4
    settings.HUB_BREAKER_COOLDOWN_SECONDS = 0
    server.fault = Fault.HEALTHY
    answer, _ = predict(client, "still-failing")
    assert labels(answer) == [["rectangle"]] and server.infer_calls == 5
