"""A stand-in for the parts of Label Studio 1.23's REST API a pre-annotation job uses, on loopback:
projects, the task list (keyset filter on id, selected ids, views), the bulk predictions import and
prediction deletes. It keeps every prediction it is sent, so tests can count them per task."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.conftest import QuietHandler, serving

TOKEN = "stand-in-token"
CFG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="Positive"/><Choice value="Negative"/></Choices></View>'
)


@dataclass
class StandIn:
    project_id: int = 7
    label_config: str = CFG
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    predictions: dict[int, dict[str, Any]] = field(default_factory=dict)
    views: dict[int, list[int]] = field(default_factory=dict)
    imports: list[int] = field(default_factory=list)  # the size of each bulk import
    lists: list[str] = field(default_factory=list)  # each task list: "full" (fields=all) or "light"
    import_delay: float = 0.0
    fail_imports: int = 0  # answer this many imports with 500 first
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def add_tasks(self, count: int, make: Any = None) -> list[int]:
        with self.lock:
            start = max(self.tasks, default=100) + 1
            for task_id in range(start, start + count):
                data = make(task_id) if make else {"text": f"task {task_id}: great, I love it"}
                self.tasks[task_id] = {"id": task_id, "data": data, "meta": {}, "project": self.project_id}
        return list(range(start, start + count))

    def predictions_of(self, task_id: int, version: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                p
                for p in self.predictions.values()
                if p["task"] == task_id and (version is None or p["model_version"] == version)
            ]

    def _task(self, task_id: int, full: bool, versions_shown: bool) -> dict[str, Any]:
        """As Label Studio lists it: its predictions with ``fields=all``; else the versions of its
        predictions, joined with commas, when the query's hidden columns leave that column shown."""
        own = [p for p in self.predictions.values() if p["task"] == task_id]
        task = {**self.tasks[task_id], "total_predictions": len(own)}
        if full:
            return {**task, "predictions": own, "annotations": []}
        versions = ",".join(sorted({p["model_version"] for p in own})) if versions_shown else ""
        return {**task, "predictions_model_versions": versions}

    def list_tasks(self, query: dict[str, Any], page: int, size: int, view: int | None, full: bool) -> Any:
        with self.lock:
            ids = sorted(self.tasks)
            if view is not None:
                ids = [i for i in ids if i in self.views.get(view, [])]
            selected = query.get("selectedItems")
            if selected and not selected.get("all"):
                ids = [i for i in ids if i in set(selected.get("included", []))]
            for item in (query.get("filters") or {}).get("items", []):
                assert item["filter"] == "filter:tasks:id" and item["operator"] == "greater"
                ids = [i for i in ids if i > item["value"]]
            chosen = ids[(page - 1) * size : page * size]
            if page > 1 and not chosen:
                return 404, {"detail": "Invalid page."}
            hidden = query.get("hiddenColumns")
            shown = full or (
                isinstance(hidden, dict)
                and "tasks:predictions_model_versions" not in set(hidden["explore"]) & set(hidden["labeling"])
            )
            self.lists.append("full" if full else "light")
            return 200, {"total": len(ids), "tasks": [self._task(i, full, shown) for i in chosen]}

    def import_predictions(self, items: list[dict[str, Any]]) -> tuple[int, Any]:
        time.sleep(self.import_delay)
        with self.lock:
            if self.fail_imports > 0:
                self.fail_imports -= 1
                return 500, {"detail": "boom"}
            if any(item["task"] not in self.tasks for item in items):
                return 400, {"detail": "invalid task"}
            for item in items:
                pid = max(self.predictions, default=0) + 1
                self.predictions[pid] = {"id": pid, **item, "created_at": "2026-01-01T00:00:00Z"}
            self.imports.append(len(items))
            return 201, {"created": len(items)}


def _handler(state: StandIn) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def _json(self, status: int, body: Any) -> None:
            self.reply(status, json.dumps(body).encode(), "application/json")

        def _authorized(self) -> bool:
            if self.headers.get("Authorization") != f"Token {TOKEN}":
                self._json(401, {"detail": "Authentication credentials were not provided."})
                return False
            return True

        def do_GET(self) -> None:
            if not self._authorized():
                return
            parts = urlsplit(self.path)
            args = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == f"/api/projects/{state.project_id}":
                self._json(
                    200,
                    {
                        "id": state.project_id,
                        "title": "stand-in",
                        "label_config": state.label_config,
                        "created_at": "2026-01-02T03:04:05.123456Z",
                    },
                )
            elif parts.path == "/api/tasks" and args.get("project") == str(state.project_id):
                query = json.loads(args.get("query", "{}"))
                view = int(args["view"]) if "view" in args else None
                page, size, full = (
                    int(args.get("page", 1)),
                    int(args["page_size"]),
                    args.get("fields") == "all",
                )
                self._json(*state.list_tasks(query, page, size, view, full))
            else:
                self._json(404, {"detail": "Not found."})

        def do_POST(self) -> None:
            if not self._authorized():
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
            if self.path == f"/api/projects/{state.project_id}/import/predictions":
                self._json(*state.import_predictions(body))
            else:
                self._json(404, {"detail": "Not found."})

        def do_DELETE(self) -> None:
            if not self._authorized():
                return
            prediction_id = int(self.path.strip("/").rsplit("/", 1)[-1])
            with state.lock:
                found = state.predictions.pop(prediction_id, None)
            if found is None:
                self._json(404, {"detail": "Not found."})
            else:
                self.reply(204)

    return Handler


@contextmanager
def label_studio_stand_in() -> Iterator[StandIn]:
    state = StandIn()
    with serving(_handler(state)) as url:
        state.url = url
        yield state
