"""What passes between the reader, main and writer threads, and the bounded queues' polling.

Every wait polls so that a stopped run (an error or Ctrl-C elsewhere) or a dead peer thread is
noticed within ``POLL_SECONDS`` instead of blocking forever on a full or empty queue.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

POLL_SECONDS = 0.1


@dataclass
class Batch:
    """One unit in the queues: side-stream items to mux, then up to batch_size video frames."""

    frames: np.ndarray | None  # N x H x W x 3 uint8/uint16 (reader -> main) or float result
    pts: list[int]
    durations: list[int]
    side: list[tuple[int, Any]]  # (output stream index, Packet to copy | AudioFrame to encode)


@dataclass
class End:
    """The last item a reader sends, carrying its exception if it failed."""

    error: BaseException | None = None


class Worker(threading.Thread):
    """A daemon thread that keeps its exception for the main thread to re-raise."""

    def __init__(self, name: str, target: Callable[[], None]) -> None:
        super().__init__(name=name, daemon=True)
        self._fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._fn()
        except BaseException as exc:
            self.error = exc


def _put_while(q: queue.Queue, item: Any, keep_trying: Callable[[], bool]) -> bool:
    """Put ``item`` on ``q``, waiting for room while ``keep_trying()``; False if it gave up."""
    while keep_trying():
        try:
            q.put(item, timeout=POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def get_until(q: queue.Queue, give_up: Callable[[], bool]) -> Any | None:
    """The next item on ``q``, or None once ``give_up()`` holds while ``q`` is empty."""
    while True:
        try:
            return q.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if give_up():
                return None


def put(q: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Put from a worker thread; False (item dropped) once ``stop`` is set."""
    return _put_while(q, item, lambda: not stop.is_set())


def send(q: queue.Queue, item: Any, consumer: Worker) -> None:
    """Put from the main thread; re-raise ``consumer``'s error if it died instead of taking it."""
    if not _put_while(q, item, consumer.is_alive):
        raise consumer.error or RuntimeError("video writer stopped unexpectedly")


def receive(q: queue.Queue, producer: Worker) -> Any:
    """Get on the main thread; re-raise ``producer``'s error if it died with ``q`` drained."""
    item = get_until(q, lambda: not producer.is_alive() and q.empty())
    if item is None:
        raise (producer.error or RuntimeError("video reader stopped unexpectedly")) from None
    return item
