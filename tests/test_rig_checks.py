"""Rigs whose numbers describe no real camera: refused where they are read, in one line
naming the camera (issue 14: case 7's tracebacks, case 8's "8/8 frames labeled" at
IoU 0)."""

from __future__ import annotations

import copy
import json

import h5py
import numpy as np
import pytest

from app.review.frames import ReviewFrames
from calibration.rig import Camera, Rig, RigError
from calibration.rig_yaml import load_rig_yaml, rig_to_yaml
from drivers.synthetic.camera import rig_dict, true_cameras
from tests.broken_inputs import assert_one_line_error, leg_session, run_cli
from tests.scene3d import make_rig


@pytest.fixture(scope="module")
def legs(tmp_path_factory):
    return leg_session(tmp_path_factory.mktemp("legs") / "legs.h5")


def _rotation_scaled(cam: dict, factor: float) -> None:
    T = np.array(cam["T_ref_cam"])
    T[:3, :3] *= factor
    cam["T_ref_cam"] = T.tolist()


def _set(path: tuple, value):
    def edit(cam: dict) -> None:
        node = cam
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


#: (camera, edit of its entry, what the one line must say)
BAD_RIGS = {
    "nan-K": ("thermal", _set(("K", 0, 2), float("nan")), "K holds NaN"),
    "nan-dist": ("thermal", _set(("dist", 1), float("nan")), "dist holds NaN"),
    "nan-T": ("color", _set(("T_ref_cam", 0, 3), float("nan")), "T_ref_cam holds NaN"),
    "inf-K": ("thermal", _set(("K", 1, 1), float("inf")), "K holds infinity"),
    "zero-focal": ("thermal", _set(("K", 0, 0), 0.0), "fx=0, fy=193.92 must be positive"),
    "negative-focal": ("color", _set(("K", 1, 1), -230.0), "fy=-230 must be positive"),
    "zero-depth-focal": ("depth", _set(("K", 0, 0), 0.0), "fx=0, fy=131 must be positive"),
    "singular-R": ("thermal", lambda c: _rotation_scaled(c, 0.0), "|RᵀR − I| = 1)"),
    "non-orthonormal-R": ("thermal", lambda c: _rotation_scaled(c, 1.3), "|RᵀR − I| = 0.69)"),
    "mirrored-R": ("color", lambda c: _rotation_scaled(c, -1.0), "mirror image"),
    "huge-distortion": ("thermal", _set(("dist", 0), 1e6), "no real lens does by more than 3"),
    "folding-distortion": ("thermal", _set(("dist", 0), -3.0), "folds back inside the image"),
}


def _bad_rig(case: str) -> dict:
    camera, edit, _ = BAD_RIGS[case]
    d = make_rig().to_dict()
    edit(d["cameras"][camera])
    return d


@pytest.mark.parametrize("case", list(BAD_RIGS))
def test_autolabel_refuses_a_rig_that_describes_no_camera(legs, tmp_path, capsys, case):
    """Before: exit 0, "8/8 thermal frames labeled" (IoU 0), or a traceback for NaN."""
    camera, _, message = BAD_RIGS[case]
    rig = tmp_path / "rig.json"
    rig.write_text(json.dumps(_bad_rig(case)))
    out = tmp_path / "labels.h5"
    code, _, err = run_cli(
        capsys, "autolabel", legs, "--rig", rig, "--rgb-labels", "truth", "--out", out, "-q"
    )
    assert_one_line_error(code, err, str(rig), f"rig camera '{camera}'", message)
    assert not out.exists()


@pytest.mark.parametrize("case", ["nan-K", "non-orthonormal-R", "huge-distortion"])
def test_yaml_rigs_are_checked_like_json_ones(tmp_path, case):
    # The YAML writer does not check (nor does Camera()): it writes the bad numbers.
    cams = _bad_rig(case)["cameras"]
    bad = Rig(cameras={n: Camera(**c) for n, c in cams.items()})
    path = tmp_path / "rig.yaml"
    path.write_text(rig_to_yaml(bad))
    camera, _, message = BAD_RIGS[case]
    with pytest.raises(RigError, match=f"rig camera '{camera}'") as info:
        load_rig_yaml(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_review_refuses_a_rig_file_that_is_not_text_or_not_finite(legs, tmp_path):
    """Case 7: `review --rig` raised from the event loop (UnicodeDecodeError, NaN)."""
    binary = tmp_path / "rig.json"
    binary.write_bytes(b'{"cameras": \xff\xfe\x00}')
    with pytest.raises(RigError, match="not a rig file: byte 12 is not UTF-8"):
        Rig.load(binary)
    with pytest.raises(RigError, match="not UTF-8"):
        ReviewFrames(legs, binary)
    nan = tmp_path / "nan.json"
    nan.write_text(json.dumps(_bad_rig("nan-T")))
    with pytest.raises(RigError, match="rig camera 'color': T_ref_cam holds NaN"):
        ReviewFrames(legs, nan)


def test_a_bad_rig_recorded_in_the_session_is_named(tmp_path, capsys):
    """Without --rig autolabel uses the recorded rig; a bad one is refused as such."""
    session = leg_session(tmp_path / "s.h5", rig_in_session=True)
    with h5py.File(session, "r+") as f:
        f["rig"].attrs["json"] = json.dumps(_bad_rig("non-orthonormal-R"))
    code, _, err = run_cli(capsys, "autolabel", session, "--rgb-labels", "truth",
                           "--out", tmp_path / "l.h5", "-q")  # fmt: skip
    assert_one_line_error(code, err, "the rig recorded with", "rotation is not orthonormal")
    frames = ReviewFrames(session)  # review still opens, without the linked cursor
    try:
        assert frames.rig is None and "rotation is not orthonormal" in frames.rig_note
    finally:
        frames.close()


def test_real_rigs_and_their_round_trips_pass():
    """The checks refuse none of the rigs thermorig makes or meets: the synthetic rigs,
    the small test rig at several scales, and a rotation typed with 4 decimals."""
    from calibration.rig_checks import ROTATION_TOLERANCE

    sizes = {"thermal": (640, 512), "depth": (640, 480), "color": (1280, 720)}
    rigs = [rig_dict(true_cameras(sizes), "coded:11x9:40")]
    rigs += [make_rig(s).to_dict() for s in (0.5, 1.0, 2.0)]
    typed = copy.deepcopy(rigs[0])
    for cam in typed["cameras"].values():
        cam["T_ref_cam"] = np.round(np.array(cam["T_ref_cam"]), 4).tolist()
    rigs.append(typed)
    for d in rigs:
        rig = Rig.from_dict(d)
        assert Rig.from_json(rig.to_json()).to_dict() == rig.to_dict()
    R = np.array(typed["cameras"]["thermal"]["T_ref_cam"])[:3, :3]
    assert np.abs(R.T @ R - np.eye(3)).max() < ROTATION_TOLERANCE / 2  # well inside


def test_rig_entries_of_the_wrong_kind_are_one_line_errors():
    d = make_rig().to_dict()
    for edit, message in [
        (_set(("width",), 640.5), "width must be a whole number of pixels"),
        (_set(("height",), True), "height must be a number of pixels"),
        (_set(("K",), [[1, 2], [3, 4]]), "K has 4 values, expected 9"),
        (_set(("dist",), "none"), "dist must be numbers"),
    ]:
        bad = copy.deepcopy(d)
        edit(bad["cameras"]["thermal"])
        with pytest.raises(
            RigError, match=f"rig camera 'thermal': camera entry is malformed: {message}"
        ):
            Rig.from_dict(bad)
    with pytest.raises(RigError, match="rig 'board' must be text"):
        Rig.from_dict({**d, "board": 3})
    with pytest.raises(RigError, match="nested too deeply"):
        Rig.from_json("[" * 100_000)
