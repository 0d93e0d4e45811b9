"""A restartable background loop: the grab loop of a camera, the supervisor of a device.

A live driver may be started, stopped and started again (the window pauses and resumes
a source), so its thread must be restartable, and stopping must wait for the loop to
leave the device alone before the driver releases it. The loop polls ``stopping``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class LoopThread:
    """Runs ``target`` in a daemon thread named ``name``; ``target`` returns once
    ``stopping`` is set."""

    def __init__(self, target: Callable[[], None], name: str):
        self._target = target
        self._name = name
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()

    def start(self) -> None:
        """Start the loop unless it is running already."""
        if self._thread is not None and self._thread.is_alive():
            return
        self.stopping.clear()
        self._thread = threading.Thread(target=self._target, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the loop to end and wait (at most ``timeout`` s) until it has."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
