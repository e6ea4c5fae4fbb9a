"""Reading the model versions of a task's predictions from Label Studio's task list."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.label_studio import model_versions, shown_as_is


@pytest.mark.parametrize(
    ("task", "versions"),
    [
        ({"predictions_model_versions": ""}, frozenset()),
        ({"predictions_model_versions": "a@1,b@10"}, frozenset({"a@1", "b@10"})),  # SQLite's GROUP_CONCAT
        ({"predictions_model_versions": "a@1, b@10"}, frozenset({"a@1", "b@10"})),  # PostgreSQL's ARRAY_AGG
        ({"predictions_model_versions": "x" * 500}, None),  # cut at Label Studio's 500 characters
        ({}, None),
        (
            {"predictions": [{"id": 1, "model_version": "a@1"}, {"id": 2, "model_version": ""}]},
            frozenset({"a@1"}),
        ),
    ],
)
def test_the_versions_of_a_listed_tasks_predictions(
    task: dict[str, Any], versions: frozenset[str] | None
) -> None:
    assert model_versions(task) == versions


def test_a_version_the_column_would_change_is_not_read_from_it() -> None:
    assert shown_as_is("text-classifier@3")
    assert not shown_as_is("v1,beta") and not shown_as_is('say "1"') and not shown_as_is(" v1")
