"""``thermorig check-rig`` and :mod:`calibration.alignment`: the targetless rig check on
short synthetic sessions (no board)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.cli import main
from calibration.alignment import check_alignment, rotate_camera
from calibration.alignment.check import SparseFramesError
from calibration.rig import Rig
from drivers.session import SessionReader


def _simulate(path, *extra: str):
    argv = ["simulate", str(path), "--seconds", "2", "--quiet", *extra]
    assert main(argv) == 0
    return path


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """Two seconds of the cycling rig, clocks as they are."""
    return _simulate(tmp_path_factory.mktemp("check_rig") / "clean.h5")


@pytest.fixture(scope="module")
def late_thermal(tmp_path_factory):
    """Two seconds whose thermal host timestamps are 40 ms late."""
    path = tmp_path_factory.mktemp("check_rig") / "late.h5"
    return _simulate(path, "--clock-error", "thermal=40")


def test_simulate_clock_error_shifts_host_stamps_and_keeps_truth(clean, late_thermal):
    with SessionReader(clean) as a, SessionReader(late_thermal) as b:
        assert b.truth["clock_error_ms"] == {"thermal": 40.0, "depth": 0.0, "color": 0.0}
        shift = b.timestamps("thermal") - a.timestamps("thermal")
        assert np.allclose(shift, 0.040)
        assert np.array_equal(a.timestamps("depth"), b.timestamps("depth"))
        # What the frames show stays at the exposure: the same truth masks.
        assert np.array_equal(
            a.frame("thermal", 7).truth["labels"], b.frame("thermal", 7).truth["labels"]
        )


def test_true_rig_passes_and_refine_writes_a_new_file(clean, tmp_path, capsys):
    out = tmp_path / "refined.json"
    code = main(["check-rig", str(clean), "--rig", "truth", "--refine", str(out), "--json", "-q"])
    d = json.loads(capsys.readouterr().out)
    assert code == 0 and d["ok"] is True
    assert {"ok", "rotation_error_deg", "time_offset_ms", "score", "per_camera"} <= set(d)
    assert d["rotation_error_deg"] < 0.3 and abs(d["time_offset_ms"]["thermal"]) < 5
    assert d["per_camera"]["color"]["estimated"] is False
    assert Rig.load(out).cameras.keys() == {"depth", "thermal", "color"}
    before = out.read_bytes()
    code = main(["check-rig", str(clean), "--rig", "truth", "--refine", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == before


def test_turned_thermal_camera_and_late_clock_are_estimated(late_thermal):
    with SessionReader(late_thermal) as s:
        true_rig = Rig.from_dict(s.truth["rig"])
        turn = np.radians([0.0, 2.0, 0.0])
        result = check_alignment(s, rotate_camera(true_rig, "thermal", -turn))
    assert not result.ok
    assert abs(result.rotation_error_deg - 2.0) < 0.5
    estimate = np.asarray(result.per_camera["thermal"]["rotvec"])
    assert np.degrees(np.linalg.norm(estimate - turn)) < 0.5
    assert abs(result.time_offset_ms["thermal"] - 40.0) < 8.0
    back = result.refined["thermal"].T_ref_cam[:3, :3]
    angle = np.degrees(
        np.arccos((np.trace(back.T @ true_rig["thermal"].T_ref_cam[:3, :3]) - 1) / 2)
    )
    assert angle < 0.5


@pytest.mark.parametrize(
    "argv",
    [
        ["check-rig", "missing.h5", "--rig", "truth"],
        ["check-rig", "{clean}", "--rig", "no-such-rig.json"],
        ["check-rig", "{clean}", "--rig", "truth", "--refine", "{clean}", "--overwrite"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, clean, capsys):
    code = main([a.format(clean=clean) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_autolabel_refuses_a_drifted_rig_unless_forced(tmp_path, capsys):
    from tests.synthetic_sessions import session

    path = session("cycling", 3.0)  # full size: where the check's figures are measured
    with SessionReader(path) as s:
        true = Rig.from_dict(s.truth["rig"])
    turned = tmp_path / "turned.json"
    rotate_camera(true, "thermal", np.radians([0.0, -2.0, 0.0])).save(turned)
    argv = ["autolabel", str(path), "--rig", str(turned), "--rgb-labels", "truth", "-q"]
    out = tmp_path / "labels.h5"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "fails the rig check" in err and "--force" in err
    assert not out.exists()
    assert main([*argv, "--out", str(out), "--force", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rig_check"] == "rig not checked: --force"


def test_a_thermal_camera_below_the_measured_resolution_is_not_judged(capsys):
    from tests.synthetic_sessions import session

    small = session(
        "cycling", 1.0, thermal_size=(160, 128), depth_size=(160, 120), color_size=(320, 180)
    )
    assert main(["check-rig", str(small), "--rig", "truth", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "192 px" in err and "not judged" in err


@pytest.fixture(scope="module")
def radiator_room(tmp_path_factory):
    """Four seconds of a varied subject whose room has a 49 °C radiator on the wall
    behind the legs (hotter than skin): before heat sources were kept out, the true
    rig read as turned by 1.0° here."""
    path = tmp_path_factory.mktemp("check_rig") / "radiator.h5"
    _simulate(path, "--subject", "7003", "--seconds", "4")
    with SessionReader(path) as s:
        setup = s.truth["setup"]
    assert setup["radiator"] and setup["radiator_c"] > 45
    return path


def test_a_radiator_behind_the_legs_is_not_read_as_drift(radiator_room):
    with SessionReader(radiator_room) as s:
        true_rig = Rig.from_dict(s.truth["rig"])
        good = check_alignment(s, true_rig)
        turn = np.radians([0.0, 1.0, 0.0])
        turned = check_alignment(s, rotate_camera(true_rig, "thermal", -turn))
    assert good.ok and good.rotation_error_deg < 0.2 and abs(good.time_offset_ms["thermal"]) < 5
    # the heat source does not hide a real drift either
    assert not turned.ok
    estimate = np.asarray(turned.per_camera["thermal"]["rotvec"])
    assert np.degrees(np.linalg.norm(estimate - turn)) < 0.3


class EveryFifth:
    """A session's frames with four of five dropped (a busy machine's live preview)."""

    def __init__(self, session: SessionReader):
        self.s, self.path, self.streams = session, session.path, session.streams

    def count(self, stream: str) -> int:
        return len(self.timestamps(stream))

    def timestamps(self, stream: str) -> np.ndarray:
        return self.s.timestamps(stream)[::5]

    def frame(self, stream: str, i: int):
        return self.s.frame(stream, 5 * i)

    def require_timestamps(self, streams, purpose: str) -> None:
        self.s.require_timestamps(streams, purpose)


def test_frames_too_sparse_for_the_clock_are_not_judged(radiator_room):
    """Masks blended across 170 ms gaps are not the legs' motion: no verdict at all."""
    with SessionReader(radiator_room) as s:
        rig = Rig.from_dict(s.truth["rig"])
        with pytest.raises(SparseFramesError, match="6.0 a second of its 30"):
            check_alignment(EveryFifth(s), rig)
