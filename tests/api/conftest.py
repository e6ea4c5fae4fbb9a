from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from api.tokens import api_token_issue
from tests.api.fixtures import detector_url, world  # noqa: F401 - fixtures of every API test


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_superuser("alice", "alice@example.com", "pw")


@pytest.fixture
def token_for(staff: User) -> Callable[..., str]:
    """Issues a token (as the admin does) and returns its secret."""

    def issue(scope: str = "write", user: User | None = None, name: str = "test") -> str:
        return api_token_issue(user=user or staff, name=name, scope=scope, actor="user:test").secret

    return issue


def client_with(token: str | None, scheme: str = "Bearer", **extra: Any) -> APIClient:
    client = APIClient(**extra)
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}")
    return client


@pytest.fixture
def writer(token_for: Callable[..., str]) -> APIClient:
    return client_with(token_for("write"))


@pytest.fixture
def reader(token_for: Callable[..., str]) -> APIClient:
    return client_with(token_for("read"))
