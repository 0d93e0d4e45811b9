"""A slow RGB labeler on its own thread (app.live.labeler_worker): it labels only the
newest frame handed to it, reports its rate and age like an overlay stage, and every
thermal frame between two of its results gets labels interpolated to its own time —
where the labeled object was then, not where the nearest result saw it."""

from __future__ import annotations

import threading
import time

import numpy as np

from app.live.frame_dispatch import FrameDispatch
from app.live.labeler_worker import LabelerWorker
from app.live.projected_labels import ProjectedLabelsStage, truth_labeler
from app.live.stages import LatestSlot, StageRegistry, StageRunner
from drivers.types import Frame, FrameSet
from tests.test_projected_labels import H, W, _rig, _specs

#: px/s: the 20 px square moves 16 px between two results 0.1 s apart — less than its
#: width, which shape interpolation needs (calibration.temporal).
SPEED = 160.0
STEP = 0.025  # s between thermal frames


def _square(t: float) -> np.ndarray:
    labels = np.zeros((H, W), np.uint8)
    x = int(round(10 + SPEED * t))
    labels[20:40, x : x + 20] = 1
    return labels


def _set(k: int) -> FrameSet:
    t = k * STEP
    frames = {
        "thermal": Frame("thermal", k, t, np.full((H, W), 30000, np.uint16)),
        "depth": Frame("depth", k, t, np.full((H, W), 1000, np.uint16)),
        "color": Frame("color", k, t, np.zeros((H, W, 3), np.uint8), truth={"labels": _square(t)}),
    }
    return FrameSet(k, t, "thermal", frames)


class _GatedLabeler:
    """Labels the square where it is at the RGB frame's time, once the test lets it."""

    classes = ["background", "left_calf", "right_calf"]

    def __init__(self) -> None:
        self.reason = ""
        self.calls: list[int] = []
        self.go = threading.Semaphore(0)

    def __call__(self, fs: FrameSet) -> np.ndarray:
        self.calls.append(fs.index)
        assert self.go.acquire(timeout=5.0)
        time.sleep(0.002)  # some compute, so that the figures have something to show
        return _square(fs.frames["color"].timestamp)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a & b) / max(np.count_nonzero(a | b), 1))


def _centre(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[1].mean())


def _wait(predicate) -> None:
    end = time.monotonic() + 5.0
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.001)


def test_thermal_frames_between_two_results_get_labels_interpolated_to_their_time():
    labeler = _GatedLabeler()
    worker = LabelerWorker(labeler, "gated")
    stage = ProjectedLabelsStage()
    stage.set_rig(_rig(), _specs())
    stage.set_labeler(worker, "gated", labeler.classes)
    truth = ProjectedLabelsStage(truth_labeler())  # the square projected at each frame's time
    truth.set_rig(_rig(), _specs())
    overlays = {}
    try:
        for k in range(9):  # results at frames 0, 4, 8 (t = 0, 0.1, 0.2)
            o = stage(_set(k))
            if o is not None and o.labels is not None:
                overlays[o.frameset] = o
            if k % 4 == 0:
                if k:  # the one before finishes, and the newest frame is taken next
                    labeler.go.release()
                    _wait(lambda k=k: len(worker.results_after(0)) == k // 4)
                _wait(lambda k=k: labeler.calls[-1:] == [k])
        labeler.go.release()
        _wait(lambda: len(worker.results_after(0)) == 3)
        for k in range(9, 18):  # later frames: one waiting set labeled per call
            o = stage(_set(k))
            if o is not None and o.labels is not None:
                overlays[o.frameset] = o
        assert labeler.calls[:3] == [0, 4, 8], "only the newest frame handed over is labeled"
    finally:
        for _ in range(3):
            labeler.go.release()  # let it finish the frames it holds
        worker.stop()
    assert sorted(overlays) == list(range(1, 9)), "every frame the results bracket"
    for k in (2, 6):  # halfway between two results: 8 px from either
        o = overlays[k]
        assert o.time == _set(k).timestamp and "interpolated at 50% of the 100 ms" in o.note
        expected = truth(_set(k)).labels == 1
        got = o.labels == 1
        nearest = truth(_set(k - 2)).labels == 1  # what holding a result would show
        # Where the square was at this frame's time, not where a result saw it; blending
        # distances rounds a box's corners (calibration.temporal), so its area shrinks.
        assert abs(_centre(got) - _centre(expected)) < 1.0
        assert abs(_centre(nearest) - _centre(expected)) > 6.0
        assert _iou(got, expected) > _iou(nearest, expected) + 0.15  # measured 0.64, 0.43
    stats = stage.labeler_stats()
    assert stats is not None and stats.runs >= 3 and stats.errors == 0
    assert stats.busy_ms >= 2.0 and stats.latency_ms >= stats.busy_ms  # age: handed over → done
    assert stats.title == "RGB labeler (gated, own thread)"


def test_the_labeler_rate_and_age_are_among_the_stage_figures_and_the_pacer_holds_longer():
    class Instant:
        classes = ["background", "left_calf", "right_calf"]
        reason = ""

        def __call__(self, fs):
            time.sleep(0.01)
            return _square(0.0)

    registry = StageRegistry()
    stage = ProjectedLabelsStage()
    stage.set_rig(_rig(), _specs())
    worker = LabelerWorker(Instant(), "instant")
    stage.set_labeler(worker, "instant", Instant.classes)
    registry.register("projected", stage)
    dispatch = FrameDispatch(registry, StageRunner(registry))
    try:
        for k in range(12):
            stage(_set(k))
            time.sleep(0.02)
        _wait(lambda: worker.stats().rate > 0)

        class Capture:
            stats = LatestSlot()

        rows = {s.name: s for s in dispatch.figures(Capture(), None).stages}
        row = rows["rgb-labeler"]
        assert row.enabled and row.rate > 5.0 and row.runs >= 3
        assert 10.0 <= row.busy_ms < 500.0 and row.latency_ms >= row.busy_ms
        assert stage.hold_s is not None and 0.03 < stage.hold_s <= 0.35
    finally:
        stage.stop()
    assert not worker.stats().enabled, "stopped with the stage"
    assert ProjectedLabelsStage().hold_s is None  # a labeler in the stage: the pacer's own


def test_results_far_apart_in_time_are_not_blended():
    """A labeler switched off a while, or a seek in a replay: the frames between two
    results seconds apart get no labels, never a blend of unrelated poses."""
    from app.live.labeler_worker import MAX_SPAN_S, Entry, TransferTrack

    stage = ProjectedLabelsStage()
    stage.set_rig(_rig(), _specs())
    tr = stage(_set(0))
    assert tr.labels is not None
    track = TransferTrack()
    transfer = stage.last.transfer
    track.add(Entry(0.0, transfer), 1)
    track.add(Entry(0.1, transfer), 2)
    track.add(Entry(0.1 + 2 * MAX_SPAN_S, transfer), 3)
    assert track.at(0.05, 3).labels is not None
    assert track.at(0.1 + MAX_SPAN_S, 3) is None
    assert track.at(0.1 + 3 * MAX_SPAN_S, 3) is None, "after the newest: not yet"
