from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from examples.ner_interactive.model import InteractiveNER, occurrences
from inference.kinds.python.loading import _instances
from registry.models import TrainingJob, WebhookEvent
from tests.conftest import register
from training.tasks import training_job_run

CFG = '<View><Labels name="label" toName="text"><Label value="PER"/><Label value="ORG"/><Label value="LOC"/></Labels><Text name="text" value="$text"/></View>'
TEXT = "We got hold of one of the first Apple Watches to leave Apple. Apple says Paris loves Apple."


def post(client: Client, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = client.post(path, json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("text", "phrase", "expected"),
    [
        ("Apple, apple and Apples. Apple!", "Apple", [(0, 5), (25, 30)]),
        ("New York and New Yorker", "New York", [(0, 8)]),
        ("a.b a.b", "a.b", [(0, 3), (4, 7)]),
        ("anything", " ", []),
    ],
)
def test_occurrences_are_whole_words(text: str, phrase: str, expected: list[tuple[int, int]]) -> None:
    assert occurrences(text, phrase) == expected


@pytest.mark.django_db
def test_an_interactive_call_proposes_the_other_occurrences_of_the_drawn_span(client: Client) -> None:
    register("ner", "examples.ner_interactive.model.InteractiveNER")
    drawn = {
        "value": {"start": 32, "end": 37, "text": "Apple", "labels": ["ORG"]},
        "id": "1aa",
        "from_name": "label",
        "to_name": "text",
        "type": "labels",
        "origin": "manual",
    }
    body = {
        "tasks": [{"id": 1, "data": {"text": TEXT}}],
        "project": "3.1700000000",
        "label_config": CFG,
        "params": {
            "login": None,
            "password": None,
            "context": {"annotation_id": None, "draft_id": 0, "user_id": 2, "result": [drawn]},
        },
    }
    status, answer = post(client, "/ml/ner/predict", body)
    assert status == 200
    [prediction] = answer["results"]
    assert isinstance(prediction, dict)
    spans = [
        (r["value"]["start"], r["value"]["end"], r["value"]["text"], r["value"]["labels"])
        for r in prediction["result"]
    ]
    assert spans == [(55, 60, "Apple", ["ORG"]), (62, 67, "Apple", ["ORG"]), (85, 90, "Apple", ["ORG"])]
    assert all(r["from_name"] == "label" and r["to_name"] == "text" for r in prediction["result"])


def test_labels_the_config_does_not_have_are_never_proposed() -> None:
    model = InteractiveNER(label_config=CFG)
    drawn = [{"type": "labels", "value": {"start": 0, "end": 2, "text": "We", "labels": ["MISC"]}}]
    assert model.predict([{"id": 1, "data": {"text": TEXT}}], context={"result": drawn}) == [
        {"result": [], "score": 0.0}
    ]


@pytest.mark.django_db(transaction=True)
def test_training_from_annotations_is_kept_in_the_database_and_used(client: Client) -> None:
    register("ner", "examples.ner_interactive.model.InteractiveNER")
    post(client, "/ml/ner/setup", {"project": "3.1700000000", "schema": CFG})
    result = [
        {
            "type": "labels",
            "from_name": "label",
            "to_name": "text",
            "value": {"start": 0, "end": 5, "text": "Marie", "labels": ["PER"]},
        },
        {
            "type": "labels",
            "from_name": "label",
            "to_name": "text",
            "value": {"start": 15, "end": 20, "text": "Paris", "labels": ["LOC"]},
        },
        {
            "type": "labels",
            "from_name": "label",
            "to_name": "text",
            "value": {"start": 30, "end": 45, "text": "Acme Industries", "labels": ["ORG"]},
        },
    ]
    event = {
        "action": "ANNOTATION_CREATED",
        "annotation": {"id": 1, "task": 1, "result": result},
        "task": {"id": 1, "data": {"text": "Marie lives in Paris and runs Acme Industries."}},
        "project": {"id": 3, "label_config": CFG, "created_at": "2023-11-14T22:13:20Z"},
    }
    assert post(client, "/ml/ner/webhook", event)[0] == 201
    job = TrainingJob.objects.get()  # the webhook asked for it; skip its debounce
    TrainingJob.objects.filter(pk=job.pk).update(not_before=None)
    assert training_job_run(job.pk) == "succeeded"  # the worker's code path, run here
    assert WebhookEvent.objects.get().processed_at is not None
    _instances.clear()  # a fresh worker: what was learned comes from the database
    tasks = [
        {"id": 2, "data": {"text": "Acme Industries hired Marie in Paris."}},
        {"id": 3, "data": {"text": "Nothing known."}},
    ]
    status, answer = post(
        client, "/ml/ner/predict", {"tasks": tasks, "project": "3.1700000000", "label_config": CFG}
    )
    assert status == 200
    found = [
        (r["value"]["text"], r["value"]["labels"][0], r["value"]["start"])
        for r in answer["results"][0]["result"]
    ]
    assert found == [("Acme Industries", "ORG", 0), ("Marie", "PER", 22), ("Paris", "LOC", 31)]
    assert answer["results"][1]["result"] == []
    assert answer["results"][0]["model_version"] == "ner@1.1"
