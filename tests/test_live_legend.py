"""The legend of the live views (no Qt): every overlay names the marks it draws, and the
hover text names the mark under a pixel from the overlay's own arrays."""

import numpy as np

from app.display import projected_rgba
from app.live.legend import (
    KEYPOINT,
    NO_DEPTH_MARK,
    OCCLUDED_MARK,
    PROJECTED_UNKNOWN,
    TRUTH_OUTLINE,
    class_marks,
    explain,
    legend_marks,
)
from app.live.projected_labels import ProjectedLabelsStage
from app.live.stages import Overlay, StageRegistry, StageRunner, truth_labels_stage
from calibration.projection import NO_DEPTH, OCCLUDED, VALID
from drivers.truth import UNKNOWN_LABEL
from drivers.types import Frame, FrameSet


def _projected_overlay() -> Overlay:
    """A projected-labels overlay drawn as the stage draws it: a calf, a hidden area
    (hatched), an area without depth (tinted)."""
    labels = np.zeros((60, 60), np.uint8)
    labels[5:20, 5:20] = 1
    reason = np.full((60, 60), VALID, np.uint8)
    reason[30:50, 5:25] = OCCLUDED
    reason[30:50, 35:55] = NO_DEPTH
    labels[reason != VALID] = UNKNOWN_LABEL
    classes = ProjectedLabelsStage().classes  # the names the stage's overlays use
    return Overlay(
        "thermal",
        labels=labels,
        rgba=projected_rgba(labels, reason),
        reason=reason,
        marks=class_marks(classes, "projected") + PROJECTED_UNKNOWN,
    )


def test_explain_names_class_hatch_tint_and_nothing():
    overlay = _projected_overlay()
    assert "left calf" in explain(overlay, 10.5, 10.5)
    # Between two hatch stripes nothing is painted, yet the area is the hatched one.
    assert explain(overlay, 12.0, 40.0) == OCCLUDED_MARK.text
    assert explain(overlay, 45.0, 40.0) == NO_DEPTH_MARK.text
    assert explain(overlay, 40.0, 10.0) == ""  # background: nothing drawn
    assert explain(overlay, -3.0, 10.0) == "" and explain(overlay, 10.0, 99.0) == ""


def _truth_frameset() -> FrameSet:
    labels = np.zeros((40, 40), np.uint8)
    labels[10:30, 10:20] = 2
    points = np.array([[15.0, 12.0], [np.nan, np.nan]], np.float32)
    frame = Frame(
        "thermal",
        0,
        0.0,
        np.zeros((40, 40), np.uint16),
        truth={"labels": labels, "keypoints": points},
    )
    return FrameSet(0, 0.0, "thermal", {"thermal": frame})


def test_truth_outline_names_its_outline_and_keypoints_only():
    overlay = truth_labels_stage("thermal", outline=True)(_truth_frameset())
    assert overlay.marks == (TRUTH_OUTLINE, KEYPOINT)
    assert explain(overlay, 15.0, 12.5) == KEYPOINT.text  # on the keypoint
    assert explain(overlay, 10.0, 20.0) == TRUTH_OUTLINE.text  # on the outline
    assert explain(overlay, 17.0, 25.0) == ""  # inside: the outline draws nothing there


def test_a_stage_that_names_no_marks_gets_its_classes_named_by_the_runner():
    labels = np.zeros((20, 20), np.uint8)
    labels[2:8, 2:8] = 3

    def anonymous(fs: FrameSet) -> Overlay:
        return Overlay("thermal", fs.index, labels=labels)

    registry = StageRegistry()
    registry.register("mine", anonymous, title="My model")
    runner = StageRunner(registry)
    try:
        runner.run_once(_truth_frameset())
        result = runner.results()["mine"]
    finally:
        runner.stop()
    assert [m.key for m in result.marks] == ["class-3"]
    assert "My model" in result.marks[0].text
    assert explain(result, 4.0, 4.0) == result.marks[0].text


def test_legend_lists_each_mark_once_in_drawing_order():
    projected = _projected_overlay()
    truth = truth_labels_stage("thermal", outline=True)(_truth_frameset())
    keys = [m.key for m in legend_marks([projected, truth, truth])]
    assert keys == ["class-1", "class-2", "occluded", "unknown", "truth", "keypoint"]
