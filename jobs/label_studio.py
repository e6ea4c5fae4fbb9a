"""The calls a pre-annotation job makes to Label Studio's REST API (1.23), through the one client.

Tasks are read in ascending id order with a keyset filter (``id > cursor``), so pages stay stable
while predictions are written and tasks come and go, and a resumed job starts at its cursor."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.conf import settings

from core.clients import request_json, session_for
from core.errors import UpstreamBadAnswer
from inference.media import LabelStudioAccess, label_studio_headers
from registry.project_uid import ProjectUid
from wow_ai_hub.media import MediaError


@dataclass(frozen=True)
class LabelStudioProject:
    uid: ProjectUid
    title: str
    label_config: str


@dataclass(frozen=True)
class TaskPage:
    tasks: list[dict[str, Any]]
    remaining: int  # tasks after the cursor, this page included


# Label Studio computes every Data Manager column its task list shows, and ``fields=all`` shows them
# all, predictions included: several times the cost of the list. A job's lists hide every column but
# the model versions of each task's predictions; the few tasks whose predictions it needs by id are
# listed again in full. A column a later Label Studio adds is computed, not missed.
_HIDDEN_COLUMNS = [
    f"tasks:{name}"
    for name in (
        "inner_id",
        "completed_at",
        "total_annotations",
        "cancelled_annotations",
        "total_predictions",
        "annotators",
        "annotations_results",
        "annotations_ids",
        "predictions_score",
        "predictions_results",
        "file_upload",
        "storage_filename",
        "created_at",
        "updated_at",
        "updated_by",
        "avg_lead_time",
        "draft_exists",
        "state",
    )
]
# Label Studio cuts a column's text at this many characters.
_COLUMN_LIMIT = 500


def shown_as_is(version: str) -> bool:
    """Whether the Data Manager's versions column shows this version unchanged: it joins versions with
    commas and drops double quotes, and ``model_versions`` strips spaces around each."""
    return version == version.strip() and "," not in version and '"' not in version


def model_versions(task: dict[str, Any]) -> frozenset[str] | None:
    """The model versions of the task's predictions: from the predictions themselves when the task
    was listed in full, else from the Data Manager column ("a@1,b@2", or "a@1, b@2" on PostgreSQL);
    None when the column cannot tell (cut at its limit)."""
    predictions = task.get("predictions")
    if isinstance(predictions, list):
        return frozenset(
            str(p.get("model_version")) for p in predictions if isinstance(p, dict) and p.get("model_version")
        )
    column = task.get("predictions_model_versions")
    if not isinstance(column, str) or len(column) >= _COLUMN_LIMIT:
        return None
    return frozenset(part.strip() for part in column.split(",") if part.strip())


class LabelStudioApi:
    """One Label Studio, called with an API key (a legacy token or a personal access token)."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.access = LabelStudioAccess(base_url=base_url.rstrip("/"), token=api_key)
        self.session = session_for(("label-studio", self.access.base_url), pool_size=4)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            headers = label_studio_headers(self.access)
        except MediaError as exc:
            raise UpstreamBadAnswer(str(exc)) from exc
        return request_json(
            self.session,
            method,
            self.access.base_url + path,
            json=body,
            headers=headers,
            timeout=tuple(settings.HUB_LABEL_STUDIO_TIMEOUT),
        )

    def project(self, project_id: int) -> LabelStudioProject:
        body = self.call("GET", f"/api/projects/{project_id}")
        if not isinstance(body, dict) or not isinstance(body.get("label_config"), str):
            raise UpstreamBadAnswer(f"Label Studio answered project {project_id} without its label config.")
        created = str(body.get("created_at") or "")
        try:
            created_ts = int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())
        except ValueError:
            created_ts = 0
        return LabelStudioProject(
            uid=ProjectUid(project_id=project_id, created_ts=created_ts),
            title=str(body.get("title") or ""),
            label_config=body["label_config"],
        )

    def _tasks(self, project_id: int, query: dict[str, Any], page_size: int, full: bool) -> TaskPage:
        """``full``: with every field and each task's predictions; else with the model versions of its
        predictions only (``model_versions``)."""
        if full:
            fields = "&fields=all"
        else:
            fields, query = (
                "",
                {**query, "hiddenColumns": {"explore": _HIDDEN_COLUMNS, "labeling": _HIDDEN_COLUMNS}},
            )
        path = (
            f"/api/tasks?project={project_id}&page=1&page_size={page_size}{fields}"
            f"&resolve_uri=false&query={quote(json.dumps(query))}"
        )
        body = self.call("GET", path)
        if not isinstance(body, dict) or not isinstance(body.get("tasks"), list):
            raise UpstreamBadAnswer("Label Studio answered a task list without tasks.")
        tasks = [t for t in body["tasks"] if isinstance(t, dict) and isinstance(t.get("id"), int)]
        remaining = body.get("total")
        return TaskPage(tasks=tasks, remaining=remaining if isinstance(remaining, int) else len(tasks))

    def tasks_after(self, project_id: int, cursor: int, page_size: int) -> TaskPage:
        """The next tasks of the project with an id above ``cursor``, with the model versions of their
        predictions (``model_versions``)."""
        query = {
            "filters": {
                "conjunction": "and",
                "items": [
                    {"filter": "filter:tasks:id", "operator": "greater", "type": "Number", "value": cursor}
                ],
            },
            "ordering": ["tasks:id"],
        }
        return self._tasks(project_id, query, page_size, full=False)

    def tasks_by_id(self, project_id: int, ids: list[int], *, full: bool = False) -> list[dict[str, Any]]:
        """These tasks (those that still exist; ``full``: see ``_tasks``)."""
        if not ids:
            return []
        query = {"selectedItems": {"all": False, "included": ids}, "ordering": ["tasks:id"]}
        return self._tasks(project_id, query, len(ids), full).tasks

    def view_task_ids(self, project_id: int, view_id: int, page_size: int) -> list[int]:
        """The ids of the tasks a Data Manager view (tab) shows now, with its filters."""
        ids: list[int] = []
        page = 1
        while True:
            body = self.call(
                "GET",
                f"/api/tasks?project={project_id}&view={view_id}&page={page}&page_size={page_size}"
                "&resolve_uri=false",
            )
            tasks = body.get("tasks") if isinstance(body, dict) else None
            if not isinstance(tasks, list):
                raise UpstreamBadAnswer(f"Label Studio answered view {view_id} without tasks.")
            ids.extend(t["id"] for t in tasks if isinstance(t, dict) and isinstance(t.get("id"), int))
            total = body.get("total")
            if not tasks or not isinstance(total, int) or page * page_size >= total:
                return ids
            page += 1

    def import_predictions(self, project_id: int, predictions: list[dict[str, Any]]) -> int:
        """The bulk predictions import; items are ``{"task", "result", "score", "model_version"}``."""
        if not predictions:
            return 0
        body = self.call("POST", f"/api/projects/{project_id}/import/predictions", predictions)
        created = body.get("created") if isinstance(body, dict) else None
        return created if isinstance(created, int) else len(predictions)

    def delete_predictions(self, ids: Iterable[int]) -> None:
        for prediction_id in ids:
            try:
                self.call("DELETE", f"/api/predictions/{prediction_id}/")
            except UpstreamBadAnswer as exc:
                if "HTTP 404" not in str(exc.detail):  # already gone: what we wanted
                    raise
