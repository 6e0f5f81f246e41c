"""The daemon's main loop sees a signal even when the kernel hands it to another thread."""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

import pytest

from sfsync.daemon.main import next_signal


@pytest.fixture
def posted() -> Iterator[queue.SimpleQueue[int]]:
    """A SIGUSR1 handler that posts to a queue, as the daemon's handlers do; restored after."""
    signals: queue.SimpleQueue[int] = queue.SimpleQueue()

    def post(number: int, _frame: FrameType | None) -> None:
        signals.put(number)

    previous = signal.signal(signal.SIGUSR1, post)
    yield signals
    signal.signal(signal.SIGUSR1, previous)


def test_a_signal_received_by_a_worker_thread_reaches_the_main_loop(
    posted: queue.SimpleQueue[int],
) -> None:
    """A SIGUSR1 delivered to a worker thread (as the kernel may do with a SIGHUP) is returned
    by the main thread's wait within a few polls, not left pending while it blocks.
    """

    def deliver_to_myself() -> None:
        time.sleep(0.1)  # the main thread is inside next_signal by then
        signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)

    worker = threading.Thread(target=deliver_to_myself)
    started = time.monotonic()
    worker.start()
    number = next_signal(posted, poll_seconds=0.05)
    worker.join()
    assert number == signal.SIGUSR1
    assert time.monotonic() - started < 5.0
