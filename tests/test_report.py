"""The calibration report: text figures and a PNG with error bars and coverage."""

import cv2
import numpy as np

from calibration.intrinsics import calibrate_intrinsics
from calibration.report import render_report, summary_text, write_report
from tests.test_intrinsics import _views


def test_report_text_and_png(tmp_path):
    dets = _views(count=8)
    dets[2].image_points = dets[2].image_points + np.float32(
        np.random.default_rng(1).normal(0, 2, (54, 2))
    )
    dets[2].source = "frame_002.png"
    res = calibrate_intrinsics(dets)
    text = summary_text("thermal", res, dets, "checker:9x6:25", images_total=10)
    assert "board found in 8 of 10 images" in text
    assert f"RMS reprojection error {res.rms:.3f} px" in text
    assert "rejected view 2 frame_002.png" in text
    for name in ("x", "y", "size", "skew"):
        assert f"  {name}" in text
    img = render_report("thermal", res, dets, "checker:9x6:25")
    assert img.ndim == 3 and img.shape[1] == 900
    # rejected view drawn red somewhere in the error bars
    red = (img[:, :, 2] > 180) & (img[:, :, 1] < 80) & (img[:, :, 0] < 80)
    assert red[30:270].any()
    paths = write_report(tmp_path / "rep", "thermal", res, dets, "checker:9x6:25")
    assert [p.name for p in paths] == ["thermal_calibration.txt", "thermal_calibration.png"]
    assert cv2.imread(str(paths[1])).shape == img.shape
