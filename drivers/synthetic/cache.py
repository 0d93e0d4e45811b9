"""A process-wide LRU of clean renders, bounded in bytes.

Pedalling and running repeat, and a calibration board is still most of the time, so a
render is reused many times; sharing the cache between drivers means reopening the
same synthetic source (the GUI does so on every restart of the preview) costs nothing.
Entries are pure functions of (scene, seed, config, stream, state), hence safe to share.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class RenderCache:
    def __init__(self, budget_bytes: int = 1 << 30):
        self.budget = int(budget_bytes)
        self._data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._pending: dict[Hashable, threading.Event] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Hashable, value: Any, nbytes: int) -> None:
        with self._lock:
            if key in self._data:
                return
            self._data[key] = (value, int(nbytes))
            self._bytes += int(nbytes)
            while self._bytes > self.budget and len(self._data) > 1:
                _, (_, size) = self._data.popitem(last=False)
                self._bytes -= size

    def get_or_make(self, key: Hashable, make: Callable[[], tuple[Any, int]]) -> tuple[Any, bool]:
        """The entry for ``key``, made by ``make() -> (value, nbytes)`` if absent.

        When another thread is already making the same entry, waits for it instead of
        rendering it twice. Returns (value, whether this call made it).
        """
        while True:
            with self._lock:
                item = self._data.get(key)
                if item is not None:
                    self._data.move_to_end(key)
                    self.hits += 1
                    return item[0], False
                pending = self._pending.get(key)
                if pending is None:
                    self.misses += 1
                    pending = self._pending[key] = threading.Event()
                    mine = True
                else:
                    mine = False
            if not mine:
                pending.wait()
                continue
            try:
                value, nbytes = make()
                self.put(key, value, nbytes)
                return value, True
            finally:
                with self._lock:
                    self._pending.pop(key, None)
                pending.set()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._data)


#: Shared by every synthetic driver of the process.
CACHE = RenderCache()
