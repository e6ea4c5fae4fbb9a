"""What the floor apps share: the answer they give (the Hub's dummy model's prediction for each
task) and the bare Django settings of the two Django ones."""

from __future__ import annotations

from typing import Any

REGION = {
    "from_name": "sentiment",
    "to_name": "text",
    "type": "choices",
    "value": {"choices": ["Positive"]},
    "score": 0.5,
}


def answer(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "results": [{"result": [REGION], "score": 0.5, "model_version": "dummy@1"} for _ in body["tasks"]]
    }


def configure_bare_django(urlconf: str, **extra: Any) -> None:
    """Django with no middleware, no database and no apps but ``extra``'s, its URLs in ``urlconf``."""
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        ROOT_URLCONF=urlconf,
        ALLOWED_HOSTS=["*"],
        MIDDLEWARE=[],
        SECRET_KEY="floor-bench",  # noqa: S106 - signs nothing
        **extra,
    )
    django.setup()
