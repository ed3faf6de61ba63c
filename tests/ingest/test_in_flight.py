"""How the local driver overlaps batches (spectral_fast.ingest.local._in_flight): in order, at most N at once."""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from spectral_fast.ingest.local import _in_flight


def test_two_batches_run_at_once_and_come_back_in_order():
    second_started = threading.Event()

    def first():
        assert second_started.wait(timeout=60), "the second batch never started while the first ran"
        return "a"

    def second():
        second_started.set()
        return "b"

    with ThreadPoolExecutor(max_workers=2) as runner:
        assert list(_in_flight(runner, deque(), 2, iter([first, second, lambda: "c"]))) == ["a", "b", "c"]


def test_one_at_a_time_takes_the_next_batch_only_after_the_last_finished():
    events: list[tuple[str, int]] = []

    def jobs():
        for k in range(5):
            events.append(("take", k))
            yield lambda k=k: events.append(("done", k)) or k

    with ThreadPoolExecutor(max_workers=2) as runner:
        assert list(_in_flight(runner, deque(), 1, jobs())) == list(range(5))
    assert events == [(what, k) for k in range(5) for what in ("take", "done")]
