"""Run one call in a forked child: what it returned or raised, or that it crashed or hung.

Fuzzing file readers feeds damaged bytes to C libraries (HDF5, OpenCV's YAML parser,
onnxruntime's protobuf parser). A segfault there would take the whole test run down and
a hang would stall it; in a child process both become a plain test failure that says
which. Forking is cheap (the parent has imported everything already: a few ms), so a
property test can isolate every example.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers.errors import ThermorigError


@dataclass(frozen=True)
class Outcome:
    """``kind``: "ok" (``value`` is what the call returned), "user" (a ThermorigError;
    ``value`` its message), "bug" (another exception; ``value`` its traceback),
    "crash" (``value`` the signal) or "hang" (``value`` the seconds waited)."""

    kind: str
    value: Any


def run_isolated(call: Callable[[], Any], timeout_s: float = 10.0) -> Outcome:
    """``call()`` in a forked child, within ``timeout_s`` seconds."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's cleanup
        os.close(read_fd)
        try:
            try:
                result = Outcome("ok", call())
            except ThermorigError as exc:
                result = Outcome("user", str(exc))
            except BaseException:  # noqa: BLE001 - anything else is what the fuzz looks for
                result = Outcome("bug", traceback.format_exc())
            try:
                data = pickle.dumps(result)
            except Exception:  # noqa: BLE001 - an unpicklable value: its repr will do
                data = pickle.dumps(Outcome(result.kind, repr(result.value)))
            with os.fdopen(write_fd, "wb") as fh:
                fh.write(data)
        finally:
            os._exit(0)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    with os.fdopen(read_fd, "rb") as fh:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return Outcome("hang", timeout_s)
            ready, _, _ = select.select([fh], [], [], left)
            if ready:
                chunk = os.read(fh.fileno(), 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return Outcome("crash", os.WTERMSIG(status))
    if not chunks:
        return Outcome("crash", "the child reported nothing")
    return pickle.loads(b"".join(chunks))
