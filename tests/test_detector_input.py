"""Robust stretching and preprocessing variants for thermal frames."""

import numpy as np
import pytest

from calibration.detector_input import VARIANTS_BY_KIND, is_inverted, noise_sigma, to_gray, variants


def test_stretch_ignores_a_hot_pixel_and_keeps_the_contrast():
    rng = np.random.default_rng(0)
    frame = np.full((256, 320), 30000, np.uint16)
    frame[:, 160:] = 30300  # 3 K step
    frame += rng.integers(0, 10, frame.shape, dtype=np.uint16)
    frame[5, 5] = 60000  # one hot pixel would squash a min/max stretch to nothing
    g = to_gray(frame)
    assert g.dtype == np.uint8 and g.shape == frame.shape
    assert int(np.median(g[:, 200:])) - int(np.median(g[:, :100])) > 200


def test_color_and_float_frames_become_gray():
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[:, 6:] = 200
    assert to_gray(rgb).shape == (10, 12)
    assert to_gray(rgb.astype(np.float32)).max() == 255
    with pytest.raises(ValueError):
        to_gray(np.zeros((2, 2, 2, 2)))


def test_variants_are_lazy_named_and_cover_both_polarities():
    g = (np.arange(64 * 64) % 256).astype(np.uint8).reshape(64, 64)
    names = [n for n, _ in variants(g, "thermal")]
    assert names == list(VARIANTS_BY_KIND["thermal"])
    assert any(is_inverted(n) for n in names) and not is_inverted(names[0])
    name, first = next(variants(g, "color"))
    assert name == "stretch" and first is g
    inv = dict(variants(g, "thermal"))["inverted"]
    assert np.array_equal(inv, 255 - g)


def test_noise_estimate_matches_added_noise_not_edges():
    rng = np.random.default_rng(1)
    img = np.where(np.arange(200)[None, :] < 100, 60.0, 190.0) * np.ones((200, 1))
    noisy = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    assert noise_sigma(noisy) == pytest.approx(6, rel=0.2)
