"""A model that answers fewer predictions than tasks: every task still gets its own prediction (an
empty one, counted as a task error, for a task the model gave nothing), never a 500 for the batch.

Predictions that name their task (``task``) go to it; a short answer that does not is asked again one
task at a time, as Label Studio does, so no task gets another task's regions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from registry.counters import counter_buffer
from registry.models import RegisteredModel
from tests.conftest import ECHO_CFG, QuietHandler, register, serving
from tests.models.short_answers import SubstringMatcher, TaskNamingModel

pytestmark = pytest.mark.django_db

NER = (
    '<View><Labels name="label" toName="text"><Label value="ORG"/><Label value="PER"/></Labels>'
    '<Text name="text" value="$text"/></View>'
)
APPLE = "We got hold of one of the first Apple Watches to leave Apple."
# The user selected "Apple" as ORG: the interactive call's context.
CONTEXT = {
    "result": [
        {
            "from_name": "label",
            "to_name": "text",
            "type": "labels",
            "value": {"start": 32, "end": 37, "text": "Apple", "labels": ["ORG"]},
        }
    ]
}


@pytest.fixture(autouse=True)
def fresh_calls() -> None:
    SubstringMatcher.asked = []
    TaskNamingModel.asked = []


def predict(slug: str, tasks: list[dict[str, Any]], config: str, **params: Any) -> Any:
    body = {"tasks": tasks, "project": "3.1700000000", "label_config": config, "params": params}
    response = Client().post(f"/ml/{slug}/predict", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def found(prediction: dict[str, Any]) -> list[int]:
    return [region["value"]["start"] for region in prediction["result"]]


@pytest.mark.parametrize("empty_first", [True, False])
def test_a_task_the_model_skipped_gets_an_empty_prediction_and_the_others_their_own(
    empty_first: bool,
) -> None:
    model = register("matcher", "tests.models.short_answers.SubstringMatcher")
    tasks = [{"id": 1, "data": {"text": ""}}, {"id": 2, "data": {"text": APPLE}}]
    if not empty_first:
        tasks.reverse()

    results = predict("matcher", tasks, NER, context=CONTEXT)

    by_id = {task["id"]: result for task, result in zip(tasks, results, strict=True)}
    assert found(by_id[1]) == [] and found(by_id[2]) == [32, 55]
    assert SubstringMatcher.asked == [[t["id"] for t in tasks], [tasks[0]["id"]], [tasks[1]["id"]]]
    counter_buffer.flush()
    model.refresh_from_db()
    assert model.errors_total == 1
    assert model.last_error == "Model matcher gave no prediction for 1 of 2 task(s): 1"


def test_predictions_that_name_their_task_go_to_it_whatever_their_count_and_order() -> None:
    register("naming", "tests.models.short_answers.TaskNamingModel")
    tasks = [{"id": n, "data": {"text": f"text {n}"}} for n in (1, 2, 3, 4)]

    results = predict("naming", tasks, ECHO_CFG)

    texts = [[r["value"]["text"][0] for r in result["result"]] for result in results]
    assert texts == [[], ["task 2"], [], ["task 4"]]
    assert all(result["score"] == 0.0 for result in results[::2])


def test_a_task_left_without_a_prediction_is_asked_again_next_time() -> None:
    """An empty prediction in a missing answer's place is not cached: the model may answer later."""
    register("naming", "tests.models.short_answers.TaskNamingModel")
    tasks = [{"id": n, "data": {"text": f"text {n}"}} for n in (1, 2)]

    predict("naming", tasks, ECHO_CFG)
    predict("naming", tasks, ECHO_CFG)

    assert TaskNamingModel.asked == [[1, 2], [1]]  # task 2's answer came from the cache


def test_a_task_left_without_a_prediction_beside_cached_ones_is_the_one_asked_again() -> None:
    register("naming", "tests.models.short_answers.TaskNamingModel")
    tasks = {n: {"id": n, "data": {"text": f"text {n}"}} for n in (1, 2, 4)}

    predict("naming", [tasks[2]], ECHO_CFG)
    # 2 from the cache; of 4 and 1, asked together, 1 is left without an answer.
    predict("naming", [tasks[2], tasks[4], tasks[1]], ECHO_CFG)
    predict("naming", [tasks[4], tasks[1]], ECHO_CFG)

    assert TaskNamingModel.asked == [[2], [4, 1], [1]]


def test_a_task_left_without_a_prediction_in_a_later_batch_is_the_one_asked_again() -> None:
    register("batched", "tests.models.short_answers.BatchedTaskNamingModel")
    tasks = [{"id": n, "data": {"text": f"text {n}"}} for n in (2, 4, 6, 1)]

    results = predict("batched", tasks, ECHO_CFG)
    predict("batched", tasks, ECHO_CFG)

    texts = [[r["value"]["text"][0] for r in result["result"]] for result in results]
    assert texts == [["task 2"], ["task 4"], ["task 6"], []]
    assert TaskNamingModel.asked == [[2, 4], [6, 1], [1]]  # only task 1 was left without an answer


class SkippingBackend(QuietHandler):
    """A remote ML backend that, like interactive_substring_matching, skips tasks with no text."""

    asked: list[list[Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/setup":
            self.reply(200, b'{"model_version": "remote"}', "application/json")
            return
        type(self).asked.append([task["id"] for task in body["tasks"]])
        results = [
            {
                "result": [
                    {
                        "from_name": "note",
                        "to_name": "text",
                        "type": "textarea",
                        "value": {"text": [task["data"]["text"]]},
                    }
                ]
            }
            for task in body["tasks"]
            if task["data"]["text"]
        ]
        self.reply(200, json.dumps({"results": results}).encode(), "application/json")


@pytest.fixture
def skipping_backend() -> Iterator[str]:
    SkippingBackend.asked = []
    with serving(SkippingBackend) as url:
        yield url


def test_a_remote_backend_that_skips_a_task_is_asked_one_task_at_a_time(skipping_backend: str) -> None:
    RegisteredModel.objects.create(name="remote", slug="remote", kind="ml_backend", url=skipping_backend)
    tasks = [{"id": 1, "data": {"text": ""}}, {"id": 2, "data": {"text": "two"}}]

    results = predict("remote", tasks, ECHO_CFG)

    assert results[0]["result"] == []
    assert results[1]["result"][0]["value"]["text"] == ["two"]
    assert SkippingBackend.asked == [[1, 2], [1], [2]]
