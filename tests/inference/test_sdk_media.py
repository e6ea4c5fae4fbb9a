from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from registry.models import LabelStudioInstance
from tests.conftest import QuietHandler, register, serving

pytestmark = pytest.mark.django_db(transaction=True)
CFG = '<View><Text name="text" value="$doc"/><TextArea name="note" toName="text"/></View>'


class TextFiles(QuietHandler):
    hits: list[str] = []
    token = "from-setup"

    def do_GET(self) -> None:
        TextFiles.hits.append(self.path)
        ok = (
            self.headers.get("Authorization") == f"Token {TextFiles.token}"
            and self.path == "/data/upload/4/notes.txt"
        )
        self.reply(200 if ok else 401, b"hello from label studio\n" if ok else b"")


@pytest.fixture
def label_studio() -> Iterator[str]:
    TextFiles.hits = []
    with serving(TextFiles) as url:
        yield url


def post(client: Client, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = client.post(path, json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def test_get_local_path_and_preload_task_data_fetch_with_the_projects_token_once(
    client: Client, label_studio: str, settings: Any, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    register("files", "tests.models.media.FileLengthModel")
    setup = {
        "project": "4.1700000000",
        "schema": CFG,
        "hostname": label_studio,
        "access_token": "stale-legacy",
    }
    assert post(client, "/ml/files/setup", setup)[0] == 200
    # Label Studio 1.23 disables the token /setup sends; the admin sets one that works, after the model was built.
    task = {"id": 11, "data": {"doc": "/data/upload/4/notes.txt"}}
    status, body = post(
        client, "/ml/files/predict", {"tasks": [task], "project": "4.1700000000", "label_config": CFG}
    )
    assert (status, body["code"]) == (502, "media_unavailable") and "401" in body["error"]
    instance = LabelStudioInstance.objects.get(hostname=label_studio)
    instance.api_key = "from-setup"
    instance.save()
    status, body = post(
        client, "/ml/files/predict", {"tasks": [task], "project": "4.1700000000", "label_config": CFG}
    )
    assert status == 200, body
    assert body["results"][0]["result"][0]["value"]["text"] == ["hello from label studio|notes.txt"]
    assert (
        TextFiles.hits.count("/data/upload/4/notes.txt") == 2
    )  # one refused, then one download for both helpers
    assert [p.name.split("__")[1] for p in (tmp_path / "media-cache").iterdir()] == ["notes.txt"]
