"""The live controller without a window: sources, the rig in force, pacing, recording,
frame sinks and shutdown, driven by polling as the window's timer does."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from app.live.controller import LiveController
from app.live.events import (
    Problem,
    RecordingFinished,
    RecordingStarted,
    RigChanged,
    SourceEnded,
    SourceOpened,
    SourceOpening,
)
from app.live.frame_dispatch import LiveUpdate
from drivers.errors import ThermorigError
from drivers.recording import RecordingRequest
from drivers.session import SessionReader
from drivers.sync import match_timestamps
from drivers.types import FrameSet
from tests.fakes import FakeRig, fake_rig, fake_specs, write_fake_session

FPS = dict.fromkeys(("thermal", "depth", "color"), 30.0)


def _fake_opener(spec: str, **options):
    """``fake:N`` is a live FakeRig at scale N (``fake:end`` one that ends after 0.5 s,
    read as fast as possible); ``delay`` seconds of opening first."""
    time.sleep(options.get("delay", 0.0))
    arg = spec.partition(":")[2]
    if arg == "end":
        rig = FakeRig(duration=0.5, scale=2, fps=FPS)
    else:
        rig = FakeRig(live=True, duration=None, scale=int(arg), fps=FPS)
    rig.open()
    return rig


@pytest.fixture
def live():
    controller = LiveController(opener=_fake_opener)
    yield controller
    controller.dispose()


def _poll_until(live: LiveController, done, timeout: float = 10.0) -> list[LiveUpdate]:
    """Poll every ~10 ms (a GUI timer) until ``done(updates so far)``; the updates."""
    updates: list[LiveUpdate] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        updates.append(live.poll())
        if done(updates):
            return updates
        time.sleep(0.01)
    raise AssertionError(f"not within {timeout} s: {[u.events for u in updates if u.events]}")


def _events(updates: list[LiveUpdate]) -> list:
    return [e for u in updates for e in u.events]


def _frames(updates: list[LiveUpdate]) -> list:
    return [u.frameset for u in updates if u.frameset is not None]


def _opened(live: LiveController, spec: str = "fake:1") -> list[LiveUpdate]:
    assert live.open_source(spec) is None
    return _poll_until(live, lambda us: len(_frames(us)) >= 3)


def test_a_source_opens_and_polling_hands_out_its_framesets_and_figures(live):
    assert live.open_source("fake:1") is None
    updates = _poll_until(
        live, lambda us: len(_frames(us)) >= 5 and any(u.figures for u in us), timeout=15.0
    )
    events = _events(updates)
    kinds = [type(e) for e in events]
    assert kinds[:2] == [SourceOpening, SourceOpened] and RigChanged in kinds
    assert live.streams.keys() == {"thermal", "depth", "color"}
    assert live.rig is not None and live.rig_origin == "recorded with the source"
    (changed,) = [e for e in events if isinstance(e, RigChanged)]
    assert changed.rig is live.rig and changed.text == "recorded with the source · 3 cameras"
    times = [fs.timestamp for fs in _frames(updates)]
    assert times == sorted(times) and len(set(times)) == len(times), "in order, each once"
    figures = next(u.figures for u in updates if u.figures is not None)
    assert figures.state == "live" and figures.capture is not None
    assert {s.name for s in figures.stages} >= {"projected", "truth", "model-seg", "model-kp"}


def _drawn(updates: list[LiveUpdate]) -> list[tuple[float, float]]:
    """(time of the frame shown, time of the projected labels drawn over it), at every
    hand-out of overlays that has projected labels, as the window draws them."""
    drawn, shown = [], None
    for u in updates:
        shown = u.frameset or shown
        o = (u.overlays or {}).get("projected")
        if shown is not None and o is not None and o.rgba is not None:
            drawn.append((shown.timestamp, o.time))
    return drawn


def test_pacing_hands_each_frame_out_with_the_labels_computed_from_it(live):
    live.open_source("fake:4")
    drawn = _drawn(_poll_until(live, lambda us: len(_drawn(us)) >= 30, timeout=20.0))
    period = live.dispatch.pacer.period
    assert all(abs(t - o) <= 1.5 * period + 1e-9 for t, o in drawn), "never another frame's"
    assert sum(t == o for t, o in drawn) >= len(drawn) // 2, "mostly the very frame"


def test_a_new_source_resets_the_pacer_and_opening_is_not_a_stall(live):
    live.source_options = {"fake": {"delay": 0.6}}
    live.open_source("fake:1")
    live.poll()
    time.sleep(0.3)  # the GUI thread busy while the source opens
    live.poll()
    assert live.dispatch.stall.longest >= 0.3
    updates = _poll_until(live, lambda us: len(_frames(us)) >= 3)
    assert live.dispatch.stall.longest < 0.3, "the meter starts over at the first frame"
    first = _frames(updates)[0]
    live.source_options = {}
    live.open_source("fake:2")
    update = live.poll()
    assert update.frameset is None and live.dispatch.pacer.shown is None, "the old one is gone"
    later = _frames(_poll_until(live, lambda us: len(_frames(us)) >= 1))
    assert later[0].frames["thermal"].array.shape == (24, 32) != first.frames["thermal"].array.shape


def test_overlays_are_handed_out_only_when_they_change_or_a_toggle_asks(live):
    live.open_source("fake:end")
    _poll_until(live, lambda us: any(isinstance(e, SourceEnded) for e in _events(us)))
    time.sleep(0.3)  # the last frames and their overlays land
    _poll_until(live, lambda us: len(us) > 3 and us[-1].overlays is None and not us[-1].frameset)
    assert live.poll().overlays is None
    live.set_overlay_enabled("truth", True)
    overlays = live.poll().overlays
    assert overlays is not None and "projected" in overlays
    assert live.poll().overlays is None, "no new frame, no new result: nothing to redraw"


def test_a_rig_is_refused_accepted_and_rebuilt_when_the_source_changes(live, tmp_path):
    assert live.use_rig(_rig(1), "before any source") is None
    assert live.user_rig_origin == "before any source", "kept until the streams are known"
    _opened(live, "fake:1")
    assert live.rig_origin == "before any source", "it fits, so it is in force"
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(fake_rig(fake_specs(scale=2))))
    problem = live.load_rig_file(wrong)
    assert problem.title == "Rig does not fit"
    assert "file wrong.json: the rig's 'thermal' camera is 32x24 but the stream is 16x12" in (
        problem.message
    )
    (tmp_path / "junk.json").write_text("{")
    assert live.load_rig_file(tmp_path / "junk.json").title == "Cannot load rig"
    assert live.rig_origin == "before any source", "the rig in force stays"
    good = tmp_path / "good.json"
    good.write_text(json.dumps(fake_rig(fake_specs())))
    assert live.load_rig_file(good) is None
    assert live.rig_origin == "file good.json" and live.projected.rig is live.rig
    (changed,) = [e for e in live.take_events() if isinstance(e, RigChanged)]
    assert changed.text == "file good.json · 3 cameras"
    # A source at twice the size: the file no longer fits; the source's rig takes over.
    assert live.open_source("fake:2") is None
    events = _events(
        _poll_until(live, lambda us: any(isinstance(e, RigChanged) for e in _events(us)))
    )
    (problem,) = [e for e in events if isinstance(e, Problem)]
    assert problem.title == "Rig does not fit" and problem.message.startswith("file good.json: ")
    assert live.user_rig is None and live.rig_origin == "recorded with the source"
    assert live.projected.rig is live.rig and live.rig.cameras["thermal"].width == 32


def _rig(scale: int):
    from calibration.rig import Rig

    return Rig.from_dict(fake_rig(fake_specs(scale)))


def test_recording_through_the_controller_writes_a_session(live, tmp_path):
    assert live.start_recording(RecordingRequest(tmp_path / "x.h5")).title == "Nothing to record"
    assert live.mark() is None and not live.stop_recording()
    _opened(live, "fake:2")
    mine = _rig(2)
    assert live.use_rig(mine, "file mine.json") is None

    def taken() -> RecordingRequest:
        raise ThermorigError("taken.h5 already exists; choose another name")

    assert live.start_recording(taken) == Problem(
        "Cannot record", "taken.h5 already exists; choose another name"
    )
    path = tmp_path / "live.h5"
    request = RecordingRequest(path, activity="cycling", subject="S07", min_free_bytes=0)
    assert live.start_recording(request) is None and live.recording
    refused = live.open_source("fake:1")
    assert refused == Problem("Recording", "stop the recording before switching sources")
    assert live.spec == "fake:2" and live.worker is not None
    _poll_until(live, lambda us: any(isinstance(e, RecordingStarted) for e in _events(us)))
    _poll_until(live, lambda us: len(_frames(us)) >= 10)
    assert live.mark() == "marker 1"
    _poll_until(live, lambda us: len(_frames(us)) >= 5)
    assert live.stop_recording()
    updates = _poll_until(
        live, lambda us: any(isinstance(e, RecordingFinished) for e in _events(us))
    )
    assert not live.recording
    (finished,) = [e for e in _events(updates) if isinstance(e, RecordingFinished)]
    status = live.last_recording
    assert status is finished.status and status.state == "done" and status.markers == 1
    with SessionReader(path) as reader:
        assert reader.attrs["subject"] == "S07"
        for name in ("thermal", "depth", "color"):
            assert reader.count(name) == status.frames[name] >= 10
        ((_, text),) = reader.events()
        assert text == "marker 1"
        assert reader.rig["cameras"] == mine.to_dict()["cameras"], "the rig in force"
    assert live.open_source("fake:1") is None, "switching is allowed again"


def test_a_frame_sink_receives_framesets_until_removed(live):
    got = []
    live.add_frame_sink(got.append)
    _opened(live)
    assert len(got) >= 3 and all(fs.pivot == "thermal" for fs in got)
    live.remove_frame_sink(got.append)
    assert live.frame_sinks == ()
    time.sleep(0.05)  # a set already being handed over
    n = len(got)
    time.sleep(0.3)
    assert len(got) == n


def test_replay_commands_and_the_slider_row(tmp_path):
    path = tmp_path / "fake.h5"
    write_fake_session(path, FakeRig(duration=3.0, scale=2))
    live = LiveController()  # the real sources: replay:PATH
    try:
        assert live.open_source(f"replay:{path}") is None
        updates = _poll_until(live, lambda us: len(_frames(us)) >= 3)
        assert live.replay is not None and live.replay.count == 27
        assert [u.replay_row for u in updates if u.frameset is not None][:3] == [0, 1, 2]
        live.play(False)
        live.seek(10)
        _poll_until(live, lambda us: any(u.replay_row == 10 for u in us))
        live.step()
        _poll_until(live, lambda us: any(u.replay_row == 11 for u in us))
        _poll_until(
            live, lambda us: us[-1].figures is not None and us[-1].figures.state == "paused"
        )
        live.set_speed(4.0)
        live.play(True)
        # To the end; the last set may be drawn a little after (held for its labels).
        _poll_until(
            live,
            lambda us: (
                any(u.replay_row == 26 for u in us)
                and any(isinstance(e, SourceEnded) for e in _events(us))
            ),
        )
        _poll_until(live, lambda us: us[-1].figures is not None and us[-1].figures.state == "ended")
    finally:
        live.dispose()


def test_a_paused_seek_shows_a_complete_set_with_the_partners_recorded_before_it(tmp_path):
    # Thermal at 10 fps, depth and colour at 12: often the nearest depth and colour
    # frames lie *before* the thermal frame and the next ones after it are beyond the
    # tolerance (50 ms), so a seek that starts every stream at the thermal frame's time
    # made a set with no partners ("0% complete, 2 partners missing").
    path = tmp_path / "offset.h5"
    write_fake_session(
        path, FakeRig(duration=3.0, scale=2, fps={"thermal": 10.0, "depth": 12.0, "color": 12.0})
    )
    with SessionReader(path) as reader:
        ts = {n: reader.timestamps(n) for n in reader.streams}
    want, _ = match_timestamps(ts, {"thermal": 10.0, "depth": 12.0, "color": 12.0})
    rows = [
        r for r in range(1, len(ts["thermal"])) if all(want[n][r] >= 0 for n in ("depth", "color"))
    ]
    before = [r for r in rows if ts["depth"][want["depth"][r]] < ts["thermal"][r]]
    assert len(before) >= 5, "the session has partners before their thermal frame"
    live = LiveController()
    try:
        assert live.open_source(f"replay:{path}") is None
        _poll_until(live, lambda us: len(_frames(us)) >= 2)
        live.play(False)

        def shows(row: int) -> FrameSet:
            us = _poll_until(live, lambda us: any(u.replay_row == row for u in us))
            return [u.frameset for u in us if u.replay_row == row][-1]

        for row in before[:3]:
            live.seek(row)
            fs = shows(row)
            assert set(fs.frames) == {"thermal", "depth", "color"}, f"row {row}"
            for name in ("depth", "color"):
                assert fs.frames[name].timestamp == ts[name][want[name][row]], (row, name)
            us = _poll_until(
                live,
                lambda us: (
                    us[-1].figures is not None and us[-1].figures.capture.sync.get("sets") == 1
                ),
            )
            sync = us[-1].figures.capture.sync
            assert sync["complete_sets"] == 1 and sum(sync["missing"].values()) == 0
        row = before[2]
        live.step_back()  # back one frame: a seek to the row before, paused
        fs = shows(row - 1)
        assert set(fs.frames) == {"thermal", "depth", "color"}
        assert fs.frames["thermal"].timestamp == ts["thermal"][row - 1]
    finally:
        live.dispose()


def test_cursor_points_map_a_depth_pixel_into_the_other_views(live):
    _opened(live, "fake:1")
    depth = np.full((10, 14), 1000, np.uint16)  # a wall 1 m away
    views = ("thermal", "depth", "color")
    marks, text = live.cursor_points("depth", 7.0, 5.0, depth, views)
    assert text == "z 1.000 m" and set(marks) <= {"thermal", "color"} and marks
    assert live.cursor_points("color", 7.0, 5.0, depth, views) == ({}, "")
    assert live.cursor_points("depth", 7.0, 5.0, np.zeros_like(depth), views) == ({}, "")


def test_dispose_stops_every_thread_it_started_and_finishes_a_recording(tmp_path):
    before = set(threading.enumerate())
    live = LiveController(opener=_fake_opener)
    _opened(live, "fake:1")
    live.add_frame_sink(lambda fs: None)
    path = tmp_path / "closing.h5"
    assert live.start_recording(RecordingRequest(path, min_free_bytes=0)) is None
    _poll_until(live, lambda us: len(_frames(us)) >= 5)
    live.dispose()
    assert live.disposed and live.worker is None and not live.recording
    left = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert not left, f"threads still running: {[t.name for t in left]}"
    with SessionReader(path) as reader:
        assert reader.count("thermal") > 0, "the recording was finished, not dropped"
    live.dispose()  # twice is harmless


def test_a_yaml_rig_file_loads_like_a_json_one(live, tmp_path):
    """The window's Load rig dialog and ``gui --rig`` take what ``calibrate --yaml`` wrote."""
    from calibration.rig_yaml import save_rig_yaml

    _opened(live, "fake:1")
    save_rig_yaml(_rig(1), tmp_path / "rig.yaml")
    assert live.load_rig_file(tmp_path / "rig.yaml") is None
    assert live.rig_origin == "file rig.yaml"
    assert live.rig.to_dict()["cameras"] == _rig(1).to_dict()["cameras"]


def test_recording_is_offered_only_while_a_source_delivers(live):
    assert not live.can_record, "no source"
    assert live.open_source("fake:1") is None
    assert not live.can_record, "opening: nothing delivered yet"
    _poll_until(live, lambda us: len(_frames(us)) >= 1)
    assert live.can_record
    assert live.open_source("fake:end") is None
    assert not live.can_record
    _poll_until(live, lambda us: any(isinstance(e, SourceEnded) for e in _events(us)))
    assert not live.can_record, "a live source that ended records nothing more"


def test_a_replay_that_ended_can_still_be_recorded_after_a_seek(tmp_path):
    path = tmp_path / "short.h5"
    write_fake_session(path, FakeRig(duration=0.5, scale=2))
    live = LiveController()
    try:
        assert live.open_source(f"replay:{path}") is None
        live.set_speed(4.0)
        _poll_until(live, lambda us: any(isinstance(e, SourceEnded) for e in _events(us)))
        assert live.can_record
    finally:
        live.dispose()
