"""Review time (annotation effort): the GUI-free timer on a fake clock, its journal
records recovered with a killed window's edits, the totals saved in the label file and
kept by machine runs, ``thermorig stats --review-time``, and the window counting the
time a person paints on a frame."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from PySide6 import QtCore

from app.cli import main
from app.labels.journal import Journal, scan
from app.labels.review_time import NO_TIME
from app.labels.sidecar import (
    SOURCE_MANUAL,
    SOURCE_MODEL,
    SOURCE_NONE,
    SOURCE_PROJECTED,
    LabelReader,
)
from app.labels.sidecar_writer import LabelWriter
from app.labels.store import LabelStore
from app.review.effort import IDLE_CAP_S, ReviewTimer
from app.ui.review.launch import open_review
from tests.thermal_sessions import write_labels, write_thermal_session

N, H, W = 4, 32, 40
LEFT = QtCore.Qt.MouseButton.LeftButton


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = tmp_path_factory.mktemp("effort") / "s.h5"
    celsius = np.full((N, H, W), 30.0) + np.linspace(0, 3, W)
    return write_thermal_session(path, celsius)


@pytest.fixture
def labels(session, tmp_path):
    masks = np.zeros((N, H, W), np.uint8)
    masks[:, 8:20, 5:15] = 1
    src = [SOURCE_PROJECTED, SOURCE_MODEL, SOURCE_NONE, SOURCE_NONE]
    return write_labels(tmp_path / "s.labels.h5", session, masks, source=src)


# -- the timer ------------------------------------------------------------------------
def test_timer_counts_gaps_on_the_frame_shown_capped_at_the_idle_cap():
    clock = FakeClock()
    t = ReviewTimer(clock)
    t.input("thermal", 0, SOURCE_PROJECTED)  # arrives: nothing counted yet
    clock.now += 4.0
    t.input("thermal", 0, SOURCE_PROJECTED)  # 4 s on frame 0
    clock.now += 500.0
    t.input("thermal", 0, SOURCE_PROJECTED)  # away 500 s: counts the cap
    clock.now += 2.5
    t.input("thermal", 0, SOURCE_PROJECTED)  # the key that moves on: frame 0's too
    clock.now += 6.0
    t.input("thermal", 1, lambda: SOURCE_NONE)  # first input on frame 1
    spent = {(s.stream, s.frame): s for s in t.take()}
    assert spent["thermal", 0].seconds == pytest.approx(4.0 + IDLE_CAP_S + 2.5)
    assert spent["thermal", 0].source == SOURCE_PROJECTED
    assert spent["thermal", 1].seconds == pytest.approx(6.0)
    assert spent["thermal", 1].source == SOURCE_NONE
    assert t.take() == []  # handed over once


def test_timer_pauses_when_the_window_loses_the_focus_and_keeps_the_first_source():
    clock = FakeClock()
    t = ReviewTimer(clock)
    t.input("color", 2, SOURCE_NONE)
    clock.now += 3.0
    t.pause("color", 2, SOURCE_NONE)  # 3 s, then the window is left
    clock.now += 20.0  # another program: not review time
    t.input("color", 2, SOURCE_MANUAL)  # back: starts counting again, nothing added
    clock.now += 1.0
    t.input("color", 2, SOURCE_MANUAL)  # painted meanwhile: the source it started from stays
    (spent,) = t.take()
    assert (spent.stream, spent.frame, spent.seconds, spent.source) == ("color", 2, 4.0, 0)
    clock.now += 2.0
    t.input("color", 2, SOURCE_MANUAL)
    assert t.take()[0].source == SOURCE_NONE  # also after a hand-over


# -- journal, store, file -------------------------------------------------------------
def test_a_killed_reviews_time_comes_back_with_its_edits_and_is_saved(session, labels):
    store = LabelStore.open(labels, session)
    store.record_time("thermal", 2, 12.5, SOURCE_NONE)
    mask = store.mask("thermal", 2)
    mask[0:4, 0:4] = 2
    assert store.set_mask("thermal", 2, mask)
    store.record_time("thermal", 2, 3.0, SOURCE_MANUAL)  # later: started from scratch still
    store.record_time("thermal", 0, 7.25, SOURCE_PROJECTED)
    store.close(save=False)  # killed: only the journal holds it
    sc = scan(Journal.path_for(labels).read_bytes())
    assert [(t.frame, t.seconds) for t in sc.times] == [(2, 12.5), (2, 3.0), (0, 7.25)]
    assert len(sc.records) == 1 and not sc.damaged

    store = LabelStore.open(labels, session)
    assert store.recovered == 1
    assert store.mask("thermal", 2)[0, 0] == 2
    np.testing.assert_allclose(store.review_times.seconds("thermal"), [7.25, 0, 15.5, 0])
    store.close()
    with h5py.File(labels, "r") as f:
        np.testing.assert_allclose(f["thermal/review_seconds"][()], [7.25, 0, 15.5, 0])
        assert list(f["thermal/review_source"][()]) == [1, NO_TIME, 0, NO_TIME]
    with LabelReader(labels) as lr:  # a checked reader opens it
        assert lr.count("thermal") == N

    store = LabelStore.open(labels, session)  # saved already: not counted twice
    store.record_time("thermal", 0, 1.0, SOURCE_PROJECTED)
    store.close()  # time alone is saved
    with h5py.File(labels, "r") as f:
        np.testing.assert_allclose(f["thermal/review_seconds"][()], [8.25, 0, 15.5, 0])


def test_a_journal_with_only_time_is_no_unsaved_edit(session, labels):
    store = LabelStore.open(labels, session)
    store.record_time("thermal", 1, 2.0, SOURCE_MODEL)
    store.close(save=False)
    with LabelReader(labels) as lr:  # would refuse a file with unsaved edits
        assert lr.count("thermal") == N


def test_a_machine_run_keeps_the_review_time(session, labels):
    with LabelStore.open(labels, session) as store:
        store.record_time("thermal", 3, 9.0, SOURCE_NONE)
    with LabelWriter(
        labels, session=session, classes=("background", "left_calf", "right_calf")
    ) as w:
        w.create_stream("thermal", N, (H, W))
        for i in range(N):
            w.write("thermal", i, np.zeros((H, W), np.uint8), SOURCE_MODEL)
    with h5py.File(labels, "r") as f:
        np.testing.assert_allclose(f["thermal/review_seconds"][()], [0, 0, 0, 9.0])


# -- the report -----------------------------------------------------------------------
def test_stats_review_time_reports_seconds_per_frame_by_starting_source(
    session, labels, tmp_path, capsys
):
    with LabelStore.open(labels, session) as store:
        for frame, seconds, source in ((0, 10.0, 1), (1, 20.0, 2), (2, 40.0, 0), (3, 60.0, 0)):
            store.record_time("thermal", frame, seconds, source)
    other = tmp_path / "other" / "s.labels.h5"
    other.parent.mkdir()
    write_labels(other, session, np.zeros((N, H, W), np.uint8))
    assert main(["stats", "--review-time", str(tmp_path / "*" / "*.labels.h5"), str(labels)]) == 0
    out = capsys.readouterr().out
    assert "other" not in out and "s.labels.h5: no review time recorded" in out
    row = next(line.split() for line in out.splitlines() if "scratch" in line)
    assert row[2:] == ["2", "50.0", "50.0", "100.0"]

    assert main(["stats", "--review-time", "--json", str(labels)]) == 0
    report = json.loads(capsys.readouterr().out)
    by = report["streams"]["thermal"]
    assert list(by) == ["none", "projected", "model"]
    assert by["none"] == {"frames": 2, "median_s": 50.0, "mean_s": 50.0, "total_s": 100.0}
    assert by["projected"]["total_s"] == 10.0 and by["model"]["frames"] == 1
    assert report["without_review_time"] == [] and report["idle_cap_s"] == IDLE_CAP_S


def test_stats_review_time_of_a_missing_file_is_one_line(tmp_path, capsys):
    assert main(["stats", "--review-time", str(tmp_path / "nope.labels.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "label file not found" in err[0]


# -- the window -----------------------------------------------------------------------
def test_painting_in_the_review_window_records_time_for_that_frame(qtbot, session, labels):
    clock = FakeClock()
    w = open_review(session, labels, curves=False)
    qtbot.addWidget(w, before_close_func=lambda win: win.dispose())
    w.resize(900, 700)
    w.show()
    qtbot.waitExposed(w)
    w.go_to(1)  # a model's labels
    w.effort.timer = ReviewTimer(clock)
    canvas = w.canvas
    viewport = canvas.glw.viewport()
    points = [canvas.widget_pos(x, 16) for x in (10, 15, 20, 25)]
    qtbot.mousePress(viewport, LEFT, pos=points[0])
    for p in points[1:]:
        clock.now += 2.0
        qtbot.mouseMove(viewport, p)
    clock.now += 2.0
    qtbot.mouseRelease(viewport, LEFT, pos=points[-1])
    assert w.store.edited("thermal")[1]  # the stroke was painted
    np.testing.assert_allclose(w.store.review_times.seconds("thermal"), [0, 8.0, 0, 0])
    assert w.store.review_times.sources("thermal")[1] == SOURCE_MODEL
    w.close()
    with h5py.File(labels, "r") as f:
        assert f["thermal/review_seconds"][1] == pytest.approx(8.0)


def test_stats_review_time_counts_a_killed_reviews_unsaved_time(session, labels, capsys):
    store = LabelStore.open(labels, session)
    store.record_time("thermal", 1, 6.0, SOURCE_MODEL)
    store.close(save=False)  # killed: the time is only in the journal
    assert main(["stats", "--review-time", "--json", str(labels)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unsaved_s"] == 6.0
    assert report["streams"]["thermal"]["model"]["total_s"] == 6.0
