"""The live rig check (:mod:`app.live.rig_watch`): frames kept until enough time is
covered, checked off the capture thread, the verdict handed out once; a new source or
rig drops a check that is no longer about the rig in force."""

from __future__ import annotations

import threading
import time

import numpy as np

from app.live.rig_watch import SPARSE_RETRIES, KeptFrames, RigWatch, verdict_of
from calibration.alignment import AlignmentResult
from calibration.alignment.check import SparseFramesError
from drivers.types import Frame, FrameSet, StreamSpec

STREAMS = {
    "thermal": StreamSpec("thermal", "thermal", (4, 4), "uint16", "centikelvin", 10.0),
    "depth": StreamSpec("depth", "depth", (4, 4), "uint16", "depth_units", 10.0, depth_scale=0.001),
}


def _set(i: int) -> FrameSet:
    t = i / 10.0
    frames = {n: Frame(n, i, t, np.full((4, 4), i, np.uint16)) for n in STREAMS}
    return FrameSet(i, t, "thermal", frames)


def _result(ok: bool, rig) -> AlignmentResult:
    return AlignmentResult(ok, 0.1 if ok else 2.1, {"thermal": 3.0 if ok else 40.0}, 0.9, {}, rig)


class Checker:
    def __init__(self, ok: bool = True):
        self.ok, self.calls, self.release = ok, [], threading.Event()
        self.release.set()

    def __call__(self, frames, rig):
        self.calls.append((len(frames), frames.timestamps("thermal"), frames.frame("depth", 0)))
        self.release.wait(10)
        return _result(self.ok, rig)


def _wait_for(watch: RigWatch, state: str):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        verdict = watch.take()
        if verdict is not None and verdict.state == state:
            return verdict
        time.sleep(0.01)
    raise AssertionError(f"no '{state}' verdict")


def test_frames_are_kept_until_the_span_is_covered_then_checked_once():
    checker = Checker()
    watch = RigWatch(checker, collect_s=1.0)
    rig = object()
    watch.restart(rig, STREAMS)
    assert watch.take().state == "checking" and watch.take() is None  # handed out once
    for i in range(15):
        watch.sink(_set(i))
    verdict = _wait_for(watch, "ok")
    assert verdict.rig is rig and verdict.text == "rig ok" and "rotation 0.10°" in verdict.detail
    ((n, stamps, depth0),) = checker.calls  # one check, on the first 1.0 s (11 sets)
    assert n == 11 and stamps[-1] - stamps[0] >= 1.0 and depth0.index == 0


def test_a_drifted_rig_says_by_how_much_and_offers_its_refinement():
    watch = RigWatch(Checker(ok=False), collect_s=0.5)
    watch.restart("rig", STREAMS)
    for i in range(8):
        watch.sink(_set(i))
    verdict = _wait_for(watch, "drifted")
    assert verdict.text == "rig drifted 2.1°, thermal clock +40 ms"
    assert verdict.result.refined == "rig"


def test_a_new_rig_drops_the_check_of_the_old_one():
    checker = Checker()
    checker.release.clear()  # the first check is still running ...
    watch = RigWatch(checker, collect_s=0.2)
    watch.restart("old", STREAMS)
    for i in range(4):
        watch.sink(_set(i))
    watch.restart("new", STREAMS)  # ... when another rig comes into force
    assert watch.take().rig == "new"
    checker.release.set()
    time.sleep(0.2)
    assert watch.take() is None  # the old rig's verdict is never shown


def test_no_rig_or_missing_streams_are_said_not_checked():
    watch = RigWatch(Checker(), collect_s=0.2)
    watch.restart(None, STREAMS)
    assert watch.take() is None  # no badge was shown: no event to hide it
    watch.restart("rig", {"thermal": STREAMS["thermal"]})
    verdict = watch.take()
    assert verdict.state == "unchecked" and "no depth" in verdict.text
    watch.sink(_set(0))  # nothing kept, nothing checked
    watch.restart(None, {})  # the source closed: the badge goes
    assert watch.take().state == "none"


def test_kept_frames_skip_repeated_partners():
    kept = KeptFrames(STREAMS)
    first = _set(0)
    kept.add(first)
    kept.add(
        FrameSet(
            1,
            0.1,
            "thermal",
            {"thermal": _set(1).frames["thermal"], "depth": first.frames["depth"]},
        )
    )
    assert len(kept.timestamps("thermal")) == 2 and len(kept.timestamps("depth")) == 1
    assert len(kept) == 1 and kept.span_s == 0.0


def test_verdict_words_for_a_good_rig():
    v = verdict_of(_result(True, "rig"), "rig")
    assert (v.state, v.text) == ("ok", "rig ok")


class SparseThenOk(Checker):
    """Frames too sparse ``sparse`` times (a source starting up), then a result."""

    def __init__(self, sparse: int):
        super().__init__()
        self.sparse = sparse

    def __call__(self, frames, rig):
        if len(self.calls) < self.sparse:
            self.calls.append(None)
            raise SparseFramesError("the depth frames are 4.0 a second of its 30")
        return super().__call__(frames, rig)


def test_sparse_frames_are_collected_again_before_a_verdict():
    checker = SparseThenOk(sparse=2)
    watch = RigWatch(checker, collect_s=0.3)
    watch.restart("rig", STREAMS)
    assert watch.take().state == "checking"
    i = 0
    while len(checker.calls) < 3 and i < 200:  # each collection needs 0.3 s of sets
        watch.sink(_set(i))
        i += 1
        time.sleep(0.005)
    verdict = _wait_for(watch, "ok")
    assert verdict.rig == "rig"
    assert len(checker.calls) == 3 and checker.calls[-1][0] >= 4  # a fresh, full collection


def test_frames_sparse_every_time_are_said_not_checked():
    checker = SparseThenOk(sparse=SPARSE_RETRIES + 1)
    watch = RigWatch(checker, collect_s=0.3)
    watch.restart("rig", STREAMS)
    for i in range(200):
        watch.sink(_set(i))
        time.sleep(0.005)
        if len(checker.calls) == SPARSE_RETRIES + 1:
            break
    verdict = _wait_for(watch, "unchecked")
    assert "too sparse" not in verdict.text and "4.0 a second" in verdict.detail
