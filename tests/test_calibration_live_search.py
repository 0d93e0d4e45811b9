"""The wizard's live board search in one camera: the marker first (no board, no
growing and no noise estimate), the noise estimated once every NOISE_EVERY searches,
the corners those of a fresh estimate, the picture at most SHOWN_WIDTH wide."""

import numpy as np

import calibration.live_search as search
from calibration.live_search import NOISE_EVERY, SHOWN_WIDTH, LiveCamera, live_detect, search_camera
from drivers.types import Frame
from tests.board_images import quad, render, thermal
from tests.test_calibration_live import BOARD


def _counting(monkeypatch, name: str) -> list:
    calls = []
    real = getattr(search, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(search, name, counted)
    return calls


def test_a_frame_without_the_marker_costs_no_growing_and_no_noise_estimate(monkeypatch):
    grown, noise = _counting(monkeypatch, "detect_coded"), _counting(monkeypatch, "noise_sigma")
    rng = np.random.default_rng(0)
    clutter = thermal(rng.uniform(0, 255, (256, 320)).astype(np.float32), seed=1)
    cam = LiveCamera("thermal", "thermal", "thermal")
    for i in range(4):
        image, scale, det = search_camera(cam, Frame("thermal", i, i / 10, clutter), BOARD)
        assert det is None and image.shape == (256, 320) and scale == 1.0
    assert grown == [] and noise == []


def test_the_noise_is_estimated_once_every_noise_every_searches_with_the_same_corners(
    monkeypatch,
):
    img, truth = render(BOARD, quad(320, 180, 350, 300), (640, 360))
    rgb = np.repeat(np.clip(img, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    fresh = live_detect(rgb, BOARD, "color", "stretch")
    noise = _counting(monkeypatch, "noise_sigma")
    cam = LiveCamera("color", "color", "color")
    for _ in range(2 * NOISE_EVERY):
        det = live_detect(rgb, BOARD, "color", "stretch", cam)
        np.testing.assert_array_equal(det.ids, fresh.ids)
        np.testing.assert_array_equal(det.image_points, fresh.image_points)
    assert len(noise) == 2
    assert np.abs(det.image_points - truth[det.ids]).max() < 0.5


def test_a_wide_frame_is_searched_shrunk_and_shown_at_most_shown_width():
    img, truth = render(BOARD, quad(640, 360, 700, 600), (1280, 720))
    rgb = np.repeat(np.clip(img, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    cam = LiveCamera("color", "color", "color")
    image, scale, det = search_camera(cam, Frame("color", 0, 0.0, rgb), BOARD)
    assert image.shape == (225, SHOWN_WIDTH, 3) and scale == SHOWN_WIDTH / 1280
    assert det.image_size == (1280, 720) and cam.variant == "stretch"
    assert np.abs(det.image_points - truth[det.ids]).max() < 0.6
