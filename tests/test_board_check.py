"""The board check (:mod:`calibration.board_check`, ``thermorig check-board``): the true
rig passes with sub-pixel error, a thermal camera turned by 2° fails by about what the
geometry predicts, frames without the board are skipped, a session without a board is
one line and exit 2."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from calibration.board_check import (
    MIN_FRAMES,
    THRESHOLD_PX,
    check_framesets,
    rig_streams,
    session_framesets,
    spread,
)
from calibration.rig import Rig
from drivers.session import SessionReader
from drivers.synthetic.camera import rotation
from tests.synthetic_sessions import session

CAMERAS = ("depth", "thermal", "color")
PAIRS = {f"{a}->{b}" for a in CAMERAS for b in CAMERAS if a != b}


@pytest.fixture(scope="module")
def calib() -> Path:
    """3 s of the calibration scene: the board still at two poses (shared with
    test_calibrate)."""
    return session("calibration", 3.0)


@pytest.fixture(scope="module")
def truth(calib) -> Rig:
    with SessionReader(calib) as reader:
        return Rig.from_dict(reader.truth["rig"])


def _check(capsys, *argv) -> tuple[int, str]:
    rc = main(["check-board", *map(str, argv), "--frames", "6", "-q"])
    return rc, capsys.readouterr().out


def test_true_rig_passes_with_sub_pixel_error(calib, capsys):
    rc, out = _check(capsys, calib, "--rig", "truth", "--json")
    d = json.loads(out)
    assert rc == 0 and d["ok"] is True and d["threshold_px"] == THRESHOLD_PX
    assert d["frames_used"] == 6 and set(d["pairs"]) == PAIRS
    for name, pair in d["pairs"].items():
        assert set(pair) >= {"median_px", "p90_px", "corners"}, name
        assert pair["median_px"] < 0.2 and pair["p90_px"] < 0.5, (name, pair)
        assert pair["corners"] >= 6 * 40, (name, pair)


def test_thermal_turned_2_degrees_fails_by_focal_length_times_tan(calib, truth, tmp_path, capsys):
    turned = Rig.from_dict(truth.to_dict())
    pan = np.eye(4)
    pan[:3, :3] = rotation(ry_deg=2.0)
    turned.cameras["thermal"].T_ref_cam = truth["thermal"].T_ref_cam @ pan
    path = tmp_path / "turned.json"
    turned.save(path)
    rc, out = _check(capsys, calib, "--rig", path, "--json")
    d = json.loads(out)
    assert rc == 1 and d["ok"] is False
    pairs = d["pairs"]
    # A pan of the thermal camera shifts what it sees by f·tan(2°) = 26.8 px.
    expected = truth["thermal"].K[0, 0] * math.tan(math.radians(2.0))
    for name in ("depth->thermal", "color->thermal"):
        assert pairs[name]["median_px"] == pytest.approx(expected, rel=0.1), (name, pairs)
    # Out of thermal, the same turn in the other camera's pixels.
    back = truth["depth"].K[0, 0] * math.tan(math.radians(2.0))
    assert pairs["thermal->depth"]["median_px"] == pytest.approx(back, rel=0.15), pairs
    # The pair without the turned camera is untouched.
    assert pairs["depth->color"]["median_px"] < 0.2 and pairs["color->depth"]["median_px"] < 0.2
    rc, text = _check(capsys, calib, "--rig", path)
    assert rc == 1 and "recalibrate: worst pair thermal->color" in text
    assert text.count("OVER") == 4, text


def test_frames_without_the_board_are_skipped(calib, truth):
    with SessionReader(calib) as reader:
        streams = rig_streams(reader, truth)
        ts = reader.timestamps("ir")
        sets = session_framesets(reader, list(streams.values()), [ts[10], ts[20], ts[30]])
    sets[1].frames["thermal"].array = np.zeros_like(sets[1].frames["thermal"].array)
    del sets[2].frames["color"]
    calls = []
    result = check_framesets(sets, truth, "coded:11x9:40", progress=lambda *a: calls.append(a))
    assert result.detections == {"depth": 3, "thermal": 2, "color": 2}
    assert result.frames_used == 3 and result.pairs["depth->thermal"].frames == 2
    assert result.ok and calls[-1] == ("detecting", 3, 3)


def test_a_board_never_held_still_is_refused(calib, capsys, monkeypatch):
    # As if the motion scan found no still interval: frames spread over the session.
    monkeypatch.setattr("calibration.board_check.still_poses", lambda *a, **k: [])
    rc = main(["check-board", str(calib), "--rig", "truth", "--frames", "6", "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "never held still" in err, err


def test_session_without_a_board_is_one_line_exit_2(capsys):
    path = session("cycling", 0.5)
    flags = "--rig truth --board coded:11x9:40 --frames 6 -q".split()
    assert main(["check-board", str(path), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("thermorig: error: ") and err.count("\n") == 1, err
    # The cycling scene has no IR stream: thermal and colour are searched.
    assert f"in 0 of 6 frame sets (needs {MIN_FRAMES}; seen per camera: thermal 0, color 0)" in err


def test_spread_shares_instants_by_interval_length():
    out = spread([(0.0, 1.0), (2.0, 3.0), (4.0, 4.5)], 5)
    assert len(out) == 5 and sum(0 <= t <= 1 for t in out) == 2 and 4 < out[-1] < 4.5
    assert spread([(0.0, 1.0), (2.0, 2.1), (3.0, 5.0)], 2) == [0.5, 4.0]
    assert spread([], 3) == [] and spread([(0.0, 1.0)], 0) == []
