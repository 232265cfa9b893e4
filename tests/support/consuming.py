"""A webhook consumer running on its own thread for the length of a `with` block (the worker's loop)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from connector.consumer import WebhookConsumer


@contextmanager
def consuming(consumer: WebhookConsumer, name: str = "test-consumer") -> Iterator[None]:
    """Take queued events as the worker does (a short wait when the queue is empty) until the block ends."""
    stop = threading.Event()

    def consume() -> None:
        while not stop.is_set():
            if not consumer.run_once().events:
                stop.wait(0.05)

    worker = threading.Thread(target=consume, name=name, daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(10)
