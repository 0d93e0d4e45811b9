"""Pre- and post-processing of models (geometry, representations, soft-argmax, mask
resampling) and the runner on the bundled packages."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drivers.types import celsius_to_centikelvin
from models.catalog import BUNDLED_DIR, BUNDLED_KEYPOINTS, BUNDLED_SEGMENTER
from models.errors import ModelError
from models.package import load_package
from models.postprocess import (
    _resample_planes,
    keypoints_from_coordinates,
    keypoints_from_heatmaps,
    segmentation,
    soft_argmax,
)
from models.preprocess import fit, grayscale, heatmap, prepare
from models.runner import ModelRunner
from models.spec import InputSpec


def test_letterbox_geometry_round_trips_points():
    g = fit(1280, 720, 256, 256, "letterbox")
    assert g.content_size == (256, 144)
    assert (g.pad_x, g.pad_y) == (0, 56)
    pts = np.array([[0.0, 0.0], [1279.0, 719.0], [640.3, 360.7]])
    back = g.input_to_frame(g.frame_to_input(pts))
    np.testing.assert_allclose(back, pts, atol=1e-9)
    # The frame's outer pixel edges land on the content's edges.
    edges = g.frame_to_input(np.array([[-0.5, -0.5], [1279.5, 719.5]]))
    np.testing.assert_allclose(edges, [[-0.5, 55.5], [255.5, 199.5]], atol=1e-9)


def test_stretch_geometry_fills_the_input():
    g = fit(640, 512, 320, 320, "stretch")
    assert (g.pad_x, g.pad_y, g.scale_x, g.scale_y) == (0, 0, 0.5, 0.625)


def test_unknown_resize_mode_is_a_model_error():
    with pytest.raises(ModelError, match="letterbox or stretch"):
        fit(10, 10, 10, 10, "crop")


def test_grayscale_window_maps_celsius_to_unit_range():
    spec = InputSpec(4, 1, window_c=(20.0, 30.0))
    ck = celsius_to_centikelvin(np.array([[10.0, 20.0, 25.0, 45.0]]))
    out = grayscale(ck, spec)
    assert out.shape == (1, 4, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, :, 0], [0.0, 0.0, 0.5, 1.0], atol=1e-3)


def test_heatmap_representation_is_three_channels_cold_dark_hot_bright():
    spec = InputSpec(2, 1, representation="heatmap", window_c=(20.0, 30.0), colormap="inferno")
    out = heatmap(celsius_to_centikelvin(np.array([[20.0, 30.0]])), spec)
    assert out.shape == (1, 2, 3)
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert out[0, 0].sum() < 0.1 < 2.0 < out[0, 1].sum()


def test_prepare_letterboxes_with_the_cold_end_of_the_window():
    spec = InputSpec(32, 32, window_c=(20.0, 30.0), mean=(0.5,), std=(0.25,))
    frame = celsius_to_centikelvin(np.full((10, 20), 25.0))
    x, g = prepare(frame, spec)
    assert x.shape == (1, 1, 32, 32)
    assert (g.pad_x, g.pad_y) == (0, 8)
    assert x[0, 0, 0, 0] == pytest.approx((0.0 - 0.5) / 0.25)  # padding
    assert x[0, 0, 16, 16] == pytest.approx((0.5 - 0.5) / 0.25, abs=1e-3)  # content


def _gaussian_logits(h: int, w: int, x: float, y: float, sigma: float = 1.5) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w]
    return -((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2)


def test_soft_argmax_recovers_a_known_subpixel_point():
    truth = [(17.3, 9.85), (40.71, 50.2), (3.5, 60.05)]
    maps = np.stack([_gaussian_logits(64, 80, x, y) for x, y in truth])
    pts, score = soft_argmax(maps)
    assert np.abs(pts - np.array(truth)).max() < 0.1
    assert (score > 0.5).all()  # a peaked map is a confident one
    flat = soft_argmax(np.zeros((1, 64, 80)))[1]
    assert flat[0] < 0.01


def test_heatmap_keypoints_land_on_frame_pixels():
    g = fit(640, 512, 320, 256, "letterbox")
    frame_pt = np.array([[250.4, 300.9]])
    map_pt = (g.frame_to_input(frame_pt) + 0.5) / 4 - 0.5  # quarter-resolution map
    logits = _gaussian_logits(64, 80, *map_pt[0])[None, None]
    r = keypoints_from_heatmaps(logits, g, 1)
    assert np.abs(r.keypoints - frame_pt).max() < 0.1 * 8  # < 0.1 map px


def test_coordinate_keypoints_in_both_units_and_absent_points():
    g = fit(640, 512, 320, 256, "letterbox")
    norm = np.array([[[0.5, 0.5, 0.9], [1.5, 0.5, 0.9], [0.25, 0.25, 0.1]]], np.float32)
    r = keypoints_from_coordinates(norm, g, 3, min_score=0.5, units="normalized")
    np.testing.assert_allclose(r.keypoints[0], [319.5, 255.5], atol=1e-4)
    assert np.isnan(r.keypoints[1]).all()  # outside the frame
    assert np.isnan(r.keypoints[2]).all()  # under min_score
    px = np.array([[[159.5, 127.5]]], np.float32)
    r = keypoints_from_coordinates(px, g, 1, units="pixels")
    np.testing.assert_allclose(r.keypoints[0], [319.5, 255.5], atol=1e-4)
    with pytest.raises(ModelError, match=r"expected \(1, 2, 2 or 3\)"):
        keypoints_from_coordinates(px, g, 2, units="pixels")


def test_segmentation_boundary_falls_where_the_scores_cross():
    """Scores linear in x cross at a known frame column; bilinear resampling of a linear
    function is exact, so the class boundary must be at that column."""
    g = fit(640, 512, 320, 256, "letterbox")
    boundary_frame_x = 301.3
    boundary_map_x = (g.frame_to_input(np.array([[boundary_frame_x, 0.0]]))[0, 0] + 0.5) / 4 - 0.5
    xs = np.arange(80, dtype=np.float32)
    diff = np.broadcast_to(xs - boundary_map_x, (64, 80))
    logits = np.stack([np.zeros((64, 80)), diff, np.full((64, 80), -50.0)])[None].astype(np.float32)
    r = segmentation(logits, g, 3)
    assert r.mask.shape == (512, 640) and r.mask.dtype == np.uint8
    cols = np.nonzero(r.mask[200] == 1)[0]
    assert cols.min() == int(np.ceil(boundary_frame_x))
    assert set(np.unique(r.mask)) == {0, 1}
    assert np.isnan(r.confidence[2]) and 0.5 < r.confidence[1] <= 1.0


def test_letterboxed_segmentation_boundary_and_both_resampling_paths_agree():
    g = fit(1280, 720, 256, 256, "letterbox")  # padded: the affine-warp path
    boundary_frame_x = 700.6
    bx = (g.frame_to_input(np.array([[boundary_frame_x, 0.0]]))[0, 0] + 0.5) / 4 - 0.5
    diff = np.broadcast_to(np.arange(64, dtype=np.float32) - bx, (64, 64))
    logits = np.stack([np.zeros((64, 64)), diff])[None].astype(np.float32)
    mask = segmentation(logits, g, 2).mask
    assert mask.shape == (720, 1280)
    assert np.nonzero(mask[360] == 1)[0].min() == int(np.ceil(boundary_frame_x))
    # Unpadded geometry takes cv2.resize; it must equal the general warp.
    g2 = fit(640, 512, 320, 256, "letterbox")
    maps = np.random.default_rng(1).normal(size=(3, 64, 80)).astype(np.float32)
    fast = _resample_planes(maps, g2)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    M = g2.frame_to_map(80, 64)
    for k in range(3):
        slow = cv2.warpAffine(maps[k], M, (640, 512), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        np.testing.assert_allclose(fast[k], slow, atol=2e-3)


def test_segmentation_rejects_the_wrong_number_of_classes():
    with pytest.raises(ModelError, match=r"expected \(1, 3, H, W\)"):
        segmentation(np.zeros((1, 2, 8, 8), np.float32), fit(8, 8, 8, 8, "stretch"), 3)


def _thermal_frame() -> np.ndarray:
    frame = np.full((512, 640), 21.0)
    frame[100:400, 200:260] = 33.0
    frame[80:300, 380:440] = 33.0
    return celsius_to_centikelvin(frame)


def test_runner_on_the_bundled_segmenter():
    runner = ModelRunner(load_package(BUNDLED_DIR / f"{BUNDLED_SEGMENTER}.onnx", threads=1))
    r = runner.run(_thermal_frame())
    assert r.task == "segmentation"
    assert r.mask.shape == (512, 640) and r.mask.dtype == np.uint8
    assert set(np.unique(r.mask)) <= {0, 1, 2}
    assert r.confidence.shape == (3,)
    assert 0 < r.inference_s <= r.total_s
    assert runner.latency.runs == 1


def test_runner_on_the_bundled_keypoint_model():
    runner = ModelRunner(load_package(BUNDLED_DIR / f"{BUNDLED_KEYPOINTS}.onnx", threads=1))
    r = runner.run(_thermal_frame())
    assert r.task == "keypoints"
    assert r.keypoints.shape == (6, 2) and r.keypoints.dtype == np.float32
    assert r.scores.shape == (6,)
    inside = np.isfinite(r.keypoints).all(axis=1)
    assert (r.keypoints[inside] >= -0.5).all() and (r.keypoints[inside, 0] < 640).all()
