"""drivers.loop_thread: a live driver's loop stops when asked and can start again."""

from __future__ import annotations

import threading

from drivers.loop_thread import LoopThread


def test_the_loop_runs_until_stopped_and_restarts():
    rounds = []
    entered = threading.Event()
    loop: LoopThread

    def run() -> None:
        rounds.append(threading.current_thread().name)
        entered.set()
        loop.stopping.wait()

    loop = LoopThread(run, "grab-test")
    loop.start()
    assert entered.wait(5.0) and loop.is_alive()
    loop.start()  # Running already: no second thread.
    loop.stop()
    assert not loop.is_alive() and loop.stopping.is_set()
    entered.clear()
    loop.start()  # A stopped loop starts again, its stop request cleared.
    assert entered.wait(5.0) and not loop.stopping.is_set()
    loop.stop()
    assert rounds == ["grab-test", "grab-test"] and not loop.is_alive()


def test_stop_before_start_is_harmless():
    loop = LoopThread(lambda: None, "idle")
    loop.stop()
    assert not loop.is_alive()
