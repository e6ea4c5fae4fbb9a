"""The threads of a pre-annotation job beside its own: the reader that fetches Label Studio's next
page ahead, the writer that imports predicted chunks in order, and the priority all of them run at."""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import connection

T = TypeVar("T")
_END = object()


def lower_priority() -> None:
    """Lower the calling thread's CPU priority by ``HUB_PREANNOTATION_NICE``. On Linux the nice value
    is per thread, and the threads it starts inherit it: a job's CPU work (an in-process model's
    predictions, Label Studio's pages parsed) then yields the cores to interactive ``/predict`` calls
    of the web workers beside it. A thread's priority cannot be raised again: call it only in threads
    the job starts and ends."""
    increment = settings.HUB_PREANNOTATION_NICE
    if increment <= 0 or not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + increment))


class Writer(threading.Thread, Generic[T]):
    """Hands items to ``write`` in order, each time all those that are ready, up to ``limit`` of
    their ``weight``; items that come once ``stop_reason`` says stop are dropped (not written)."""

    def __init__(
        self,
        name: str,
        write: Callable[[list[T]], None],
        weight: Callable[[T], int],
        limit: int,
        stop_reason: Callable[[], str],
    ) -> None:
        super().__init__(daemon=True, name=name)
        self.write = write
        self.weight = weight
        self.limit = limit
        self.stop_reason = stop_reason
        self.queue: queue.Queue[T | None] = queue.Queue(maxsize=8)
        self.error: BaseException | None = None

    def put(self, item: T) -> None:
        while self.error is None:
            try:
                self.queue.put(item, timeout=0.5)
            except queue.Full:
                continue
            return
        raise self.error

    def close(self) -> None:
        if self.error is None:
            self.queue.put(None)
        self.join()

    def run(self) -> None:
        lower_priority()
        try:
            closing = False
            while not closing:
                first = self.queue.get()
                if first is None:
                    return
                batch = [first]
                count = self.weight(first)
                while count < self.limit:
                    try:
                        following = self.queue.get_nowait()
                    except queue.Empty:
                        break
                    if following is None:
                        closing = True
                        break
                    batch.append(following)
                    count += self.weight(following)
                if self.stop_reason():
                    continue  # paused or cancelled: not written, the cursor stays before them
                self.write(batch)
        except BaseException as exc:  # handed to the job's thread, which fails the job with it
            self.error = exc
        finally:
            connection.close()


def prefetched(source: Iterator[T], *, ahead: int) -> Iterator[T]:
    """``source``'s items, read by a thread of their own up to ``ahead`` items before they are
    asked for, so Label Studio's next page is fetched while the present one is predicted."""
    buffer: queue.Queue[Any] = queue.Queue(maxsize=max(ahead, 1))
    stop = threading.Event()

    def produce() -> None:
        lower_priority()
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.5)
                    except queue.Full:
                        continue
                    break
                if stop.is_set():
                    return
            buffer.put(_END)
        except BaseException as exc:  # raised in the consumer's thread
            buffer.put(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=produce, daemon=True, name="preannotate-read")
    thread.start()
    try:
        while (item := buffer.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
