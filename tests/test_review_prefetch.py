"""Reading review frames ahead (app.review.prefetch) and the window's frame switch
with it: whatever order frames are asked for and however late their reads finish,
the views end up showing the frame asked for last — never an overtaken one."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from app.review.frames import ReviewFrames
from app.review.prefetch import FrameCache, neighbours
from app.review.texts import frame_text
from tests.review_support import open_review_window, projected_session


def _wait(predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.002)


def test_neighbours_lie_ahead_in_the_direction_of_travel_and_inside_the_session():
    assert neighbours(5, 1, 10) == [6, 7, 4]
    assert neighbours(5, -1, 10) == [4, 3, 6]
    assert neighbours(5, 0, 10) == [6, 7, 4]  # a jump reads on forward
    assert neighbours(9, 1, 10) == [8]
    assert neighbours(0, -3, 10) == [1]


def test_frame_cache_reads_on_its_thread_latest_wins_and_keeps_errors():
    gate, started = threading.Event(), threading.Event()
    reads, ready = [], []

    def read(stream: str, row: int) -> np.ndarray:
        if row == 0:
            started.set()
            gate.wait(5.0)  # the first read is slow: the queue changes meanwhile
        if row == 13:
            raise OSError("bad chunk")
        reads.append((stream, row))
        return np.full((2, 2), row, np.uint16)

    cache = FrameCache(read, lambda s, r: ready.append((s, r)), capacity=3)
    try:
        cache.want([("t", 0), ("t", 1), ("t", 2)])
        assert started.wait(5.0)
        cache.want([("t", 5), ("t", 6)])  # 1 and 2 are overtaken: never read
        gate.set()
        _wait(lambda: not cache.pending())
        assert reads == [("t", 0), ("t", 5), ("t", 6)]
        assert ready == reads
        assert int(cache.get("t", 6)[0, 0]) == 6 and cache.get("t", 1) is None
        cache.want([("t", 6), ("t", 7), ("t", 8)])  # 6 is there: not read again
        _wait(lambda: not cache.pending())
        assert reads[3:] == [("t", 7), ("t", 8)]
        assert cache.get("t", 0) is None  # capacity 3: the oldest went
        cache.want([("t", 13)])
        _wait(lambda: not cache.pending())
        with pytest.raises(OSError, match="bad chunk"):
            cache.get("t", 13)
    finally:
        cache.close()
    assert not cache._thread.is_alive()


def _settle(qtbot, w) -> None:
    """Until the view beside shows its frame and nothing is left to read ahead."""

    def settled() -> bool:
        sides = w.sides
        return not (sides.cache.pending() or sides._pending is not None or sides._waiting)

    try:
        qtbot.waitUntil(settled, timeout=5000)
    except Exception:
        s = w.sides
        raise AssertionError((s.cache.pending(), s._pending, s._waiting, s._shown)) from None


@pytest.fixture(scope="module")
def projected(tmp_path_factory):
    return projected_session(tmp_path_factory.mktemp("review-prefetch"))


def test_fast_switches_end_on_the_last_frame_asked_for_in_both_views(qtbot, projected, monkeypatch):
    """RGB reads that finish late and out of order (each 0-12 ms, at random) while
    frames are switched faster than they are read: the overtaken ones must not be
    drawn over the newest."""
    session, labels = projected
    rng = np.random.default_rng(3)
    image = ReviewFrames.image

    def slow(self, stream: str, i: int) -> np.ndarray:
        if stream == "color":
            time.sleep(float(rng.uniform(0.0, 0.012)))
        return image(self, stream, i)

    monkeypatch.setattr(ReviewFrames, "image", slow)
    w = open_review_window(qtbot, session, labels)
    n = w.frames.count
    assert n > 6

    def check(i: int) -> None:
        _settle(qtbot, w)
        assert w.index == i
        assert np.array_equal(w.canvas.image.image, w.frames.image("thermal", i))
        j = w.frames.partner("color", i)
        assert j >= 0
        assert np.array_equal(w.rgb.image.image, w.frames.image("color", j))
        assert w.rgb.info.text().startswith(frame_text(j))
        assert frame_text(i) in w.info.text()

    for round_ in range(3):
        order = rng.integers(0, n, 25).tolist() + list(range(2, n - 1))  # jumps, a scrub
        for k, i in enumerate(order):
            w.go_to(int(i))
            if k % 3 == round_:  # some switches let the event loop run in between
                qtbot.wait(int(rng.integers(0, 4)))
        check(order[-1])
    # Stepping on: the next frames (both streams) are read ahead.
    w.go_to(2)
    w.go_to(3)
    check(3)
    state = (list(w.sides.cache._done), w.sides._ahead, w.sides._last, w.sides._shown)
    for k in (4, 5):
        assert w.sides.cache.get("thermal", k) is not None
        assert w.sides.cache.get("color", w.frames.partner("color", k)) is not None, state
    w.step(1)
    check(4)


def test_a_mask_read_ahead_never_outlives_an_edit_of_its_frame(qtbot, projected, tmp_path):
    """Masks of the neighbours are read ahead too; an edit step (here an undo that
    takes the window back to its frame) must not find the mask from before it."""
    session, labels = projected
    copy = tmp_path / "labels.h5"
    copy.write_bytes(labels.read_bytes())
    w = open_review_window(qtbot, session, copy)
    w.go_to(3)
    h, wd = w.frames.shape
    w.canvas.press(wd * 0.3, h * 0.5)
    w.canvas.move(wd * 0.6, h * 0.5)
    w.canvas.release()  # one edit step on frame 3
    painted = w.store.mask("thermal", 3)
    w.go_to(2)  # stepping back: frames 1, 0 and 3 are read ahead, masks included
    _settle(qtbot, w)
    assert ("thermal", 3) in w.sides._masks
    w.undo()  # back on frame 3, without the stroke
    assert w.index == 3
    before = w.store.mask("thermal", 3)
    assert not np.array_equal(before, painted)
    assert np.array_equal(w.canvas.editor.work, before)
