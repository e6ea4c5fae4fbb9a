from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet

from core import crypto
from registry.label_config import LabelConfigError, label_config_parse
from registry.project_uid import ProjectUid
from tests.conftest import CFG


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("7.1700000000", ProjectUid(7, 1700000000)),
        ("42", ProjectUid(42, 0)),
        (42, ProjectUid(42, 0)),
        (" 3.5 ", ProjectUid(3, 5)),
    ],
)
def test_project_uids_parse(raw: Any, expected: ProjectUid) -> None:
    assert ProjectUid.parse(raw) == expected


@pytest.mark.parametrize("raw", ["", "abc", "7.", "7.x", "-1.5", "1.2.3", "None"])
def test_malformed_project_uids_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="project must look like"):
        ProjectUid.parse(raw)


def test_project_uid_prints_as_label_studio_writes_it() -> None:
    assert (str(ProjectUid(7, 1700000000)), str(ProjectUid(42))) == ("7.1700000000", "42")


def test_label_config_parse_gives_label_studios_structure() -> None:
    parsed = label_config_parse(CFG)
    assert parsed["sentiment"]["type"] == "Choices"
    assert parsed["sentiment"]["to_name"] == ["text"]
    assert parsed["sentiment"]["labels"] == ["Positive", "Negative"]


@pytest.mark.parametrize(
    "config",
    ['<!DOCTYPE View SYSTEM "http://example.com/x.dtd"><View/>', "<View>", "", "<Other/>"],
)
def test_label_config_parse_refuses(config: str) -> None:
    with pytest.raises(LabelConfigError):
        label_config_parse(config)


def test_secrets_survive_key_rotation(settings: Any) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.HUB_ENCRYPTION_KEYS = [old_key]
    token = crypto.encrypt("label-studio-token")
    settings.HUB_ENCRYPTION_KEYS = [new_key, old_key]  # rotation: new key first, old key still decrypts
    assert crypto.decrypt(token) == "label-studio-token"
    reencrypted = crypto.encrypt("label-studio-token")
    settings.HUB_ENCRYPTION_KEYS = [new_key]  # old key retired
    assert crypto.decrypt(reencrypted) == "label-studio-token"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        crypto.decrypt(token)
