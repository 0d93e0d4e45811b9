"""Board specs: parsing, the shared corner convention, the registry, one-line errors."""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from calibration.boards import (
    BOARD_TYPES,
    Board,
    BoardSpecError,
    CharucoBoard,
    CheckerBoard,
    CodedBoard,
    parse_board,
    register_board,
)
from drivers.errors import ThermorigError


def test_checker_spec_counts_inner_corners_in_metres():
    b = parse_board("checker:9x6:25")
    assert isinstance(b, CheckerBoard)
    assert (b.cols, b.rows, b.corner_count) == (9, 6, 54)
    assert b.square == pytest.approx(0.025)
    obj = b.object_points(np.arange(54))
    assert obj.shape == (54, 3) and obj.dtype == np.float32
    assert np.all(obj[:, 2] == 0)
    # id = j * cols + i, row by row, square apart
    np.testing.assert_allclose(obj[1] - obj[0], [0.025, 0, 0], atol=1e-7)
    np.testing.assert_allclose(obj[9] - obj[0], [0, 0.025, 0], atol=1e-7)
    np.testing.assert_allclose(obj[53], [8 * 0.025, 5 * 0.025, 0], atol=1e-6)


def test_charuco_spec_counts_squares_and_matches_opencv_corners():
    b = parse_board("charuco:8x6:40:30:DICT_5X5_100")
    assert isinstance(b, CharucoBoard)
    assert (b.cols, b.rows) == (7, 5)  # inner corners
    assert b.marker == pytest.approx(0.030)
    cv_corners = b.opencv_board().getChessboardCorners()
    ours = b.object_points(np.arange(b.corner_count))
    # OpenCV counts from the board's outer edge; ours from the first inner corner.
    np.testing.assert_allclose(cv_corners - cv_corners[0], ours, atol=1e-6)
    assert parse_board("charuco:5x4:30:20:4x4_50").dictionary == "DICT_4X4_50"


def test_coded_board_hides_the_white_area_but_keeps_its_corners():
    b = parse_board("coded:11x9:50.5")
    assert isinstance(b, CodedBoard)
    ids = b.detectable_ids()
    assert len(ids) == 99 - 23
    grid = {tuple(g) for g in b.grid(ids)}
    assert (5, 4) not in grid and (4, 3) not in grid  # centre, inside the white area
    # Of the white area's own corners, those where it replaced a light square remain
    # X-junctions (as on the MRT print); the other two became L-corners.
    assert {(3, 2), (7, 6)} <= grid and not {(7, 2), (3, 6)} & grid
    assert (2, 4) in grid and (0, 0) in grid
    m = b.marker_grid_corners()
    np.testing.assert_allclose(m[0], [3.4, 2.4])
    np.testing.assert_allclose(m[2], [6.6, 5.6])
    assert b.aruco_dictionary().bytesList.shape[0] == 1


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "chess:9x6:25",
        "checker:9:25",
        "checker:9x6",
        "checker:9x6:-3",
        "checker:9x6:abc",
        "checker:1x6:25",
        "charuco:8x6:40:50:DICT_5X5_100",
        "charuco:8x6:40:30:DICT_NOPE",
        "charuco:8x6:40:30",
        "charuco:20x20:40:30:DICT_4X4_50",
        "coded:10x9:50",
        "coded:11x9:50:3",
    ],
)
def test_bad_specs_raise_one_line_errors_naming_the_forms(spec):
    with pytest.raises(BoardSpecError) as info:
        parse_board(spec)
    msg = str(info.value)
    assert isinstance(info.value, ThermorigError)
    assert "\n" not in msg
    assert "checker:COLSxROWS:SQUARE_MM" in msg and "coded:COLSxROWS:SQUARE_MM" in msg


def test_registry_takes_new_board_types_without_touching_the_parser():
    @dataclass(frozen=True)
    class Strip(Board):
        kind: ClassVar[str] = "strip"

        @classmethod
        def parse(cls, spec, fields):
            return cls(spec, int(fields[0]), 2, 0.01)

    register_board(Strip)
    try:
        b = parse_board("strip:7")
        assert isinstance(b, Strip) and b.corner_count == 14
    finally:
        BOARD_TYPES.pop("strip")
    with pytest.raises(BoardSpecError):
        parse_board("strip:7")


def test_grid_and_ids_round_trip_and_edges():
    b = parse_board("checker:9x6:25")
    ids = np.arange(54)
    np.testing.assert_array_equal(b.ids_of(b.grid(ids)), ids)
    edge = b.is_edge(b.grid(ids))
    assert edge.sum() == 54 - 7 * 4
