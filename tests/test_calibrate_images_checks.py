"""``calibrate-images`` inputs checked before any work: image headers before decoding,
board numbers within physical ranges (issue 14, case 7)."""

from __future__ import annotations

import re
import struct
import zlib

import cv2
import numpy as np
import pytest

from calibration.boards import BoardSpecError, parse_board
from tests.board_images import pose_views, quad_from_pose, render
from tests.broken_inputs import assert_one_line_error, run_cli

K = np.array([[500.0, 0, 320], [0, 500, 256], [0, 0, 1]])


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` 8-bit grey pixels (data: 100)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(bytes(100)))
        + chunk(b"IEND", b"")
    )


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_a_huge_png_header_is_not_decoded(tmp_path, capsys):
    """Before: cv2.error from OpenCV's size assertion, as a traceback."""
    folder = tmp_path / "views"
    folder.mkdir()
    huge = _write(folder / "huge.png", _png_header(60000, 60000))
    code, _, err = run_cli(capsys, "calibrate-images", folder, "--board", "checker:9x6:25",
                           "--out", tmp_path / "rig.json", "-q")  # fmt: skip
    assert_one_line_error(code, err, "huge.png (over 64 megapixels: larger than any camera frame)")
    assert not (tmp_path / "rig.json").exists()
    from calibration.images import header_problem

    assert header_problem(huge) == "over 64 megapixels: larger than any camera frame"
    assert header_problem(_write(tmp_path / "big.png", _png_header(9000, 8000))) == (
        "9000x8000: larger than any camera frame"
    )


@pytest.mark.parametrize(
    "spec, message",
    [
        ("checker:9x6:1e308", "square size 1e+308 mm is outside 0.5-1000 mm"),
        ("checker:9x6:0.0001", "square size 0.0001 mm is outside"),
        ("checker:9x100000:25", "corner count 9x100000 exceeds 200 a side"),
        ("charuco:8x6:40:1e-9:DICT_5X5_100", "marker size 1e-09 mm is outside"),
    ],
)
def test_board_numbers_outside_physical_ranges_are_refused(tmp_path, capsys, spec, message):
    """Before: ``checker:9x6:1e308`` parsed, and the fit raised from OpenCV."""
    folder = tmp_path / "views"
    folder.mkdir()
    board = parse_board("checker:9x6:25")
    for k, (rvec, tvec) in enumerate(pose_views(6, distance=0.45)):
        img, _ = render(board, quad_from_pose(board, K, rvec, tvec), (640, 512))
        cv2.imwrite(str(folder / f"view_{k}.png"), img)
    code, _, err = run_cli(capsys, "calibrate-images", folder, "--board", spec,
                           "--out", tmp_path / "rig.json", "-q")  # fmt: skip
    assert_one_line_error(code, err, "bad board spec", message)
    with pytest.raises(BoardSpecError, match=re.escape(message)):
        parse_board(spec)
