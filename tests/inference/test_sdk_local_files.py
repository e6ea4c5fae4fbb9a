"""Local files: read under LOCAL_FILES_DOCUMENT_ROOT only, every way out refused."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.conftest import register
from wow_ai_hub.media import MediaError
from wow_ai_hub.model import WOWAIHUB

CFG = '<View><Text name="text" value="$doc"/><TextArea name="note" toName="text"/></View>'


@pytest.fixture
def root(tmp_path: Path, settings: Any) -> Path:
    """A document root with docs/a.txt; beside it, outside, secret.txt and a symlink pointing at it."""
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("inside")
    (tmp_path / "secret.txt").write_text("outside")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    (root / "docs" / "up").symlink_to(tmp_path)
    settings.LOCAL_FILES_DOCUMENT_ROOT = str(root)
    return root


def test_a_local_storage_file_under_the_root_is_read_in_place(root: Path) -> None:
    model = WOWAIHUB()
    path = model.get_local_path("/data/local-files/?d=docs/a.txt")
    assert path == str(root / "docs" / "a.txt")
    task = {"id": 1, "data": {"doc": "/data/local-files/?d=docs%2Fa.txt", "plain": str(root / "docs/a.txt")}}
    assert model.preload_task_data(task) == {"doc": "inside", "plain": "inside"}
    # An absolute name inside the root is the same file, and so is the URL without the slash.
    assert model.get_local_path(f"/data/local-files/?d={root}/docs/a.txt") == path
    assert model.get_local_path("/data/local-files?d=docs/a.txt") == path


@pytest.mark.parametrize(
    "url",
    [
        "/data/local-files/?d=../secret.txt",
        "/data/local-files?d=../secret.txt",
        "/data/local-files/?d=%2e%2e/secret.txt",
        "/data/local-files/?d=../secret.txt&d=docs/a.txt",
        "/data/local-files/?d=docs/../../secret.txt",
        "/data/local-files/?d=docs%2F..%2F..%2Fsecret.txt",
        "/data/local-files/?d=link.txt",  # a symlink inside that points out
        "/data/local-files/?d=docs/up/secret.txt",  # a symlinked folder that points out
        "/data/local-files/?d={outside}",  # an absolute path elsewhere
        "{outside}",  # a plain path elsewhere
        "{root}/docs/../../secret.txt",  # a plain path that climbs out
        "/data/local-files/?d=/etc/passwd",
    ],
)
def test_every_path_out_of_the_root_is_refused(root: Path, url: str) -> None:
    url = url.format(outside=root.parent / "secret.txt", root=root)
    with pytest.raises(MediaError, match="outside LOCAL_FILES_DOCUMENT_ROOT"):
        WOWAIHUB().get_local_path(url)
    with pytest.raises(MediaError):
        WOWAIHUB().preload_task_data({"id": 1, "data": {"doc": url}})


def test_a_missing_or_empty_name_is_refused(root: Path) -> None:
    with pytest.raises(MediaError, match="no such file"):
        WOWAIHUB().get_local_path("/data/local-files/?d=docs/missing.txt")
    with pytest.raises(MediaError, match="must name a file"):
        WOWAIHUB().get_local_path("/data/local-files/?d=")
    with pytest.raises(MediaError, match="must name a file"):  # a NUL byte cuts no name short
        WOWAIHUB().get_local_path("/data/local-files/?d=docs/a.txt%00.png")
    with pytest.raises(MediaError, match="no such file"):
        WOWAIHUB().get_local_path("/data/local-files/?d=docs")  # a folder is not a file


def test_preload_walks_nested_data_and_keeps_what_is_not_media(root: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(root / "docs")  # a relative name of an existing file is still text, not a file
    doc = "/data/local-files/?d=docs/a.txt"
    data = {
        "root": {"urls": [doc, doc], "text": "a.txt"},
        "int": 1,
        "float": 4.2,
        "bool": False,
        "null": None,
    }
    assert WOWAIHUB().preload_task_data({"id": 1, "data": data}) == {
        "root": {"urls": ["inside", "inside"], "text": "a.txt"},
        "int": 1,
        "float": 4.2,
        "bool": False,
        "null": None,
    }


def test_without_a_root_no_file_path_is_read(tmp_path: Path, settings: Any) -> None:
    settings.LOCAL_FILES_DOCUMENT_ROOT = ""
    os.environ.pop("LOCAL_FILES_DOCUMENT_ROOT", None)
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    with pytest.raises(MediaError, match="set LOCAL_FILES_DOCUMENT_ROOT"):
        WOWAIHUB().get_local_path(str(secret))
    # Label Studio's local storage is then Label Studio's to serve: fetched from it, not read from disk.
    with pytest.raises(MediaError, match="no address"):
        WOWAIHUB().get_local_path(f"/data/local-files/?d={secret}")
    # Text that is not an existing path stays text.
    assert WOWAIHUB().preload_task_data({"data": {"t": "/r/python is fun"}}) == {"t": "/r/python is fun"}


@pytest.mark.django_db
def test_a_refused_path_is_the_tasks_media_error_not_a_500(root: Path) -> None:
    register("files", "tests.models.media.FileLengthModel")
    task = {"id": 1, "data": {"doc": "/data/local-files/?d=../secret.txt"}}
    response = Client().post(
        "/ml/files/predict",
        json.dumps({"tasks": [task], "label_config": CFG}),
        content_type="application/json",
    )
    body = response.json()
    assert (response.status_code, body["code"]) == (502, "media_unavailable")
    assert "outside LOCAL_FILES_DOCUMENT_ROOT" in body["error"] and "Traceback" not in body["error"]
    good = {"id": 2, "data": {"doc": "/data/local-files/?d=docs/a.txt"}}
    response = Client().post(
        "/ml/files/predict",
        json.dumps({"tasks": [good], "label_config": CFG}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["results"][0]["result"][0]["value"]["text"] == [f"inside|{root}/docs/a.txt"]
