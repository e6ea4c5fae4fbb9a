"""A connection key is masked in every spelling of its path: percent-encoded slashes (the server
decodes them before routing, so ``/ml/x%2Fk%2F<key>%2Fhealth`` reaches the model), an encoded "k",
double encoding, mixed case and mistyped URLs (404s log the path too)."""

from __future__ import annotations

import pytest
import requests

from core.redact import mask_connection_keys
from registry.models import RegisteredModel
from tests.conftest import wait_for
from tests.live import LiveHub

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "Zk3-secretKEY_9qwe"


def spellings(key: str) -> dict[str, str]:
    """Paths to the model's /health through its key, as a client or a proxy may write them."""
    return {
        "plain": f"/ml/guarded/k/{key}/health",
        "encoded-slashes": f"/ml/guarded%2Fk%2F{key}%2Fhealth",
        "encoded-slashes-lower": f"/ml/guarded%2fk%2f{key}%2fhealth",
        "encoded-k": f"/ml/guarded/%6B/{key}/health",
        "all-slashes-encoded": f"/ml%2Fguarded%2Fk%2F{key}",
        "encoded-slash-after": f"/ml/guarded/k/{key}%2Fhealth",
        "encoded-slash-before": f"/ml/guarded/k%2F{key}/health",
        "double-encoded": f"/ml/guarded%252Fk%252F{key}%252Fhealth",
        "encoded-key-letter": f"/ml/guarded/k/{key[:4]}%{ord(key[4]):02X}{key[5:]}/health",
        "upper-case": f"/ML/guarded/K/{key}/health",
        "unknown-endpoint": f"/ml/guarded/k/{key}/no-such-endpoint?x=1",
    }


@pytest.mark.parametrize("spelling", list(spellings(KEY)))
def test_every_spelling_of_a_key_path_is_masked(spelling: str) -> None:
    path = spellings(KEY)[spelling]
    for line in (
        f'127.0.0.1 - - [28/Nov/2026:05:00:00 +0000] "GET {path} HTTP/1.1" 200 80 "-" "python-requests"',
        f"Not Found: {path}",
        f"Forbidden (Permission denied): {path}",
    ):
        masked = mask_connection_keys(line)
        assert KEY not in masked and KEY[:8] not in masked, masked
        assert "***" in masked


def test_text_without_a_key_is_kept_as_it_was() -> None:
    for line in ('"GET /ml/dummy/predict?a=%2F HTTP/1.1" 200', "100% done", "/static/admin/k.css"):
        assert mask_connection_keys(line) == line


def test_a_live_servers_logs_never_hold_the_key_however_the_path_is_spelled(live_hub: LiveHub) -> None:
    model = RegisteredModel(
        name="guarded",
        slug="guarded",
        kind="python",
        import_path="examples.dummy.model.DummyModel",
        protocol_auth_required=True,
    )
    key = model.new_connection_key()
    model.save()
    start = live_hub.log.stat().st_size
    statuses = {}
    for name, path in spellings(key).items():
        statuses[name] = requests.get(live_hub.url + path, timeout=10).status_code
    # The encoded forms really reach the model (so they really were a way to leak it)...
    assert statuses["encoded-slashes"] == statuses["encoded-k"] == 200

    def logged_since_start() -> str:
        with live_hub.log.open() as log:
            log.seek(start)
            return log.read()

    # ...and were logged, by gunicorn's access log and Django's request log, masked. A worker writes
    # its access line after the answer has gone out, so the last one may come a moment later.
    logged = wait_for(
        lambda: (
            (text := logged_since_start()).lower().count("get /ml") >= len(spellings(key))
            and "Not Found: " in text
            and text
        ),
        timeout=30,
        what="every request's access line",
    )
    assert key not in logged and key[:8] not in logged, logged
