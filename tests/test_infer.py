"""``thermorig infer``: the bundled models over held-out people's sessions of both
scenes, rendered again from what the models' JSON records, scored by ``thermorig
evaluate`` (and the keypoints against the sessions' truth) against the cross-subject
figures the JSON claims for exactly those sessions."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

from app.cli import main
from app.labels.sidecar import SOURCE_MANUAL, SOURCE_MODEL, STATUS_ACCEPTED, LabelReader
from app.labels.sidecar_writer import LabelWriter
from drivers.session import SessionReader
from models.catalog import BUNDLED_DIR, BUNDLED_KEYPOINTS, BUNDLED_SEGMENTER
from tests.synthetic_sessions import session

SCENES = ("cycling", "treadmill")

#: How far a re-rendered held-out session's figures may be from the ones its package
#: recorded for it. The same session, the same model: only floating-point order
#: (onnxruntime threads) may differ, so these are far tighter than any model change.
IOU_TOLERANCE = 0.005
KEYPOINT_MEDIAN_TOLERANCE_PX = 0.05


def _package_json(name: str) -> dict:
    return json.loads((BUNDLED_DIR / f"{name}.json").read_text())


def _claim(name: str) -> dict:
    return _package_json(name)["provenance"]


def _held_out(name: str, scene: str) -> dict:
    """The package's first held-out session of ``scene``: a test subject's."""
    return next(x for x in _claim(name)["heldout"]["sessions"] if x["scene"] == scene)


@pytest.fixture(scope="module")
def inferred(tmp_path_factory):
    """``inferred(scene)``: the segmenter's first held-out session of that scene,
    rendered again from what its JSON says, and the label file both bundled models
    made of it (each made once per module)."""
    made: dict[str, tuple] = {}

    def get(scene: str):
        if scene not in made:
            x = _held_out(BUNDLED_SEGMENTER, scene)
            path = session(scene, x["seconds"], seed=x["seed"], subject=x["subject_seed"])
            out = tmp_path_factory.mktemp(f"infer-{scene}") / "labels.h5"
            models = ["--model", BUNDLED_SEGMENTER, "--model", BUNDLED_KEYPOINTS]
            assert main(["infer", str(path), *models, "--out", str(out), "--quiet"]) == 0
            made[scene] = (path, out)
        return made[scene]

    return get


@pytest.fixture(scope="module")
def fresh(inferred):
    """The fresh cycling session and its label file."""
    return inferred("cycling")


def test_the_held_out_people_were_never_trained_on():
    """Cross-subject: the figures come from people the models never saw."""
    for name in (BUNDLED_SEGMENTER, BUNDLED_KEYPOINTS):
        prov = _claim(name)
        split = prov["cross_subject"]
        assert split["test_subjects"] and split["train_subjects"]
        assert not set(split["test_subjects"]) & set(split["train_subjects"])
        assert {x["subject"] for x in prov["training_data"]["sessions"]} <= set(
            split["train_subjects"]
        )
        assert {x["subject"] for x in prov["heldout"]["sessions"]} <= set(split["test_subjects"])


@pytest.mark.slow
@pytest.mark.parametrize("scene", SCENES)
def test_infer_re_measures_the_cross_subject_iou_the_segmenter_claims(inferred, capsys, scene):
    """A held-out person's session rendered again and scored by ``thermorig evaluate``
    gives the IoU the package recorded for it."""
    path, labels = inferred(scene)
    capsys.readouterr()
    assert main(["evaluate", str(labels), "--truth", str(path), "--json"]) == 0
    measured = json.loads(capsys.readouterr().out)
    claim = _held_out(BUNDLED_SEGMENTER, scene)
    assert measured["frames_evaluated"] == measured["frames"] == claim["frames"]
    assert measured["unknown_share"] == 0.0
    assert measured["mean_iou_strict"] == pytest.approx(claim["mean_iou"], abs=IOU_TOLERANCE)


@pytest.mark.slow
@pytest.mark.parametrize("scene", SCENES)
def test_infer_finds_keypoints_as_close_as_the_keypoint_model_claims(inferred, scene):
    path, labels = inferred(scene)
    with LabelReader(labels) as lr, SessionReader(path) as s:
        kp = lr.array("thermal", "keypoints")
        truth = np.stack([s.frame("thermal", i).truth["keypoints"] for i in range(len(kp))])
    err = np.linalg.norm(kp - truth, axis=-1)
    present = np.isfinite(truth).all(axis=-1)
    assert present.any() and np.isfinite(kp[present]).all(), "a keypoint the truth has is missed"
    claim = _held_out(BUNDLED_KEYPOINTS, scene)["median_px"]
    median = float(np.nanmedian(err))
    assert median == pytest.approx(claim, abs=KEYPOINT_MEDIAN_TOLERANCE_PX), (scene, median)


def test_infer_writes_model_rows_with_keypoints(fresh):
    path, labels = fresh
    with LabelReader(labels) as lr, SessionReader(path) as s:
        n = s.count("thermal")
        assert lr.count("thermal") == n
        assert (lr.array("thermal", "source") == SOURCE_MODEL).all()
        assert (lr.array("thermal", "status") == 0).all()
        conf = lr.array("thermal", "confidence")
        assert conf.shape == (n, 3)
        # NaN where the model gave a class no pixel: this held-out person wears a sleeve
        # over one calf, so that class is often absent. Background is always there, and
        # a class the mask shows plainly (> 200 px) has its confidence.
        counts = np.stack(
            [np.bincount(lr.mask("thermal", i).ravel(), minlength=3)[:3] for i in range(n)]
        )
        assert np.isfinite(conf[:, 0]).all() and (counts[:, 1:] > 200).any()
        assert np.isfinite(conf[counts > 200]).all()
        kp = lr.array("thermal", "keypoints")
        assert kp.shape == (n, 6, 2)
    with h5py.File(labels, "r") as f:
        names = json.loads(f["thermal/keypoints"].attrs["names"])
    assert names == _package_json(BUNDLED_KEYPOINTS)["keypoints"]


def test_infer_keeps_rows_a_person_reviewed(fresh, tmp_path):
    path, labels = fresh
    out = tmp_path / "reviewed.h5"
    shutil.copy(labels, out)
    with LabelReader(out) as lr:
        n, shape = lr.count("thermal"), lr.shape("thermal")
    with LabelWriter(out, session=path, classes=["background", "left_calf", "right_calf"]) as w:
        w.create_stream("thermal", n, shape)
        w.write("thermal", 3, np.zeros(shape, np.uint8), SOURCE_MANUAL, status=STATUS_ACCEPTED)
    assert main(["infer", str(path), "--model", BUNDLED_SEGMENTER, "--out", str(out), "-q"]) == 0
    with LabelReader(out) as lr:
        assert lr.array("thermal", "source")[3] == SOURCE_MANUAL
        assert not lr.mask("thermal", 3).any()
        assert (np.delete(lr.array("thermal", "source"), 3) == SOURCE_MODEL).all()


def test_keypoint_model_alone_leaves_masks_unlabeled(fresh, tmp_path, capsys):
    path, _ = fresh
    out = tmp_path / "kp.h5"
    assert main(["infer", str(path), "--model", BUNDLED_KEYPOINTS, "--out", str(out), "-q"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    with LabelReader(out) as lr:
        assert (lr.mask("thermal", 0) == 255).all()
        assert np.isfinite(lr.array("thermal", "keypoints")).any()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "no-such-model"], "no model named 'no-such-model'; known:"),
        (["--model", BUNDLED_SEGMENTER, "--stream", "ir"], "has no 'ir' stream"),
        (["--model", BUNDLED_SEGMENTER, "--stream", "depth"], "reads thermal frames but"),
        (
            ["--model", BUNDLED_SEGMENTER, "--model", BUNDLED_SEGMENTER],
            "at most one segmentation model",
        ),
    ],
)
def test_infer_errors_are_one_line(fresh, tmp_path, capsys, args, message):
    path, _ = fresh
    rc = main(["infer", str(path), "--out", str(tmp_path / "x.h5"), "-q", *args])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x.h5").exists()


def test_infer_with_a_broken_package_path(fresh, tmp_path, capsys):
    path, _ = fresh
    (tmp_path / "bad.onnx").write_bytes(b"\x00" * 64)
    shutil.copy(BUNDLED_DIR / f"{BUNDLED_SEGMENTER}.json", tmp_path / "bad.json")
    rc = main(
        ["infer", str(path), "--model", str(tmp_path / "bad.onnx"), "--out", str(tmp_path / "x.h5")]
    )
    assert rc == 2
    assert "is not a readable ONNX model" in capsys.readouterr().err
