"""``thermorig autolabel`` end to end: synthetic rig sessions and small hand-made ones."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest

from app.cli import main
from app.labels.sidecar import (
    SOURCE_MANUAL,
    SOURCE_PROJECTED,
    STATUS_ACCEPTED,
    LabelReader,
    session_fingerprint,
)
from app.labels.sidecar_writer import LabelWriter
from calibration.projection import REASONS
from calibration.rig_yaml import save_rig_yaml
from drivers.session import SessionReader
from tests.scene3d import apart, make_rig, write_session


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _autolabel_by_truth(capsys, session, out, *argv) -> tuple[int, str, str]:
    """``thermorig autolabel`` with the true rig and the true RGB labels, quietly."""
    truth = ("--rig", "truth", "--rgb-labels", "truth")
    return _run(capsys, "autolabel", session, *truth, "--out", out, *argv, "-q")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """One second of the synthetic cycling rig, hardware-synchronized (30 frame sets)."""
    path = tmp_path_factory.mktemp("autolabel") / "cycling.h5"
    assert main(["simulate", str(path), "--seconds", "1", "--hw-sync", "--quiet"]) == 0
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Eight frames of two legs moving 1 cm per frame, small cameras, exact truth."""
    path = tmp_path_factory.mktemp("tiny") / "legs.h5"
    write_session(path, make_rig(), [0.01 * i for i in range(8)], scene=apart)
    return path


def test_synthetic_cycling_calves_reach_iou_095(synthetic, tmp_path, capsys):
    before = (session_fingerprint(synthetic), os.path.getmtime(synthetic))
    out = tmp_path / "labels.h5"
    code, stdout, _ = _autolabel_by_truth(capsys, synthetic, out)
    assert code == 0 and "30/30 thermal frames labeled" in stdout
    code, stdout, _ = _run(capsys, "evaluate", out, "--truth", synthetic, "--json")
    assert code == 0
    d = json.loads(stdout)
    assert d["frames_evaluated"] == 30
    assert d["mean_iou_strict"] >= 0.95, d
    assert d["mean_iou_known"] >= d["mean_iou_strict"]
    assert d["unknown_share_of_labeled_classes"] < 0.05
    # The label file (docs/formats/labels.md) with validity, confidence and time gaps.
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "thermorig-labels" and f.attrs["version"] == 1
        assert json.loads(f.attrs["classes"]) == ["background", "left_calf", "right_calf"]
        assert f.attrs["session_hash"] == before[0]
        g = f["thermal"]
        assert g["masks"].shape == (30, 512, 640) and g["masks"].dtype == np.uint8
        assert (g["source"][()] == SOURCE_PROJECTED).all() and (g["status"][()] == 0).all()
        assert g["confidence"].shape == (30, 3)
        assert np.all((g["confidence"][:, 1:] > 0.5) & (g["confidence"][:, 1:] <= 1))
        assert np.allclose(g["time_gap"][()], 0.0, atol=1e-6)
        codes = np.unique(g["validity"][5])
        assert set(codes) <= set(range(len(REASONS))) and 0 in codes
        assert np.all((g["masks"][5] == 255) == (g["validity"][5] > 2))
    # The session is never touched.
    assert (session_fingerprint(synthetic), os.path.getmtime(synthetic)) == before


def test_labels_from_a_label_file_match_labels_from_truth(tiny, tmp_path, capsys):
    """A person's RGB labels in a sidecar (here: the truth, written as if drawn)."""
    sidecar = tmp_path / "labels.h5"
    with (
        SessionReader(tiny) as s,
        LabelWriter(sidecar, session=tiny, classes=s.truth["classes"]) as w,
    ):
        w.create_stream("color", s.count("color"), s.streams["color"].shape[:2])
        for i in range(s.count("color")):
            if i != 3:  # frame 3 not labeled yet
                w.write("color", i, s.frame("color", i).truth["labels"], SOURCE_MANUAL)
    via_truth = tmp_path / "truth_labels.h5"
    assert _autolabel_by_truth(capsys, tiny, via_truth)[0] == 0
    code, stdout, _ = _run(
        capsys,
        "autolabel",
        tiny,
        "--rig",
        "truth",
        "--rgb-labels",
        sidecar,
        "--out",
        sidecar,
        "--temporal",
        "nearest",
        "-q",
    )
    assert code == 0 and "1 frames: no RGB label" in stdout
    with LabelReader(sidecar) as a, LabelReader(via_truth) as b:
        assert set(a.streams) == {"color", "thermal"}  # the person's colour labels stay
        assert a.array("color", "source")[0] == SOURCE_MANUAL
        assert a.array("thermal", "source")[3] == 0
        assert a.provenance("thermal").startswith("autolabel: label file labels.h5")
        assert b.provenance("thermal").startswith("autolabel: ground truth")
        for i in (0, 5, 7):
            assert np.array_equal(a.mask("thermal", i), b.mask("thermal", i))


def test_rerun_keeps_rows_a_person_reviewed(tiny, tmp_path, capsys):
    out = tmp_path / "labels.h5"
    assert _autolabel_by_truth(capsys, tiny, out)[0] == 0
    with h5py.File(out, "r+") as f:  # a reviewer corrects frame 2 and accepts it
        f["thermal/masks"][2] = 1
        f["thermal/status"][2] = STATUS_ACCEPTED
    code, stdout, _ = _autolabel_by_truth(capsys, tiny, out)
    assert code == 0 and "1 frames: reviewed rows kept" in stdout
    with LabelReader(out) as r:
        assert (r.mask("thermal", 2) == 1).all()
        assert r.array("thermal", "status")[2] == STATUS_ACCEPTED
        assert (r.mask("thermal", 1) != 1).any()


def test_free_running_clocks_interpolation_beats_nearest(tmp_path, capsys):
    """Thermal exposes 12 ms after depth and RGB; legs move 2.5 cm per frame."""
    path = tmp_path / "free.h5"
    write_session(
        path, make_rig(), [0.025 * i for i in range(8)], scene=apart, offsets_s={"thermal": 0.012}
    )
    iou = {}
    for mode in ("nearest", "interpolate"):
        out = tmp_path / f"{mode}.h5"
        code, stdout, _ = _autolabel_by_truth(capsys, path, out, "--temporal", mode)
        assert code == 0
        d = json.loads(_run(capsys, "evaluate", out, "--truth", path, "--json")[1])
        iou[mode] = d["mean_iou_strict"]
        assert d["time_gap_ms"]["mean"] == pytest.approx(12.0, abs=0.01)
    assert iou["interpolate"] > iou["nearest"] + 0.02, iou
    with LabelReader(tmp_path / "nearest.h5") as r:
        conf = r.array("thermal", "confidence")
    assert np.nanmin(conf[:, 1:]) < 0.99  # the gap and the motion lower confidence


def test_auto_uses_the_session_rig_and_says_when_there_is_none(tiny, tmp_path, capsys):
    code, _, err = _run(
        capsys, "autolabel", tiny, "--rgb-labels", "truth", "--out", tmp_path / "l.h5"
    )
    assert code == 2 and "no recorded rig" in err and err.count("\n") == 1
    with_rig = tmp_path / "with_rig.h5"
    write_session(with_rig, make_rig(), [0.0, 0.01], scene=apart, rig_in_session=True)
    code, stdout, _ = _run(
        capsys, "autolabel", with_rig, "--rgb-labels", "truth", "--out", tmp_path / "l.h5", "-q"
    )
    assert code == 0 and "rig recorded with the session" in stdout


@pytest.mark.parametrize(
    "case, message",
    [
        ("no_color_camera", "the rig has no 'color' camera"),
        ("wrong_size", "the rig's 'thermal' camera is 200x128 but the stream is 160x128"),
        ("no_depth", "has no 'depth' stream"),
        ("model", "no visual labeler named 'legs'"),
        ("no_truth", "has no ground truth"),
        ("bad_json", "not valid JSON"),
    ],
)
def test_bad_inputs_are_one_line_errors(case, message, tiny, tmp_path, capsys):
    rig, session, labels = make_rig(), tiny, "truth"
    if case == "no_color_camera":
        del rig.cameras["color"]
    elif case == "wrong_size":
        rig.cameras["thermal"].width = 200
    elif case == "no_depth":
        session = tmp_path / "no_depth.h5"
        write_session(session, rig, [0.0, 0.01], streams=("thermal", "color"))
    elif case == "model":
        labels = "model:legs"
    elif case == "no_truth":
        session = tmp_path / "no_truth.h5"
        write_session(session, rig, [0.0, 0.01], with_truth=False)
    rig_path = tmp_path / "rig.json"
    rig.save(rig_path)
    if case == "bad_json":
        rig_path.write_text("{ not json")
    code, _, err = _run(
        capsys,
        "autolabel",
        session,
        "--rig",
        rig_path,
        "--rgb-labels",
        labels,
        "--out",
        tmp_path / "out.h5",
    )
    assert code == 2
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out.h5").exists()


def test_a_yaml_rig_labels_like_its_json_twin(tiny, tmp_path, capsys):
    """``calibrate --yaml`` writes rigs that ``--rig`` reads, as it reads the JSON."""
    rig = make_rig()
    rig.save(tmp_path / "rig.json")
    save_rig_yaml(rig, tmp_path / "rig.yaml")
    masks = {}
    for name in ("rig.json", "rig.yaml"):
        out = tmp_path / f"{name}.labels.h5"
        code, stdout, err = _run(
            capsys, "autolabel", tiny, "--rig", tmp_path / name, "--rgb-labels", "truth",
            "--out", out, "-q",
        )  # fmt: skip
        assert code == 0 and "8/8 thermal frames labeled" in stdout, err
        with LabelReader(out) as r:
            masks[name] = r.array("thermal", "masks")
    np.testing.assert_array_equal(masks["rig.json"], masks["rig.yaml"])


def test_out_never_replaces_a_session_or_a_rig(tiny, tmp_path, capsys):
    other = tmp_path / "other.h5"
    write_session(other, make_rig(), [0.0, 0.01], scene=apart)
    rig = tmp_path / "rig.json"
    make_rig().save(rig)
    before = {p: session_fingerprint(p) for p in (tiny, other, rig)}
    for out in (other, rig, tiny):
        code, _, err = _run(
            capsys, "autolabel", tiny, "--rig", rig, "--rgb-labels", "truth", "--out", out
        )
        assert code == 2 and err.count("\n") == 1 and "--out" in err, err
    assert {p: session_fingerprint(p) for p in before} == before
