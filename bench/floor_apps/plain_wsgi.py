"""gunicorn's own floor: a WSGI callable that parses the body and answers, with no framework."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from bench.floor_apps.answer import answer


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.dumps(answer(json.loads(environ["wsgi.input"].read(length)))).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
