"""Model packages: loading, and one-line errors for everything that can be wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from models.catalog import BUNDLED_DIR, BUNDLED_KEYPOINTS, BUNDLED_SEGMENTER
from models.errors import ModelError
from models.package import load_package, package_paths
from models.spec import parse_manifest


@pytest.fixture
def seg(tmp_path: Path) -> Path:
    """A copy of the bundled segmenter that a test may break; returns NAME.onnx."""
    for ext in (".onnx", ".json"):
        shutil.copy(BUNDLED_DIR / f"{BUNDLED_SEGMENTER}{ext}", tmp_path / f"seg{ext}")
    return tmp_path / "seg.onnx"


def _edit_json(onnx_path: Path, edit) -> None:
    path = onnx_path.with_suffix(".json")
    d = json.loads(path.read_text())
    edit(d)
    path.write_text(json.dumps(d))


def _one_line_error(path, match: str) -> str:
    with pytest.raises(ModelError, match=match) as info:
        load_package(path, threads=1)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_bundled_packages_load_and_describe_themselves():
    seg = load_package(BUNDLED_DIR / BUNDLED_SEGMENTER, threads=1)
    assert seg.task == "segmentation"
    assert seg.names == ("background", "left_calf", "right_calf")
    assert (seg.input_name, seg.output_name) == ("thermal", "logits")
    assert seg.manifest.input.stream == "thermal"
    assert seg.size_bytes < 5 * 2**20
    kp = load_package(BUNDLED_DIR / f"{BUNDLED_KEYPOINTS}.json", threads=1)
    assert kp.task == "keypoints" and kp.manifest.output.kind == "heatmaps"
    assert kp.names[:2] == ("left_knee", "right_knee")


def test_bundled_headline_figures_are_the_held_out_measurements():
    """The figures a package shows (``thermorig models``) are the ones its held-out
    evaluation recorded, read from the JSON on disk independently of the parser."""
    seg = load_package(BUNDLED_DIR / BUNDLED_SEGMENTER, threads=1).manifest
    held = json.loads((BUNDLED_DIR / f"{BUNDLED_SEGMENTER}.json").read_text())["provenance"]
    held = held["heldout"]
    assert seg.figures == {
        "mean_iou": held["mean_iou"],
        "iou_left_calf": held["iou"]["left_calf"],
        "iou_right_calf": held["iou"]["right_calf"],
    }
    # The mean is over the labeled classes (background left out), as evaluate reports it.
    calves = (held["iou"]["left_calf"] + held["iou"]["right_calf"]) / 2
    assert seg.figures["mean_iou"] == pytest.approx(calves, abs=1e-4)
    assert 0.5 < seg.figures["mean_iou"] <= 1.0

    kp = load_package(BUNDLED_DIR / BUNDLED_KEYPOINTS, threads=1).manifest
    held = json.loads((BUNDLED_DIR / f"{BUNDLED_KEYPOINTS}.json").read_text())["provenance"]
    held = held["heldout"]["all"]
    assert kp.figures == {"median_error_px": held["median_px"], "p95_error_px": held["p95_px"]}
    assert 0 < kp.figures["median_error_px"] < kp.figures["p95_error_px"]


def test_package_paths_accept_either_file_or_the_bare_name(tmp_path):
    want = (tmp_path / "m.onnx", tmp_path / "m.json")
    assert package_paths(tmp_path / "m") == want
    assert package_paths(tmp_path / "m.json") == want
    assert package_paths(tmp_path / "m.onnx") == want


def test_wrong_input_size_names_both_shapes(seg):
    _edit_json(seg, lambda d: d["input"].update(size=[300, 200]))
    msg = _one_line_error(seg, "does not match")
    assert "input 'thermal' is 1×1×256×320" in msg
    assert "1×1×200×300" in msg and "size [300, 200]" in msg


def test_wrong_representation_channels(seg):
    _edit_json(seg, lambda d: d["input"].update(representation="heatmap"))
    msg = _one_line_error(seg, "does not match")
    assert "1×3×256×320" in msg and "3 channels" in msg


def test_unknown_colour_map(seg):
    _edit_json(seg, lambda d: d["input"].update(representation="heatmap", colormap="iron"))
    _one_line_error(seg, "unknown colour map 'iron'")


def test_wrong_number_of_classes_and_output_name_are_all_listed(seg):
    def edit(d):
        d["classes"] = ["background", "calf"]
        d["input"]["name"] = "image"

    _edit_json(seg, edit)
    msg = _one_line_error(seg, "does not match")
    assert "input.name is 'image' but the graph's inputs are thermal" in msg
    assert "output 'logits' is 1×3×64×80" in msg and "2 classes" in msg


def test_missing_output_name(seg):
    _edit_json(seg, lambda d: d["output"].update(name="scores"))
    _one_line_error(seg, "output.name is 'scores' but the graph's outputs are logits")


def test_task_output_kind_mismatch(seg):
    _edit_json(seg, lambda d: d["output"].update(kind="heatmaps"))
    _one_line_error(seg, "segmentation model's output kind is logits, not 'heatmaps'")


def test_missing_json(seg):
    seg.with_suffix(".json").unlink()
    msg = _one_line_error(seg, "has no seg.json beside it")
    assert "NAME.onnx with NAME.json" in msg


def test_missing_onnx(seg):
    seg.unlink()
    _one_line_error(seg.with_suffix(".json"), "has no seg.onnx beside it")


def test_nothing_there(tmp_path):
    _one_line_error(tmp_path / "nothing", "no model package at")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_onnx_file(seg, damage):
    data = seg.read_bytes()
    seg.write_bytes(
        {"garbage": b"not a model at all" * 10, "truncated": data[: len(data) // 3], "empty": b""}[
            damage
        ]
    )
    msg = _one_line_error(seg, "is not a readable ONNX model")
    assert "export it again" in msg


def test_corrupt_json(seg):
    seg.with_suffix(".json").write_text('{"task": "segmentation",')
    _one_line_error(seg, r"seg.json is not valid JSON \(")


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d: d.update(task="detector"), "'task' is 'detector'; use one of segmentation"),
        (lambda d: d.pop("input"), "'input' is missing"),
        (lambda d: d["input"].update(size=[320]), r"'input.size' must be 2 numbers"),
        (lambda d: d["input"].update(window_c=[40, 15]), "high > low"),
        (lambda d: d["input"].update(resize="crop"), "'input.resize' is 'crop'; use one of"),
        (lambda d: d["input"].update(representation="xray"), "unknown input representation"),
        (lambda d: d.update(format="other"), "not a thermorig model"),
        (lambda d: d.update(version=99), "version 99; this thermorig reads up to 1"),
        (lambda d: d.update(classes=["a", "a"]), "names the same entry twice"),
        (lambda d: d["input"]["normalization"].update(std=[0]), "must not contain 0"),
    ],
)
def test_bad_json_fields_name_the_field(seg, edit, match):
    _edit_json(seg, edit)
    _one_line_error(seg, match)


def test_parse_manifest_defaults_follow_the_task():
    m = parse_manifest({"task": "keypoints", "input": {"size": [64, 48]}, "keypoints": ["a"]}, "x")
    assert m.output.kind == "heatmaps" and m.input.representation == "grayscale"
    assert (m.input.width, m.input.height) == (64, 48)
    v = parse_manifest({"task": "visual-labeler", "input": {"size": [32, 32]}}, "x")
    assert v.input.stream == "color" and v.input.representation == "rgb"
    assert v.input.mean == (0.0, 0.0, 0.0)
