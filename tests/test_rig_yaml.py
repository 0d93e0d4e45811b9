"""Rig files: JSON and OpenCV YAML round trips are exact; YAML reads in plain OpenCV."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from calibration.rig import Rig, RigError
from calibration.rig_yaml import (
    load_rig,
    load_rig_yaml,
    rig_from_yaml,
    rig_to_yaml,
    save_rig_yaml,
)
from drivers.session import SessionReader
from drivers.synthetic.camera import rig_dict, true_cameras


@pytest.fixture
def rig() -> Rig:
    """The synthetic truth rig with awkward numbers and a nested quality entry."""
    cams = true_cameras({"thermal": (640, 512), "depth": (640, 480), "color": (1280, 720)})
    r = Rig.from_dict(rig_dict(cams, "coded:11x9:40"))
    r.created = "2025-03-04T05:06:07+00:00"
    r.cameras["thermal"].K[0, 0] = 768.123456789012345
    r.cameras["color"].dist = np.array([0.05, 0.01, 3e-4, 2e-4, 1e-17, 0.0, 0.0, 0.0])
    r.quality = {
        "intrinsics": {"thermal": {"rms": 0.0148, "heldout_rms": None, "views_used": 9}},
        "pairs": {"depth-thermal": {"rms": 0.0226, "fitted": True}},
        "note": 'quotes " and colons: ok',
    }
    return r


def test_json_round_trip_is_exact(rig, tmp_path):
    path = tmp_path / "rig.json"
    rig.save(path)
    assert Rig.load(path).to_dict() == rig.to_dict()


def test_yaml_round_trip_is_exact(rig, tmp_path):
    path = tmp_path / "rig.yaml"
    save_rig_yaml(rig, path)
    back = load_rig_yaml(path)
    assert back.to_dict() == rig.to_dict()
    assert back.to_json() == rig.to_json()
    # And through JSON again: nothing drifts.
    (tmp_path / "again.json").write_text(back.to_json())
    assert Rig.load(tmp_path / "again.json").to_dict() == rig.to_dict()


def test_yaml_reads_in_plain_opencv_with_stereo_convention(rig, tmp_path):
    path = tmp_path / "rig.yaml"
    save_rig_yaml(rig, path)
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    node = fs.getNode("cameras").getNode("thermal")
    np.testing.assert_array_equal(node.getNode("K").mat(), rig["thermal"].K)
    R, T = node.getNode("R").mat(), node.getNode("T").mat()
    T_cam_ref = rig["thermal"].T_cam_ref
    np.testing.assert_allclose(R, T_cam_ref[:3, :3])
    np.testing.assert_allclose(T.ravel(), T_cam_ref[:3, 3])
    assert fs.getNode("board").string() == "coded:11x9:40"
    assert json.loads(fs.getNode("quality_json").string()) == rig.quality
    fs.release()


def test_hand_written_yaml_with_only_r_and_t(rig):
    text = rig_to_yaml(rig).replace("T_ref_cam:", "unused_pose:")
    back = rig_from_yaml(text)
    for name, cam in rig.cameras.items():
        np.testing.assert_allclose(back[name].T_ref_cam, cam.T_ref_cam, atol=1e-12)


def test_bad_yaml_files_are_one_line_errors(tmp_path):
    with pytest.raises(RigError, match="not found"):
        load_rig_yaml(tmp_path / "missing.yaml")
    with pytest.raises(RigError, match="no %YAML header"):
        rig_from_yaml('{"cameras": {}}')
    with pytest.raises(RigError, match="'cameras' map"):
        rig_from_yaml("%YAML 1.2\n---\nfoo: 1\n")
    with pytest.raises(RigError, match="cameras/depth/K"):
        rig_from_yaml("%YAML 1.2\n---\ncameras:\n   depth:\n      width: 640\n      height: 480\n")
    with pytest.raises(RigError, match="does not parse"):
        rig_from_yaml("%YAML 1.2\n---\n{: [")


def test_load_rig_reads_either_form_by_content(rig, tmp_path):
    """One loader for every --rig and the window's Load rig dialog."""
    rig.save(tmp_path / "rig.json")
    save_rig_yaml(rig, tmp_path / "rig.yaml")
    (tmp_path / "yaml-named.txt").write_text((tmp_path / "rig.yaml").read_text())
    for name in ("rig.json", "rig.yaml", "yaml-named.txt"):
        assert load_rig(tmp_path / name).to_dict() == rig.to_dict(), name


def test_load_rig_errors_name_the_file(tmp_path):
    with pytest.raises(RigError, match="not found"):
        load_rig(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{ nope")
    with pytest.raises(RigError, match=r"bad\.json: rig is not valid JSON"):
        load_rig(tmp_path / "bad.json")
    (tmp_path / "bad.yaml").write_text('{"cameras": {}}')
    with pytest.raises(RigError, match=r"bad\.yaml: not an OpenCV YAML file"):
        load_rig(tmp_path / "bad.yaml")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(RigError, match="not UTF-8"):
        load_rig(tmp_path / "binary.json")


def test_review_links_its_cursor_through_a_yaml_rig(tmp_path):
    """``thermorig review --rig RIG.yaml``: the review window's rig comes from the file."""
    from app.review.frames import ReviewFrames
    from tests.synthetic_sessions import session

    path = session("cycling", 1.0)
    with SessionReader(path) as reader:
        truth = Rig.from_dict(reader.truth["rig"])
    save_rig_yaml(truth, tmp_path / "rig.yaml")
    frames = ReviewFrames(path, rig_path=tmp_path / "rig.yaml")
    try:
        assert frames.rig is not None and frames.rig.to_dict() == truth.to_dict()
        assert "rig.yaml" in frames.rig_note
    finally:
        frames.close()
