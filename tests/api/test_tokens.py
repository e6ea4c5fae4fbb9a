"""API tokens: issued in the admin and shown once, stored as a keyed hash, scoped, revocable; wrong ones
get 401 in the error shape and a client that keeps failing gets 429."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.sessions.models import Session
from django.test import Client

from api.models import ApiToken
from api.tokens import api_token_revoke
from registry.models import AuditEvent
from tests.api.conftest import client_with
from tests.conftest import register

pytestmark = pytest.mark.django_db


def test_the_admin_shows_a_new_token_once_and_keeps_only_its_hash(
    admin_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = User.objects.get(username="admin")
    response = admin_client.post(
        "/admin/api/apitoken/add/", {"user": admin.pk, "name": "WOW AI", "scope": "read"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get()
    secret = response.context["secret"]
    assert secret.startswith(f"hub_{token.prefix}_") and secret in response.content.decode()
    # Nowhere else: not in the row, not in a cookie, the session or a log line.
    assert secret not in str(ApiToken.objects.values().get()) and token.digest != secret
    assert all(secret not in morsel.value for morsel in response.cookies.values())
    assert all(secret not in str(s.get_decoded()) for s in Session.objects.all())
    assert all(secret not in record.getMessage() for record in caplog.records)
    assert secret not in admin_client.get("/admin/api/apitoken/").content.decode()
    assert secret not in admin_client.get(f"/admin/api/apitoken/{token.pk}/change/").content.decode()
    # And it works.
    answer = client_with(secret).get("/api/token")
    assert answer.status_code == 200
    assert answer.json() | {"created_at": None, "last_used_at": None} == {
        "name": "WOW AI",
        "user": "admin",
        "scope": "read",
        "prefix": token.prefix,
        "created_at": None,
        "last_used_at": None,
    }
    assert AuditEvent.objects.filter(action="issue_api_token", actor="user:admin").exists()


def test_a_staff_user_issues_and_sees_tokens_only_for_themselves(
    staff: User, token_for: Callable[..., str]
) -> None:
    token_for("write", name="alices-token")
    bob = User.objects.create_user("bob", password="pw", is_staff=True)
    bob.user_permissions.add(*Permission.objects.filter(codename__in=["add_apitoken", "view_apitoken"]))
    client = Client()
    client.force_login(bob)
    refused = client.post("/admin/api/apitoken/add/", {"user": staff.pk, "name": "x", "scope": "write"})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert not ApiToken.objects.filter(name="x").exists()
    issued = client.post("/admin/api/apitoken/add/", {"user": bob.pk, "name": "x", "scope": "write"})
    assert issued.status_code == 200 and ApiToken.objects.get(name="x").user == bob
    listed = client.get("/admin/api/apitoken/").content.decode()
    assert "alices-token" not in listed and ApiToken.objects.get(name="x").prefix in listed


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer"])
def test_both_header_schemes_work_and_mark_the_token_used(token_for: Callable[..., str], scheme: str) -> None:
    secret = token_for("read")
    assert ApiToken.objects.get().last_used_at is None
    assert client_with(secret, scheme).get("/api/token").status_code == 200
    assert ApiToken.objects.get().last_used_at is not None


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "not_authenticated"),
        ("Bearer ", "authentication_failed"),
        ("Bearer hub_000000000000_nope", "authentication_failed"),
        ("Bearer not-a-hub-token", "authentication_failed"),
        ("Basic dXNlcjpwYXNz", "authentication_failed"),
    ],
)
def test_missing_or_invalid_tokens_get_401_in_the_error_shape(
    token_for: Callable[..., str], header: str | None, code: str
) -> None:
    token_for("write")
    client = client_with(None)
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    answer = client.get("/api/token")
    assert answer.status_code == 401
    assert answer.json()["code"] == code and answer.json()["error"]
    assert answer["WWW-Authenticate"] == 'Bearer realm="api"'


def test_the_right_prefix_with_a_wrong_secret_is_refused(token_for: Callable[..., str]) -> None:
    secret = token_for("write")
    forged = secret[: secret.rindex("_") + 1] + "x" * 43
    assert client_with(forged).get("/api/token").status_code == 401


def test_a_revoked_token_and_a_token_of_a_demoted_user_stop_working(
    token_for: Callable[..., str], staff: User
) -> None:
    revoked, demoted = token_for("write", name="a"), token_for("write", name="b")
    assert api_token_revoke(token=ApiToken.objects.get(name="a"), actor="user:test")
    assert not api_token_revoke(token=ApiToken.objects.get(name="a"), actor="user:test")
    assert client_with(revoked).get("/api/token").status_code == 401
    assert client_with(demoted).get("/api/token").status_code == 200
    User.objects.filter(pk=staff.pk).update(is_staff=False)
    assert client_with(demoted).get("/api/token").status_code == 401
    assert AuditEvent.objects.filter(action="revoke_api_token").count() == 1


def test_the_admin_revokes_tokens(admin_client: Client, token_for: Callable[..., str]) -> None:
    secret = token_for("write")
    token = ApiToken.objects.get()
    admin_client.post("/admin/api/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert client_with(secret).get("/api/token").status_code == 401
    assert AuditEvent.objects.filter(action="revoke_api_token", actor="user:admin").exists()


@pytest.mark.urls("tests.api.write_probe")
def test_a_read_only_token_may_only_read(token_for: Callable[..., str]) -> None:
    reader, writer = client_with(token_for("read")), client_with(token_for("write"))
    assert reader.get("/probe").status_code == 200
    refused = reader.post("/probe", {}, format="json")
    assert refused.status_code == 403
    assert refused.json() == {"error": "This token is read-only.", "code": "read_only_token"}
    assert writer.post("/probe", {}, format="json").json() == {"written": True}


@pytest.mark.urls("tests.api.write_probe")
def test_writing_also_needs_the_users_django_permission(token_for: Callable[..., str]) -> None:
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    client = client_with(token_for("write", user=viewer))
    assert client.get("/probe").status_code == 200
    refused = client.post("/probe", {}, format="json")
    assert refused.status_code == 403 and "registry.change_registeredmodel" in refused.json()["error"]
    viewer.user_permissions.add(Permission.objects.get(codename="change_registeredmodel"))
    assert client.post("/probe", {}, format="json").status_code == 200


def test_repeated_failures_from_one_client_are_throttled(
    token_for: Callable[..., str], settings: object
) -> None:
    settings.HUB_API_AUTH_FAILURE_LIMIT = 3  # type: ignore[attr-defined]
    good = token_for("read")
    for _ in range(3):
        assert client_with("hub_0_bad").get("/api/token").status_code == 401
    throttled = client_with(good).get("/api/token")
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"
    # Another client is not affected.
    assert client_with(good, REMOTE_ADDR="10.1.2.3").get("/api/token").status_code == 200


def test_a_client_cannot_escape_the_throttle_by_writing_its_own_forwarded_for(
    token_for: Callable[..., str], settings: Any
) -> None:
    """Without HUB_NUM_PROXIES the peer's address counts, whatever X-Forwarded-For a client sends; with
    one proxy in front, the address that proxy appended."""
    settings.HUB_API_AUTH_FAILURE_LIMIT = 3
    good = token_for("read")
    for n in range(3):
        forged = client_with("hub_0_bad", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
        assert forged.get("/api/token").status_code == 401
    forged = client_with(good, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert forged.get("/api/token").status_code == 429

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxied = client_with(good, HTTP_X_FORWARDED_FOR="192.0.2.99, 198.51.100.4")
    assert proxied.get("/api/token").status_code == 200  # 198.51.100.4, as the proxy saw it


def test_a_models_protocol_credentials_never_open_the_api() -> None:
    model = register("open", "examples.dummy.model.DummyModel")
    model.protocol_auth_required, model.protocol_username = True, "ls"
    model.set_protocol_password("pw")
    model.save()
    assert client_with("bHM6cHc=", "Basic").get("/api/token").status_code == 401
    assert client_with(None).get("/api/token").status_code == 401
