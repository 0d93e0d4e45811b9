"""Board detection: rendered checker / ChArUco / coded boards (8-bit and 16-bit
"thermal": inverted, low contrast, noisy), rejection of mislabelled views, and the
real coded-target images."""

import cv2
import numpy as np
import pytest

from calibration.boards import parse_board
from calibration.detect import Detection, detect, validate
from tests import real_data
from tests.board_images import board_print, quad, render, thermal

SIZE = (640, 512)
VIEW = quad(320, 256, 420, 300, 25)


def _rms(det: Detection, true: np.ndarray) -> float:
    d = det.image_points - true[det.ids]
    return float(np.sqrt(np.mean(np.sum(d**2, axis=1))))


@pytest.fixture(scope="module")
def checker():
    b = parse_board("checker:9x6:25")
    img, true = render(b, VIEW, SIZE)
    return b, img, true


def test_checker_8bit_all_corners_to_hundredths(checker):
    b, img, true = checker
    det = detect(np.clip(img, 0, 255).astype(np.uint8), b, kind="color")
    assert det is not None and len(det) == 54
    assert _rms(det, true) < 0.03
    assert det.image_size == SIZE
    assert det.object_points.shape == (54, 3)
    # Labelled from the corner nearest the image's top-left, keeping handedness.
    assert det.image_points[0].sum() < det.image_points[-1].sum()
    assert validate(det, b) is None


def test_checker_thermal_16bit_inverted_low_contrast_noisy(checker):
    b, img, true = checker
    frame = thermal(img, invert=True, contrast_ck=300, noise_ck=15)  # 3 K, 0.15 K noise
    assert frame.dtype == np.uint16
    det = detect(frame, b, kind="thermal")
    assert det is not None and len(det) == 54
    assert _rms(det, true) < 0.08
    assert det.snr > 5 and 0.3 < det.blur < 3
    assert det.preprocessing in ("stretch", "clahe", "inverted", "inverted-clahe")


def test_checker_in_a_mirrored_image_is_relabelled_not_mirrored(checker):
    b, img, _ = checker
    det = detect(np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8)[:, ::-1]), b)
    assert det is not None and validate(det, b) is None


@pytest.mark.parametrize("thermal_frame", [False, True])
def test_charuco_ids_and_corners(thermal_frame):
    b = parse_board("charuco:8x6:40:30:DICT_5X5_100")
    img, true = render(b, VIEW, SIZE)
    frame = thermal(img, invert=True) if thermal_frame else np.clip(img, 0, 255).astype(np.uint8)
    det = detect(frame, b)
    assert det is not None and len(det) >= 30
    assert _rms(det, true) < 0.1
    if thermal_frame:  # hot print: markers read only after inversion
        assert det.preprocessing.startswith("inverted")


def test_coded_board_rendered_thermal():
    b = parse_board("coded:11x9:50.5")
    img, true = render(b, quad(300, 250, 380, 290, 20), SIZE)
    det = detect(thermal(img, invert=False, noise_ck=10), b)
    assert det is not None and len(det) >= 70
    assert _rms(det, true) < 0.1
    assert set(det.ids) <= set(b.detectable_ids())


def test_nothing_found_in_noise():
    rng = np.random.default_rng(3)
    frame = (30000 + rng.normal(0, 20, (SIZE[1], SIZE[0]))).astype(np.uint16)
    assert detect(frame, "checker:9x6:25") is None
    assert detect(frame, "coded:11x9:50.5") is None


def _mutated(det: Detection, ids: np.ndarray) -> Detection:
    b = parse_board(det.board)
    return Detection(
        det.board, ids.astype(np.int32), det.image_points, b.object_points(ids),
        det.image_size, det.preprocessing, det.contrast, det.blur, det.noise,
    )  # fmt: skip


def test_mislabelled_views_are_rejected(checker):
    b, img, _ = checker
    det = detect(np.clip(img, 0, 255).astype(np.uint8), b)
    g = b.grid(det.ids)
    mirrored = b.ids_of(np.column_stack([b.cols - 1 - g[:, 0], g[:, 1]]))
    assert "mirrored" in validate(_mutated(det, mirrored), b)
    swapped = det.ids.copy()
    swapped[[20, 21]] = swapped[[21, 20]]  # two neighbours exchanged
    assert validate(_mutated(det, swapped), b) is not None
    shifted = det.ids.copy()
    row = g[:, 1] == 3
    shifted[row] = b.ids_of(np.column_stack([(g[row, 0] + 1) % b.cols, g[row, 1]]))
    assert validate(_mutated(det, shifted), b) is not None  # one row off by a corner
    few = _mutated(det, det.ids)
    few.ids, few.image_points = det.ids[:4], det.image_points[:4]
    assert "corners" in validate(few, b)


def test_rendered_print_geometry_matches_board_convention():
    b = parse_board("coded:11x9:50.5")
    pattern, corners = board_print(b)
    det = detect(pattern, b, kind="color")
    assert det is not None and len(det) == len(b.detectable_ids())
    np.testing.assert_allclose(det.image_points, corners[det.ids], atol=0.05)


# --- the real coded target ---------------------------------------------------------


def test_real_target_print_found_whole_at_its_printed_positions():
    folder = real_data.require()
    image = cv2.imread(str(folder / "target_60x45cm_11x9_aruco3x3.png"), cv2.IMREAD_UNCHANGED)
    det = detect(cv2.cvtColor(image, cv2.COLOR_BGRA2RGB), real_data.MRT_BOARD, kind="color")
    b = parse_board(real_data.MRT_BOARD)
    assert det is not None and len(det) == len(b.detectable_ids()) == 76
    # Corner (i, j) of the print sits at (100 + 100 i, 50 + 100 j), pixel edges.
    g = b.grid(det.ids)
    expect = np.column_stack([100 + 100 * g[:, 0], 50 + 100 * g[:, 1]]) - 0.5
    np.testing.assert_allclose(det.image_points, expect, atol=0.1)


def test_plain_chessboard_detection_finds_the_coded_target_nowhere():
    paths = real_data.mrt_images()
    assert len(paths) == 48
    for p in paths:
        gray = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        for size in ((11, 9), (7, 7)):
            found, _ = cv2.findChessboardCornersSB(gray, size, flags=cv2.CALIB_CB_NORMALIZE_IMAGE)
            assert not found, f"{p.name} {size}"


def test_coded_detector_finds_the_real_target_in_at_least_47_of_48():
    paths, dets = real_data.mrt_detections()
    found = [d for d in dets if d is not None]
    assert len(found) >= 47
    b = parse_board(real_data.MRT_BOARD)
    for d in found:
        assert validate(d, b) is None
        assert d.image_size == (382, 288)
    # Partial views count: many views miss corners cut off by the image border.
    counts = np.array([len(d) for d in found])
    assert counts.min() >= 20 and np.median(counts) >= 55
    assert (counts < 76).sum() > 10
