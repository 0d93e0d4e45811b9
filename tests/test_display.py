"""How frames become pictures: colour maps, levels, depth colouring, overlays, readout."""

import numpy as np
import pytest

from app.display import (
    THERMAL_MAPS,
    DepthColoriser,
    LevelTracker,
    celsius_to_raw_levels,
    colormap_lut,
    label_edges,
    label_rgba,
    percentile_levels,
    pixel_readout,
    subsample,
    thermal_auto_levels,
    thermal_extremes,
)
from drivers.types import celsius_to_centikelvin, centikelvin_to_celsius


@pytest.mark.parametrize("name", [*THERMAL_MAPS, "turbo"])
def test_colormap_luts_are_contiguous_uint8_ramps(name):
    lut = colormap_lut(name)
    assert lut.shape == (256, 3) and lut.dtype == np.uint8 and lut.flags.c_contiguous
    # Dark at the bottom, light at the top (turbo ends dark red but starts darker still).
    assert lut[0].sum() < lut[len(lut) // 2].sum()


def test_inferno_runs_from_black_to_pale_yellow():
    lut = colormap_lut("inferno")
    assert tuple(lut[0]) == (0, 0, 4) and tuple(lut[-1]) == (252, 255, 164)
    brightness = lut.astype(int).sum(axis=1)
    assert np.all(np.diff(brightness) >= -2), "perceptually ordered: no dark band"


def test_unknown_colormap_is_refused():
    with pytest.raises(ValueError, match="unknown colour map 'viridis'"):
        colormap_lut("viridis")


def test_subsample_keeps_about_target_pixels():
    a = np.zeros((512, 640))
    assert 8_000 <= subsample(a, 16384).size <= 40_000
    small = np.zeros((10, 10))
    assert subsample(small).shape == (10, 10)


def test_percentile_levels_ignore_a_hot_pixel_that_extremes_report():
    frame = celsius_to_centikelvin(np.full((512, 640), 30.0))
    frame[100:400, 100:500] = celsius_to_centikelvin(34.0)
    frame[0, 0] = celsius_to_centikelvin(90.0)  # one hot pixel
    lo, hi = thermal_auto_levels(frame)
    assert lo == pytest.approx(30.0, abs=0.01) and hi == pytest.approx(34.0, abs=0.01)
    assert thermal_extremes(frame) == (pytest.approx(30.0, abs=0.01), pytest.approx(90.0))


def test_percentile_levels_can_ignore_zero_depth():
    depth = np.zeros((100, 100), np.uint16)
    depth[:, 50:] = np.linspace(1000, 2000, 50).astype(np.uint16)
    lo, hi = percentile_levels(depth, 0, 100, ignore_zero=True)
    assert lo >= 1000 and hi == 2000
    assert percentile_levels(np.zeros((8, 8), np.uint16), ignore_zero=True) is None


def test_level_tracker_smooths_small_changes_and_jumps_on_big_ones():
    t = LevelTracker(alpha=0.5, min_span=1.0)
    assert t.update(20.0, 30.0) == (20.0, 30.0)
    assert t.update(21.0, 31.0) == (20.5, 30.5)
    assert t.update(100.0, 120.0) == (100.0, 120.0)  # a new scene: no slow drift
    assert t.update(5.0, 5.0) == (4.5, 5.5)  # span never below min_span


def test_celsius_levels_round_trip_through_centikelvin():
    lo, hi = celsius_to_raw_levels(20.0, 38.0)
    assert (lo, hi) == pytest.approx((29315.0, 31115.0))
    assert centikelvin_to_celsius(lo) == pytest.approx(20.0)
    assert isinstance(centikelvin_to_celsius(lo), float)  # one value: exact, not float32


def test_depth_zero_is_black_and_range_spreads_over_the_rest():
    d = DepthColoriser(depth_scale=0.001, near_m=1.0, far_m=2.0)
    depth = np.array([[0, 1, 999, 1000, 1500, 2000, 5000]], np.uint16)
    idx = d.indices(depth)
    assert idx.dtype == np.uint8
    assert idx[0, 0] == 0, "no measurement"
    assert list(idx[0, 1:4]) == [1, 1, 1], "closer than near: first colour, never black"
    assert idx[0, 4] == 128 and idx[0, 5] == 255 and idx[0, 6] == 255
    assert tuple(d.lut[0]) == (0, 0, 0) and d.lut[1:].sum(axis=1).min() > 0


def test_depth_auto_range_in_metres():
    d = DepthColoriser(depth_scale=0.00025)
    depth = np.zeros((200, 200), np.uint16)
    depth[:, 100:] = 8000  # 2.0 m
    depth[:, 150:] = 12000  # 3.0 m
    near, far = d.auto_range(depth)
    assert near == pytest.approx(2.0) and far == pytest.approx(3.0)


def test_label_rgba_fills_translucent_outlines_opaque_background_clear():
    labels = np.zeros((20, 20), np.uint8)
    labels[5:15, 5:10] = 1
    labels[5:15, 12:16] = 2
    labels[0, :] = 255  # unknown
    rgba = label_rgba(labels)
    assert rgba.shape == (20, 20, 4) and rgba.dtype == np.uint8 and rgba.flags.c_contiguous
    assert rgba[10, 0, 3] == 0 and rgba[0, 10, 3] == 0, "background and unknown are clear"
    assert 0 < rgba[10, 7, 3] < 255, "inside: translucent"
    assert rgba[5, 7, 3] == 255 and rgba[10, 5, 3] == 255, "edge: opaque"
    assert tuple(rgba[10, 7, :3]) != tuple(rgba[10, 13, :3]), "classes differ in colour"
    edges = label_edges(labels)
    assert edges[5, 7] and not edges[10, 7]


def test_pixel_readout_in_physical_units():
    thermal = celsius_to_centikelvin(np.full((4, 5), 33.42))
    r = pixel_readout("thermal", "thermal", thermal, 2.7, 1.2, None)
    assert (r.x, r.y, r.text) == (2, 1, "33.42 °C")
    depth = np.array([[0, 1234]], np.uint16)
    assert pixel_readout("depth", "depth", depth, 0.5, 0.5, 0.001).text == "no depth"
    assert pixel_readout("depth", "depth", depth, 1.5, 0.5, 0.001).text == "1.234 m"
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[1, 1] = (10, 20, 30)
    assert pixel_readout("color", "color", rgb, 1.0, 1.0, None).text == "RGB 10 20 30"
    assert pixel_readout("color", "color", rgb, -0.5, 1.0, None) is None
    assert pixel_readout("color", "color", rgb, 2.0, 1.0, None) is None
