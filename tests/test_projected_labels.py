"""The projected-labels stage and how its result is drawn (no Qt): labels of the RGB
frame carried into the thermal frame through a flat wall of depth; why it is off."""

import numpy as np
import pytest

from app.display import (
    HATCH_RGBA,
    UNKNOWN_RGBA,
    label_outline_rgba,
    projected_rgba,
)
from app.live.legend import explain
from app.live.projected_labels import (
    MEDIAPIPE_LABELER_NAME,
    TRUTH_LABELER_NAME,
    ProjectedLabelsStage,
    VisualLiveLabeler,
    mediapipe_labeler,
    truth_labeler,
)
from calibration.projection import NO_DEPTH, OCCLUDED, VALID
from calibration.rig import Camera, Rig
from drivers.types import Frame, FrameSet, StreamSpec
from models.convert.mediapipe_parity import read_photo
from models.visual_labeler import VisualLabel

W, H, F = 80, 60, 60.0


def _rig(color_x: float = 0.02) -> Rig:
    K = np.array([[F, 0, (W - 1) / 2], [0, F, (H - 1) / 2], [0, 0, 1]])

    def cam(x: float) -> Camera:
        T = np.eye(4)
        T[:3, 3] = (x, 0.1 * x, 0.2 * x)  # never exactly side by side, as no real rig is
        return Camera(width=W, height=H, K=K, dist=np.zeros(5), T_ref_cam=T)

    return Rig(cameras={"depth": cam(0.0), "thermal": cam(0.01), "color": cam(color_x)})


def _specs() -> dict[str, StreamSpec]:
    return {
        "thermal": StreamSpec("thermal", "thermal", (H, W), "uint16", "centikelvin", 30.0),
        "depth": StreamSpec("depth", "depth", (H, W), "uint16", "depth_units", 30.0, 0.001),
        "color": StreamSpec("color", "color", (H, W, 3), "uint8", "rgb", 30.0),
    }


def _frameset(labels: np.ndarray | None, depth_mm: int = 1000, with_color: bool = True):
    frames = {
        "thermal": Frame("thermal", 0, 0.010, np.full((H, W), 30000, np.uint16)),
        "depth": Frame("depth", 0, 0.000, np.full((H, W), depth_mm, np.uint16)),
    }
    if with_color:
        truth = None if labels is None else {"labels": labels}
        frames["color"] = Frame("color", 0, 0.004, np.zeros((H, W, 3), np.uint8), truth=truth)
    return FrameSet(3, 0.010, "thermal", frames)


def _square() -> np.ndarray:
    labels = np.zeros((H, W), np.uint8)
    labels[20:40, 30:50] = 1
    return labels


def test_labels_of_the_rgb_frame_land_shifted_by_the_baseline_on_a_flat_wall():
    stage = ProjectedLabelsStage(truth_labeler("color"))
    stage.set_rig(_rig(), _specs())
    overlay = stage(_frameset(_square()))
    assert overlay.stream == "thermal" and overlay.frameset == 3
    # 1 cm between thermal and colour at 1 m and f = 60 px: 0.6 px; the square keeps
    # its size and lands within a pixel of where the RGB camera saw it.
    ys, xs = np.nonzero(overlay.labels == 1)
    assert 19 <= ys.min() <= 21 and 38 <= ys.max() <= 40
    assert 29 <= xs.min() <= 32 and 48 <= xs.max() <= 51
    assert overlay.rgba.shape == (H, W, 4) and overlay.rgba[30, 40, 3] > 0
    assert "confidence" in overlay.note and "Δt 10 ms" in overlay.note
    # The legend names the classes and both kinds of unknown; the tooltip reads the
    # reason codes the overlay carries.
    keys = [m.key for m in overlay.marks]
    assert keys == ["class-1", "class-2", "occluded", "unknown"]
    assert overlay.reason is stage.last.transfer.reason
    assert "left calf" in explain(overlay, 40.0, 30.0)
    last = stage.last
    assert last.frameset == 3 and last.transfer.depth[30, 40] == pytest.approx(1.0, abs=0.01)


def test_a_rig_change_rebuilds_the_projector_on_the_worker():
    stage = ProjectedLabelsStage()
    stage.set_rig(_rig(0.02), _specs())
    before = stage(_frameset(_square()))
    stage.set_rig(_rig(0.10), _specs())  # the colour camera 8 cm further
    after = stage(_frameset(_square()))
    shift = np.nonzero(after.labels == 1)[1].mean() - np.nonzero(before.labels == 1)[1].mean()
    assert shift == pytest.approx(0.08 * F, abs=1.0), "8 cm at 1 m and f = 60 px"


def test_the_stage_says_why_it_is_off():
    stage = ProjectedLabelsStage()
    assert "no source open" in stage(_frameset(_square())).note
    stage.set_rig(None, _specs())
    off = stage(_frameset(_square()))
    assert off.labels is None and off.note.startswith("projected labels off: no rig")
    specs = _specs()
    del specs["depth"]
    stage.set_rig(_rig(), specs)
    assert "no depth stream" in stage(_frameset(_square())).note
    stage.set_rig(_rig(), _specs())
    assert "no labels from RGB ground truth" in stage(_frameset(None)).note
    small = _rig()
    small.cameras["color"].width = 40
    stage.set_rig(small, _specs())
    assert (
        "color frames are 80x60 but the rig's color camera is 40x60"
        in stage(_frameset(_square())).note
    )


def _later(fs: FrameSet, dt: float, index: int) -> FrameSet:
    """``fs``'s frames ``dt`` seconds later, as FrameSet ``index``."""
    frames = {
        n: Frame(n, index, f.timestamp + dt, f.array, truth=f.truth) for n, f in fs.frames.items()
    }
    return FrameSet(index, fs.timestamp + dt, fs.pivot, frames)


def test_a_set_missing_a_partner_borrows_a_near_one_and_keeps_its_labels():
    stage = ProjectedLabelsStage()
    stage.set_rig(_rig(), _specs())
    good = stage(_frameset(_square()))
    # The next thermal frame (33 ms later) lost its RGB partner: the RGB frame of the
    # set before is 39 ms away, near enough; its labels are drawn, Δt said.
    lost = _later(_frameset(_square(), with_color=False), 0.033, 4)
    borrowed = stage(lost)
    assert borrowed is not good and borrowed.frameset == 4
    assert np.array_equal(borrowed.labels, good.labels)
    assert "Δt 39 ms" in borrowed.note
    assert "color" not in lost.frames, "the set itself is left as it came"
    # Half a second on, the RGB frame is too old to borrow: the newest result stays
    # (the pacer draws it only near its own frame).
    far = _later(_frameset(_square(), with_color=False), 0.5, 5)
    assert stage(far) is borrowed


def test_projected_rgba_draws_unknown_regions_and_skips_specks():
    labels = np.zeros((40, 40), np.uint8)
    labels[5:15, 5:15] = 1
    reason = np.full((40, 40), VALID, np.uint8)
    reason[20:35, 5:20] = OCCLUDED
    reason[20:35, 25:38] = NO_DEPTH
    reason[2, 30] = NO_DEPTH  # a single dropout: not drawn
    labels[reason != VALID] = 255
    rgba = projected_rgba(labels, reason)
    assert rgba[10, 10, 3] > 0 and rgba[0, 39, 3] == 0
    hatched = rgba[20:35, 5:20].reshape(-1, 4)
    assert (hatched == HATCH_RGBA).all(axis=1).any() and (hatched[:, 3] == 0).any(), "stripes"
    # An even tint, no outline: its rim is drawn as its inside.
    assert tuple(rgba[20, 30]) == UNKNOWN_RGBA == tuple(rgba[27, 31])
    assert rgba[2, 30, 3] == 0


def test_label_outline_rgba_is_only_the_border():
    labels = np.zeros((20, 20), np.uint8)
    labels[5:15, 5:15] = 2
    labels[0, :] = 255
    rgba = label_outline_rgba(labels)
    assert rgba[5, 10, 3] == 230 and rgba[10, 10, 3] == 0 and rgba[0, 10, 3] == 0


class _NoPerson:
    """A visual labeler stand-in that never finds anybody, like MediaPipe on the rig."""

    classes = ["background", "left_calf", "right_calf"]

    def label(self, rgb):
        assert rgb.shape == (H, W, 3)
        return VisualLabel(None, np.full((6, 2), np.nan, np.float32), np.zeros(6, np.float32),
                           reason="no person detected")  # fmt: skip


def test_a_labeler_that_finds_nobody_says_so_instead_of_keeping_old_labels():
    stage = ProjectedLabelsStage()
    stage.set_rig(_rig(), _specs())
    assert stage(_frameset(_square())).labels is not None
    assert stage.labeler_name == TRUTH_LABELER_NAME
    live = VisualLiveLabeler(_NoPerson())
    stage.set_labeler(live, MEDIAPIPE_LABELER_NAME, live.classes)
    off = stage(_frameset(_square()))
    assert off.labels is None and off.rgba is None
    assert off.note == "projected labels off: MediaPipe pose: no person detected"
    # A set without its RGB frame borrows the one just seen and asks the new labeler:
    # never labels kept from the old one.
    borrowed = stage(_frameset(_square(), with_color=False))
    assert borrowed.labels is None and borrowed.note == off.note, "no stale result kept"
    stage.set_labeler(truth_labeler(), TRUTH_LABELER_NAME, live.classes)
    assert stage(_frameset(_square())).note.startswith("projected from RGB ground truth: ")


def test_the_mediapipe_live_labeler_finds_nobody_on_a_blank_frame_and_legs_on_a_photo(
    photo_wheel,
):
    live = mediapipe_labeler()
    assert live.classes == ["background", "left_calf", "right_calf"]
    assert live(_frameset(None)) is None and live.reason == "no person detected"
    grey = _frameset(None)
    grey.frames["color"] = Frame("color", 0, 0.0, np.zeros((H, W), np.uint8))
    assert live(grey) is None and "not 8-bit RGB" in live.reason
    rgb = read_photo(photo_wheel, "bus.jpg")
    fs = FrameSet(0, 0.0, "color", {"color": Frame("color", 0, 0.0, rgb)})
    labels = live(fs)
    assert labels is not None and labels.shape == rgb.shape[:2] and live.reason == ""
    assert {1, 2} <= set(np.unique(labels).tolist()), "both calves of the man at the left"
