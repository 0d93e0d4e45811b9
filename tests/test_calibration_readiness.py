"""When the calibration wizard offers the fit (poses and coverage), the verdict on a
fit, and the intrinsics line per camera (no Qt)."""

import math

import numpy as np

from calibration.readiness import (
    ACCEPTABLE_PX,
    GOOD_PX,
    READY_COVERAGE,
    READY_POSES,
    intrinsics_lines,
    readiness,
    verdict,
)
from calibration.rig import Camera, Rig

CAMERAS = ("depth", "thermal", "color")
FULL = {"x": 0.8, "y": 0.8, "size": 0.5, "skew": 0.9}


def test_two_poses_with_a_fifth_of_the_size_bar_are_not_ready_and_the_line_says_why():
    # What the issue saw: Calibrate offered after 2 poses, Size 20-38 %.
    progress = dict.fromkeys(CAMERAS, {"x": 0.3, "y": 0.4, "size": 0.2, "skew": 0.05})
    r = readiness(progress, dict.fromkeys(CAMERAS, 2), CAMERAS)
    assert not r.ready
    assert r.text.startswith("not ready: depth: 2 of 8 poses, X 30 % of 35 %")
    assert "Skew 5 % of 40 % (tilt the board)" in r.text and "Y 40" not in r.text


def test_ready_once_every_camera_has_the_poses_and_the_bars():
    views = dict.fromkeys(CAMERAS, READY_POSES)
    assert readiness(dict.fromkeys(CAMERAS, FULL), views, CAMERAS).ready
    assert readiness(dict.fromkeys(CAMERAS, FULL), views, CAMERAS).text == "ready to calibrate"
    one_short = {**views, "thermal": READY_POSES - 1}
    r = readiness(dict.fromkeys(CAMERAS, FULL), one_short, CAMERAS)
    assert not r.ready and r.missing == [f"thermal: {READY_POSES - 1} of {READY_POSES} poses"]
    for bar, need in READY_COVERAGE.items():
        progress = {**dict.fromkeys(CAMERAS, FULL), "color": {**FULL, bar: need - 0.01}}
        assert not readiness(progress, views, CAMERAS).ready, bar
        progress["color"][bar] = need
        assert readiness(progress, views, CAMERAS).ready, bar
    assert not readiness({}, {}, CAMERAS).ready, "a camera with nothing yet is not ready"


def test_size_only_hints():
    views = dict.fromkeys(CAMERAS, READY_POSES)
    progress = {**dict.fromkeys(CAMERAS, FULL), "depth": {**FULL, "size": 0.16}}
    r = readiness(progress, views, CAMERAS)
    assert r.ready and r.text == (
        "ready to calibrate · views nearer and further would help (Size: depth 16 %)"
    )


def _quality(thermal_rms, thermal_heldout, pair_rms):
    return {
        "intrinsics": {
            "depth": {"rms": 0.11, "heldout_rms": 0.13},
            "thermal": {"rms": thermal_rms, "heldout_rms": thermal_heldout},
        },
        "pairs": {"depth-thermal": {"rms": pair_rms, "heldout_rms": None}},
    }


def test_the_verdict_is_the_worst_camera_or_pair_held_out_error_first():
    v = verdict(_quality(0.2, 0.3, 0.25))
    assert (v.level, v.worst, v.worst_px) == ("good", "thermal", 0.3)
    assert v.text == (
        f"good: worst RMS error 0.30 px (thermal); good under {GOOD_PX} px, "
        f"acceptable under {ACCEPTABLE_PX} px"
    )
    v = verdict(_quality(0.2, 0.7, 0.25))  # the held-out error counts, not the training one
    assert (v.level, v.worst) == ("acceptable", "thermal")
    v = verdict(_quality(0.2, None, 1.4))
    assert (v.level, v.worst, v.worst_px) == ("poor", "depth-thermal", 1.4)
    assert verdict({}).level == "poor" and math.isnan(verdict({}).worst_px)


def test_intrinsics_lines_show_focal_lengths_principal_point_and_distortion():
    K = np.array([[512.3, 0, 320.4], [0, 511.9, 256.2], [0, 0, 1]])
    cam = Camera(width=640, height=512, K=K, dist=np.array([-0.12, 0.034, 0.0, 0.001, 0.0]))
    (line,) = intrinsics_lines(Rig(cameras={"thermal": cam}))
    assert line == (
        "thermal 640×512: fx 512.3 fy 511.9 cx 320.4 cy 256.2 px · "
        "distortion (k1 k2 p1 p2 k3) -0.120 +0.034 +0.000 +0.001 +0.000"
    )
