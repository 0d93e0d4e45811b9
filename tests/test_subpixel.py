"""The X-junction fit: unbiased on rendered corners, better than cornerSubPix in noise."""

import cv2
import numpy as np

from calibration.boards import parse_board
from calibration.subpixel import fit_radius, fit_x_junctions
from tests.board_images import quad, render


def _scene(noise: float, seed: int = 0):
    b = parse_board("checker:9x6:25")
    img, true = render(b, quad(200, 160, 300, 220, 20), (400, 320), blur=0.8)
    rng = np.random.default_rng(seed)
    noisy = (img + rng.normal(0, noise, img.shape)).astype(np.float32)
    H, _ = cv2.findHomography(b.grid(np.arange(54)).astype(float), true)
    g = b.grid(np.arange(54)).astype(float)
    u = cv2.perspectiveTransform((g + (1, 0)).reshape(-1, 1, 2), H).reshape(-1, 2) - true
    v = cv2.perspectiveTransform((g + (0, 1)).reshape(-1, 1, 2), H).reshape(-1, 2) - true
    start = true + rng.uniform(-0.8, 0.8, true.shape)
    return noisy, true, start, u, v


def _rms(d):
    return float(np.sqrt(np.mean(np.sum(d**2, axis=1))))


def test_fit_recovers_corners_from_a_pixel_away():
    img, true, start, u, v = _scene(noise=0)
    fit = fit_x_junctions(img, start, u, v, 3.0)
    assert fit.ok.all()
    assert _rms(fit.points - true) < 0.03
    assert np.all(np.abs(np.median(fit.points - true, axis=0)) < 0.01)  # no bias
    assert np.median(fit.contrast) > 200 and 0.5 < np.median(fit.blur) < 2.0


def test_fit_beats_cornersubpix_in_noise():
    img, true, start, u, v = _scene(noise=10, seed=2)
    fit = fit_x_junctions(img, start, u, v, 3.0)
    csp = cv2.cornerSubPix(
        img, start.astype(np.float32).reshape(-1, 1, 2), (5, 5), (-1, -1),
        (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 40, 1e-3),
    ).reshape(-1, 2)  # fmt: skip
    assert fit.ok.mean() > 0.95
    assert _rms(fit.points[fit.ok] - true[fit.ok]) < 0.8 * _rms(csp - true)


def test_fit_fails_cleanly_off_image_and_on_flat_ground():
    img, true, start, u, v = _scene(noise=0)
    flat = np.full_like(img, 100.0)
    pts = np.vstack([[1.0, 1.0], true[:1]])
    fit = fit_x_junctions(flat, pts, u[:2], v[:2], 3.0)
    assert not fit.ok[0]  # disc leaves the image
    assert np.isnan(fit.points[0]).all()
    assert not fit.ok[1]  # nothing to fit on a flat image
    assert fit_radius(np.array([5.0, 20.0, 100.0])).tolist() == [2.5, 3.0, 6.0]


def test_compiled_fit_gives_the_numpy_fit_to_rounding(monkeypatch):
    """The compiled loop against the batched numpy fit it replaced (kept in
    tests/subpixel_reference.py), in noise, from a pixel away, with two passes."""
    import calibration.subpixel as subpixel
    from tests import subpixel_reference

    img, true, start, u, v = _scene(noise=6, seed=3)
    radius = fit_radius(np.full(len(start), 30.0))
    fast = fit_x_junctions(img, start, u, v, radius)
    monkeypatch.setattr(subpixel, "_fit", subpixel_reference.fit)
    slow = fit_x_junctions(img, start, u, v, radius)
    assert fast.ok.sum() >= 50 and (fast.ok == slow.ok).all()
    np.testing.assert_allclose(fast.points[fast.ok], slow.points[slow.ok], atol=1e-6)
    np.testing.assert_allclose(fast.params[fast.ok], slow.params[slow.ok], rtol=1e-6, atol=1e-6)
