"""In the window: projected labels are drawn on the thermal frame they were computed
from (or one frame period away at most), also right after a replay seek, when
FrameSet indices restart."""

from __future__ import annotations

import math

import pytest
from PySide6 import QtCore

from app.ui.bench.preview import OverlayLagProbe
from app.ui.main.source_panel import replay_spec
from tests.fakes import FakeRig, write_fake_session
from tests.ui_support import make_window, wait_frames


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = tmp_path_factory.mktemp("ui-pacing") / "fake.h5"
    write_fake_session(path, FakeRig(duration=3.0, scale=8))
    return path


def _drawn_lags(probe: OverlayLagProbe) -> list[float]:
    return [lag for lag, _ in probe.spans if math.isfinite(lag)]


def test_live_labels_are_drawn_on_their_own_frame(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path, "synthetic:cycling")
    wait_frames(qtbot, window, 3)
    qtbot.waitUntil(lambda: window.live.projected.last is not None, timeout=15000)
    pacer = window.live.dispatch.pacer
    limits = []  # the tolerance each time overlays were handed out: 1.5 of the period
    overlays = pacer.overlays  # then measured (a starved source's frames come farther apart)

    def recording_limits(results, allowance_s=None):
        limits.append(pacer.tolerance * pacer.period)
        return overlays(results, allowance_s)

    pacer.overlays = recording_limits
    probe = OverlayLagProbe(window)
    qtbot.waitUntil(lambda: len(_drawn_lags(probe)) >= 20, timeout=15000)
    lags = _drawn_lags(probe)
    # Never farther than the tolerance, mostly on the very frame.
    assert pacer.tolerance == 1.5 and limits
    assert max(abs(lag) for lag in lags) <= max(limits) + 1e-9
    assert sum(lag == 0 for lag in lags) >= len(lags) // 2
    assert pacer.waits and min(pacer.waits) < pacer.max_hold_s


def test_after_a_seek_no_label_from_before_it_is_drawn(qtbot, tmp_path, session):
    window = make_window(qtbot, tmp_path, replay_spec(session))
    wait_frames(qtbot, window, 2)
    bar = window.replay_bar
    qtbot.waitUntil(lambda: window.live.projected.last is not None, timeout=15000)
    qtbot.waitUntil(lambda: bar.slider.value() >= 12, timeout=15000)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Space)  # pause
    qtbot.wait(200)  # the last frames in flight
    before = window.live.dispatch.pacer.shown
    drawn = []  # (shown FrameSet, projected labels drawn with it or None)
    show_overlays = window.preview.show_overlays

    def recording(results):
        show_overlays(results)
        o = results.get("projected")
        drawn.append(
            (window.live.dispatch.pacer.shown, o if o is not None and o.rgba is not None else None)
        )

    window.preview.show_overlays = recording
    bar.slider.setValue(3)  # back: FrameSet indices restart from 0
    qtbot.waitUntil(lambda: bar.slider.value() == 3, timeout=5000)

    def labelled_after_seek():
        return [
            s for s, o in drawn
            if s.timestamp < before.timestamp - 0.5 and o is not None and o.time == s.timestamp
        ]  # fmt: skip

    qtbot.waitUntil(lambda: bool(labelled_after_seek()), timeout=10000)
    assert labelled_after_seek()[0].index < before.index, "the index restarted"
    period = window.live.dispatch.pacer.period
    for s, o in drawn:
        if o is not None:
            assert abs(s.timestamp - o.time) <= 1.5 * period + 1e-9, "labels of another time"
