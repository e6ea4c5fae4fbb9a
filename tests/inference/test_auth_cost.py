"""Basic auth is no lever on the Hub's CPU. Its password hash (PBKDF2, a quarter of a second of a core
per check) runs once per credential per worker while the credential stays valid, and a client
guessing wrong is answered 429 with Retry-After after HUB_AUTH_FAILURES failures, before any hashing.
What these tests count is the hasher's runs (Django's own, observed and called through): wrong
guesses from 16 threads against a live gunicorn run it at most HUB_AUTH_FAILURES times per worker,
so an open model's /health beside them has the cores it had before."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client

from registry.models import RegisteredModel
from tests.live import LiveHub

pytestmark = pytest.mark.django_db(transaction=True)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def hasher_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    runs: list[str] = []
    verify = PBKDF2PasswordHasher.verify

    def counted(self: PBKDF2PasswordHasher, password: str, encoded: str) -> bool:
        runs.append(password)
        return verify(self, password, encoded)

    monkeypatch.setattr(PBKDF2PasswordHasher, "verify", counted)
    return runs


@pytest.fixture
def locked() -> RegisteredModel:
    model = RegisteredModel(
        name="locked",
        slug="locked",
        kind="python",
        import_path="examples.dummy.model.DummyModel",
        protocol_auth_required=True,
        protocol_username="ls",
    )
    model.set_protocol_password("right-pass")
    model.save()
    RegisteredModel.objects.create(
        name="open", slug="open", kind="python", import_path="examples.dummy.model.DummyModel"
    )
    return model


def health(client: Client, slug: str, auth: str | None = None) -> Any:
    return client.get(f"/ml/{slug}/health", headers={"Authorization": auth} if auth else None)


def test_a_correct_credential_is_hashed_once_while_it_stays_valid(
    client: Client, locked: RegisteredModel, hasher_runs: list[str]
) -> None:
    for _ in range(20):
        assert health(client, "locked", basic("ls", "right-pass")).status_code == 200
    assert hasher_runs == ["right-pass"]
    # A new password (or username) is a new stored hash: the old credential is checked again, and fails.
    locked.set_protocol_password("new-pass")
    locked.save()
    assert health(client, "locked", basic("ls", "right-pass")).status_code == 401
    assert health(client, "locked", basic("ls", "new-pass")).status_code == 200
    assert hasher_runs == ["right-pass", "right-pass", "new-pass"]


def test_wrong_guesses_are_refused_without_hashing_once_a_client_has_failed_enough(
    client: Client, locked: RegisteredModel, hasher_runs: list[str], settings: Any
) -> None:
    settings.HUB_AUTH_FAILURES = 5
    assert health(client, "locked", basic("ls", "right-pass")).status_code == 200  # proven before
    statuses = [health(client, "locked", basic("ls", f"guess-{i}")).status_code for i in range(50)]
    assert statuses == [401] * 5 + [429] * 45
    refused = health(client, "locked", basic("ls", "guess-x"))
    assert refused.json()["code"] == "throttled" and "error" in refused.json()
    assert 1 <= int(refused["Retry-After"]) <= settings.HUB_AUTH_FAILURE_WINDOW_SECONDS
    assert len(hasher_runs) == 1 + 5  # the 45 refused guesses cost no hashing
    # The credential this client proved before still works, and so do the open model and wrong keys.
    assert health(client, "locked", basic("ls", "right-pass")).status_code == 200
    assert health(client, "open").status_code == 200
    assert client.get("/ml/locked/k/not-the-key/health").status_code == 429


def test_wrong_guesses_from_16_threads_hash_a_bounded_number_of_times_on_a_live_server(
    live_hub: LiveHub, locked: RegisteredModel
) -> None:
    answers: list[int] = []
    lock = threading.Lock()

    def guess(thread: int) -> None:
        with requests.Session() as session:
            for i in range(20):
                status = session.get(
                    f"{live_hub.url}/ml/locked/health",
                    headers={"Authorization": basic("ls", f"guess-{thread}-{i}")},
                    timeout=60,
                ).status_code
                with lock:
                    answers.append(status)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    open_health = [requests.get(f"{live_hub.url}/ml/open/health", timeout=60) for _ in range(10)]
    for thread in threads:
        thread.join()
    assert set(answers) <= {401, 429} and len(answers) == 320
    # Each of the server's two workers hashed at most HUB_AUTH_FAILURES (10) wrong guesses.
    assert answers.count(401) <= 2 * 10, answers.count(401)
    assert [r.status_code for r in open_health] == [200] * 10
    assert json.loads(open_health[0].content)["status"] == "UP"
