"""Traffic counters are added up per worker and written by a daemon thread, and a failed write loses
none of them (registry/counters.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from registry.counters import CounterBuffer
from registry.models import RegisteredModel
from tests.conftest import register, wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # the flushing thread has a connection of its own


def predictions_total(model: RegisteredModel) -> int:
    model.refresh_from_db()
    return model.predictions_total


def test_the_flushing_thread_writes_what_the_worker_added_up(settings: Any) -> None:
    settings.HUB_COUNTER_FLUSH_SECONDS = 0.2
    model = register("dummy", "examples.dummy.model.DummyModel")
    buffer = CounterBuffer()
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            buffer.add(model, {"predictions_total": 2}, last_error="")
    # The calls write nothing on the caller's connection, however slow the machine: the thread does.
    assert queries.captured_queries == []
    wait_for(lambda: predictions_total(model) == 6, what="the first flush")
    buffer.add(model, {"predictions_total": 1, "errors_total": 1}, last_error="model server down")
    wait_for(lambda: predictions_total(model) == 7, what="the second flush")
    model.refresh_from_db()
    assert (model.errors_total, model.last_error) == (1, "model server down")


def test_counts_of_a_failed_write_are_written_by_the_next_one(settings: Any) -> None:
    settings.HUB_COUNTER_FLUSH_SECONDS = 3600  # flushed by hand here
    model = register("dummy", "examples.dummy.model.DummyModel")
    buffer = CounterBuffer()
    buffer.add(model, {"predictions_total": 5}, last_error="")
    table = RegisteredModel._meta.db_table
    with connection.cursor() as cursor:  # the database refuses the write: its table is gone for now
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    try:
        buffer.add(model, {"predictions_total": 1}, last_error="")
        with pytest.raises(DatabaseError):
            buffer.flush()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table}_away RENAME TO {table}")
    buffer.add(model, {"predictions_total": 1}, last_error="")
    buffer.flush()
    assert predictions_total(model) == 7
