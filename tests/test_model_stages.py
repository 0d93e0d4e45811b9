"""The bundled thermal models as overlay stages: masks and keypoints agree with the
synthetic truth, and a model that cannot load says why instead of raising."""

import numpy as np
import pytest

from app.live.model_stages import ModelStage, model_stage
from drivers.synthetic import open_synthetic
from drivers.types import FrameSet
from models.catalog import BUNDLED_DIR, BUNDLED_KEYPOINTS, BUNDLED_SEGMENTER
from models.package import load_package
from tests.mask_checks import calf_iou


@pytest.fixture(scope="module")
def thermal_sets() -> list[FrameSet]:
    """Four thermal FrameSets spread over a second of synthetic cycling."""
    driver = open_synthetic("cycling", realtime=False, duration=1, seed=3)
    driver.open()
    try:
        thermal = [f for f in driver.frames() if f.stream == "thermal"]
    finally:
        driver.close()
    picked = thermal[:: max(1, len(thermal) // 4)][:4]
    return [FrameSet(i, f.timestamp, "thermal", {"thermal": f}) for i, f in enumerate(picked)]


def test_the_segmenter_stage_masks_the_calves(thermal_sets):
    stage = model_stage(BUNDLED_SEGMENTER, threads=1)
    for fs in thermal_sets:
        overlay = stage(fs)
        truth = fs.frames["thermal"].truth["labels"]
        assert overlay.stream == "thermal" and overlay.frameset == fs.index
        assert overlay.labels.shape == truth.shape and overlay.points is None
        assert [m.title for m in overlay.marks] == ["left calf", "right calf"], "its legend"
        # The reference mannequin is a person the model never saw in training: its
        # cross-subject IoU (resources/models/thermal-calf-seg.json) is 0.69.
        assert calf_iou(overlay.labels, truth) > 0.55
        assert overlay.note.startswith(f"model {BUNDLED_SEGMENTER}: ")


def test_the_keypoint_stage_finds_the_joints(thermal_sets):
    stage = model_stage(BUNDLED_KEYPOINTS, threads=1)
    errors = []
    for fs in thermal_sets:
        overlay = stage(fs)
        truth = np.asarray(fs.frames["thermal"].truth["keypoints"], np.float64)
        assert overlay.labels is None and overlay.points.shape == truth.shape
        assert [m.key for m in overlay.marks] == ["keypoint"], "its legend"
        assert overlay.rgba is None, "points alone: the preview draws them without a layer"
        seen = np.isfinite(truth).all(axis=1) & np.isfinite(overlay.points).all(axis=1)
        assert seen.sum() >= truth.shape[0] // 2
        errors.extend(np.linalg.norm(overlay.points[seen] - truth[seen], axis=1))
    assert float(np.median(errors)) < 5.0


def test_a_model_that_cannot_load_gives_a_note_not_an_error(thermal_sets, tmp_path):
    fs = thermal_sets[0]
    missing = model_stage(tmp_path / "nothing.onnx")
    overlay = missing(fs)
    assert overlay.labels is None and overlay.points is None
    assert overlay.note.startswith("model ") and " off: cannot load: " in overlay.note
    assert "\n" not in overlay.note
    (tmp_path / "broken.onnx").write_bytes(b"not a network")
    (tmp_path / "broken.json").write_text("{}")
    broken = model_stage(tmp_path / "broken.onnx")
    assert " off: cannot load: " in broken(fs).note
    assert " off: " in broken(fs).note, "stays off on later frames, without raising"
    unknown = model_stage("no-such-model")
    assert "no model named 'no-such-model'" in unknown(fs).note


def test_a_stage_from_a_loaded_package_runs_it_on_the_stream_its_json_names(thermal_sets):
    package = load_package(BUNDLED_DIR / f"{BUNDLED_KEYPOINTS}.onnx", threads=1)
    stage = ModelStage.loaded(package)
    assert stage.stream == "thermal" and stage.runner.package is package
    overlay = stage(thermal_sets[0])
    assert overlay.points.shape == (len(package.names), 2) and overlay.rgba is None
    assert overlay.note.startswith(f"model {BUNDLED_KEYPOINTS}: ")
    assert ModelStage.loaded(package, "other").stream == "other"
