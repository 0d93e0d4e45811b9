"""Sessions that break the format or whose clock broke: refused or flagged in one line
(issue 14: case 7's tracebacks, case 8's silent garbage)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from app.analysis.curves import compute_curves
from app.labels.store import LabelStore
from app.review.frames import ReviewFrames
from calibration.rig_calibration import calibrate_session
from drivers.errors import SessionError, ThermorigError
from drivers.replay import ReplayDriver
from drivers.session import SessionReader
from tests.broken_inputs import (
    LEG_FRAMES,
    assert_one_line_error,
    broken_copy,
    leg_session,
    replace_dataset,
    run_cli,
)
from tests.thermal_sessions import write_labels, write_thermal_session

TRUTH = ("--rig", "truth", "--rgb-labels", "truth")


@pytest.fixture(scope="module")
def legs(tmp_path_factory):
    return leg_session(tmp_path_factory.mktemp("legs") / "legs.h5")


def _autolabel(capsys, session, tmp_path):
    return run_cli(capsys, "autolabel", session, *TRUTH, "--out", tmp_path / "l.h5", "-q")


def _no_thermal_frames(f):
    """The thermal camera delivered nothing: every thermal dataset empty, count 0."""
    for group in (f["streams/thermal"], f["truth/thermal"]):
        for ds in group.values():
            if ds.chunks:  # every per-frame dataset; count is not
                ds.resize((0, *ds.shape[1:]))
    f["streams/thermal/count"][0] = 0


def test_a_session_without_thermal_frames_is_refused_by_autolabel_and_review(
    legs, tmp_path, capsys
):
    """Case 7: "Chunk shape must not be greater than data shape" was HDF5's word for it."""
    path = broken_copy(legs, tmp_path / "no_thermal.h5", _no_thermal_frames)
    with SessionReader(path) as s:
        assert s.count("thermal") == 0 and s.count("depth") == LEG_FRAMES
    code, _, err = _autolabel(capsys, path, tmp_path)
    assert_one_line_error(code, err, "no thermal frames")
    with pytest.raises(SessionError, match="no thermal frames to review"):
        ReviewFrames(path)
    with pytest.raises(ThermorigError, match="no thermal frames"):
        LabelStore.open(tmp_path / "new.labels.h5", path)
    assert not (tmp_path / "new.labels.h5").exists()


def _drop_timestamps(f):
    del f["streams/thermal/timestamps"]


def _negative_count(f):
    f["streams/thermal/count"][0] = -5


def _float_thermal(f):
    replace_dataset(f, "streams/thermal/frames", f["streams/thermal/frames"][()] / 100.0)


def _rgb_thermal(f):
    frames = f["streams/thermal/frames"][()]
    replace_dataset(f, "streams/thermal/frames", np.repeat(frames[..., None], 3, axis=3))


@pytest.mark.parametrize(
    "edit, message",
    [
        (_drop_timestamps, "/streams/thermal/timestamps is missing"),
        (_negative_count, "/streams/thermal/count is -5"),
        (_float_thermal, "/streams/thermal/frames is float64, but thermal frames are uint16"),
        (_rgb_thermal, "/streams/thermal/frames holds 3-D frames of shape (128, 160, 3)"),
    ],
    ids=["no-timestamps", "count-5", "float-thermal", "hxwx3-thermal"],
)
def test_sessions_breaking_the_format_are_refused_on_opening(legs, tmp_path, capsys, edit, message):
    """Before: KeyError tracebacks (no timestamps), 25 of 30 frames read in silence
    (count −5), float frames exported as all-255 PNGs, an H×W×3 "thermal" stream fed
    to a thermal model."""
    bad = broken_copy(legs, tmp_path / "bad.h5", edit)
    with pytest.raises(SessionError, match=re.escape(message)):
        SessionReader(bad)
    code, _, err = run_cli(capsys, "info", bad)
    assert_one_line_error(code, err, message, "the file is damaged")


def test_float32_thermal_frames_are_not_exported_as_white_images(tmp_path, capsys):
    """Case 8: a float32 thermal stream exported as all-255 8-bit PNGs, exit 0."""
    valid = write_thermal_session(tmp_path / "valid.h5", np.full((3, 6, 8), 30.0))
    session = broken_copy(valid, tmp_path / "t.h5", _as_float32)
    labels = write_labels(tmp_path / "t.labels.h5", session, np.ones((3, 6, 8), np.uint8))
    out = tmp_path / "export"
    code, _, err = run_cli(capsys, "export", session, "--labels", labels, "--out", out,
                           "--status", "unreviewed", "-q")  # fmt: skip
    assert_one_line_error(code, err, "float32", "uint16")
    assert not list(out.rglob("*.png"))


def _as_float32(f):
    frames = f["streams/thermal/frames"][()].astype(np.float32) / 100.0
    replace_dataset(f, "streams/thermal/frames", frames)


def test_thermal_stream_of_colour_shape_is_refused_by_infer(tmp_path, capsys):
    valid = write_thermal_session(tmp_path / "valid.h5", np.full((2, 64, 80), 30.0))
    session = broken_copy(valid, tmp_path / "t.h5", _rgb_thermal)
    code, _, err = run_cli(capsys, "infer", session, "--model", "thermal-calf-seg",
                           "--out", tmp_path / "l.h5", "-q")  # fmt: skip
    assert_one_line_error(code, err, "holds 3-D frames", "thermal frames are 2-D")
    assert not (tmp_path / "l.h5").exists()


def _nan_time(f):
    ts = f["streams/thermal/timestamps"][()]
    ts[3] = np.nan
    f["streams/thermal/timestamps"][...] = ts


def _backwards_time(f):
    ts = f["streams/thermal/timestamps"][()]
    ts[4] = ts[1]
    f["streams/thermal/timestamps"][...] = ts


@pytest.mark.parametrize(
    "edit, problem",
    [
        (_nan_time, f"1 of {LEG_FRAMES} thermal timestamps are NaN or infinite (first at frame 3)"),
        (_backwards_time, "thermal timestamps go backwards 1 time(s) (first at frame 4"),
    ],
    ids=["nan", "backwards"],
)
def test_broken_timestamps_are_flagged_by_info_and_refused_by_autolabel(
    legs, tmp_path, capsys, edit, problem
):
    """Case 8: `info` showed "0.00 fps"/"nanms" and autolabel labeled 11 of 30 frames."""
    bad = broken_copy(legs, tmp_path / "bad.h5", edit)
    code, out, err = run_cli(capsys, "info", bad)
    assert code == 0 and not err
    assert f"warning: {problem}" in out
    assert "nanms" not in out and " 0.00 " not in out
    thermal = next(line for line in out.splitlines() if line.startswith("thermal "))
    assert thermal.split()[6:8] == ["-", "-"]  # measured fps, max gap: not figures
    code, _, err = _autolabel(capsys, bad, tmp_path)
    assert_one_line_error(code, err, problem, "autolabel matches frames by time")
    assert not (tmp_path / "l.h5").exists()
    # The frames themselves still read: review shows them, without RGB partners.
    frames = ReviewFrames(bad)
    try:
        assert frames.count == LEG_FRAMES and frames.thermal(0).dtype == np.uint16
        assert frames.color(0) is None and problem in frames.rig_note
    finally:
        frames.close()


def test_every_command_that_matches_frames_by_time_refuses_a_broken_clock(legs, tmp_path):
    """Replay, calibrate and the temperature curves (stats) refuse it as autolabel does;
    each names the problem and what needs the timestamps."""
    bad = broken_copy(legs, tmp_path / "bad.h5", _nan_time)
    problem = "thermal timestamps are NaN or infinite"
    driver = ReplayDriver(bad)
    with pytest.raises(SessionError, match=f"{problem}.*; replay matches frames by time"):
        driver.open()
    with pytest.raises(SessionError, match=f"{problem}.*; calibrate matches frames by time"):
        calibrate_session(bad, board="checker:9x6:25")
    labels = write_labels(
        tmp_path / "bad.labels.h5", bad, np.zeros((LEG_FRAMES, 128, 160), np.uint8)
    )
    with pytest.raises(SessionError, match=f"{problem}.*; a temperature curve matches frames"):
        compute_curves(bad, labels)
