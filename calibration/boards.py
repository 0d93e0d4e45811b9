"""Calibration boards from spec strings, shared by the command line and the GUI.

A spec names the board's type, then its geometry, separated by colons:

- ``checker:COLSxROWS:SQUARE_MM`` — a plain checkerboard, counted in inner corners;
- ``charuco:SQUARESXxSQUARESY:SQUARE_MM:MARKER_MM:DICT`` — a ChArUco board, counted in
  squares (``charuco:8x6:40:30:DICT_5X5_100``);
- ``coded:COLSxROWS:SQUARE_MM`` — a checkerboard whose centre is replaced by a single
  ArUco marker (the MRT coded target for infrared cameras: 11×9 corners, a 3×3-bit
  marker 3.2 squares wide on a white area that hides 4×4 squares).

Every board numbers its inner corners row by row (``id = j * cols + i``) and places
corner ``(i, j)`` at ``(i * square, j * square, 0)`` metres: one convention for all
types, so that detections of different boards and cameras combine without
translation tables. Board ``x`` runs along a printed row, ``y`` down the columns, so
a board seen from its printed side keeps the image's handedness (the detectors rely
on this to reject mirrored views).

Board types live in a small registry (:data:`BOARD_TYPES`): a new type is a class with
a ``kind`` and a ``parse`` classmethod, registered with :func:`register_board`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from drivers.errors import ThermorigError

BOARD_FORMS = (
    "checker:COLSxROWS:SQUARE_MM (inner corners), "
    "charuco:SQUARESXxSQUARESY:SQUARE_MM:MARKER_MM:DICT, "
    "coded:COLSxROWS:SQUARE_MM"
)


class BoardSpecError(ThermorigError):
    """A board spec that does not parse or describes an impossible board."""


def _spec_error(spec: str, why: str) -> BoardSpecError:
    return BoardSpecError(
        f"bad board spec '{spec}': {why}; expected {BOARD_FORMS}, e.g. checker:9x6:25"
    )


#: Physical limits of a board a camera can calibrate from. Squares: from a fine print
#: for a close-up lens (0.5 mm) to a 1 m tile; more than 200 corners a side would be
#: smaller than a pixel in any camera of the rig (and OpenCV's grids get slow).
SQUARE_MM_RANGE = (0.5, 1000.0)
MAX_CORNERS_PER_SIDE = 200


def _parse_size(spec: str, text: str, what: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match:
        raise _spec_error(spec, f"{what} '{text}' is not of the form AxB")
    a, b = int(match.group(1)), int(match.group(2))
    if max(a, b) > MAX_CORNERS_PER_SIDE:
        raise _spec_error(spec, f"{what} {a}x{b} exceeds {MAX_CORNERS_PER_SIDE} a side")
    return a, b


def _parse_mm(spec: str, text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _spec_error(spec, f"{what} '{text}' is not a number of millimetres") from None
    if not np.isfinite(value) or value <= 0:
        raise _spec_error(spec, f"{what} must be a positive number of millimetres")
    lo, hi = SQUARE_MM_RANGE
    if not lo <= value <= hi:
        raise _spec_error(spec, f"{what} {value:g} mm is outside {lo:g}-{hi:g} mm")
    return value


@dataclass(frozen=True)
class Board:
    """A planar grid of ``cols × rows`` inner corners, ``square`` metres apart."""

    spec: str
    cols: int
    rows: int
    square: float

    kind: ClassVar[str] = ""

    @classmethod
    def parse(cls, spec: str, fields: list[str]) -> Board:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def corner_count(self) -> int:
        return self.cols * self.rows

    def grid(self, ids: np.ndarray) -> np.ndarray:
        """Corner ids → ``(N, 2)`` integer grid coordinates ``(i, j)``."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        return np.stack([ids % self.cols, ids // self.cols], axis=1)

    def ids_of(self, grid: np.ndarray) -> np.ndarray:
        """Grid coordinates ``(N, 2)`` → corner ids."""
        grid = np.asarray(grid, dtype=np.int64).reshape(-1, 2)
        return (grid[:, 1] * self.cols + grid[:, 0]).astype(np.int32)

    def object_points(self, ids: np.ndarray) -> np.ndarray:
        """``(N, 3)`` float32 board-frame coordinates in metres (z = 0)."""
        g = self.grid(ids).astype(np.float64) * self.square
        return np.column_stack([g, np.zeros(len(g))]).astype(np.float32)

    def detectable_ids(self) -> np.ndarray:
        """Ids of corners a detector can see (a coded board hides some)."""
        return np.arange(self.corner_count, dtype=np.int32)

    def min_corners(self) -> int:
        """Fewest corners a detection needs to pin down a pose and be checked."""
        return 6

    def is_edge(self, grid: np.ndarray) -> np.ndarray:
        """Corners on the outermost rows/columns (their far side is the board's rim)."""
        g = np.asarray(grid).reshape(-1, 2)
        return (
            (g[:, 0] == 0)
            | (g[:, 0] == self.cols - 1)
            | (g[:, 1] == 0)
            | (g[:, 1] == self.rows - 1)
        )


@dataclass(frozen=True)
class CheckerBoard(Board):
    """A plain checkerboard (``checker:COLSxROWS:SQUARE_MM``)."""

    kind: ClassVar[str] = "checker"

    @classmethod
    def parse(cls, spec: str, fields: list[str]) -> CheckerBoard:
        if len(fields) != 2:
            raise _spec_error(spec, "checker takes COLSxROWS:SQUARE_MM")
        cols, rows = _parse_size(spec, fields[0], "corner count")
        if min(cols, rows) < 2:
            raise _spec_error(spec, "a checkerboard needs at least 2x2 inner corners")
        return cls(spec, cols, rows, _parse_mm(spec, fields[1], "square size") / 1000.0)


@dataclass(frozen=True)
class CharucoBoard(Board):
    """A ChArUco board (``charuco:SQUARESXxSQUARESY:SQUARE_MM:MARKER_MM:DICT``).

    ``cols``/``rows`` are inner corners (squares − 1), like every other board.
    """

    marker: float = 0.0
    dictionary: str = "DICT_5X5_100"

    kind: ClassVar[str] = "charuco"

    @classmethod
    def parse(cls, spec: str, fields: list[str]) -> CharucoBoard:
        if len(fields) != 4:
            raise _spec_error(spec, "charuco takes SQUARESXxSQUARESY:SQUARE_MM:MARKER_MM:DICT")
        sx, sy = _parse_size(spec, fields[0], "square count")
        if min(sx, sy) < 3:
            raise _spec_error(spec, "a ChArUco board needs at least 3x3 squares")
        square = _parse_mm(spec, fields[1], "square size")
        marker = _parse_mm(spec, fields[2], "marker size")
        if marker >= square:
            raise _spec_error(spec, "the marker must be smaller than the square")
        name = fields[3].strip().upper()
        if not name.startswith("DICT_"):
            name = "DICT_" + name
        import cv2

        if not isinstance(getattr(cv2.aruco, name, None), int):
            raise _spec_error(spec, f"unknown ArUco dictionary '{fields[3]}' (try DICT_5X5_100)")
        if cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, name)).bytesList.shape[0] < (
            sx * sy // 2
        ):
            raise _spec_error(spec, f"{name} has too few markers for {sx}x{sy} squares")
        return cls(spec, sx - 1, sy - 1, square / 1000.0, marker / 1000.0, name)

    def opencv_board(self):  # -> cv2.aruco.CharucoBoard
        """The matching OpenCV board (for detection and for printing a test image)."""
        import cv2

        dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        return cv2.aruco.CharucoBoard(
            (self.cols + 1, self.rows + 1), self.square, self.marker, dictionary
        )


@dataclass(frozen=True)
class CodedBoard(Board):
    """A checkerboard with one ArUco marker at its centre (``coded:COLSxROWS:SQUARE_MM``).

    Geometry as printed in the MRT target (Schramm et al. 2021): the marker's centre is
    the grid's centre corner, the marker is ``marker_squares`` squares wide on a white
    area of ``hidden_squares`` × ``hidden_squares`` squares, and the square down-right
    of corner (0, 0) is dark. Corners inside the white area are not corners any more,
    nor are two of its own four corners (where the white area replaced a dark square).
    """

    marker_squares: float = 3.2
    hidden_squares: int = 4
    marker_id: int = 0
    _hidden: frozenset = field(default=frozenset(), compare=False, repr=False)

    kind: ClassVar[str] = "coded"

    @classmethod
    def parse(cls, spec: str, fields: list[str]) -> CodedBoard:
        if len(fields) != 2:
            raise _spec_error(spec, "coded takes COLSxROWS:SQUARE_MM")
        cols, rows = _parse_size(spec, fields[0], "corner count")
        if cols % 2 == 0 or rows % 2 == 0 or min(cols, rows) < 7:
            raise _spec_error(spec, "a coded board has odd corner counts of at least 7x7")
        return cls(spec, cols, rows, _parse_mm(spec, fields[1], "square size") / 1000.0)

    def __post_init__(self) -> None:
        # A corner is a corner only where its four squares still alternate dark and
        # light: the white area turns some dark squares light, which hides the corners
        # around them — including two of the white area's own four corners.
        ci, cj, half = self.cols // 2, self.rows // 2, self.hidden_squares // 2

        def light(a: int, b: int) -> bool:  # square whose top-left corner is (a, b)
            white = ci - half <= a < ci + half and cj - half <= b < cj + half
            return white or (a + b) % 2 == 1

        hidden = set()
        for i in range(self.cols):
            for j in range(self.rows):
                ul, ur, dl, dr = light(i - 1, j - 1), light(i, j - 1), light(i - 1, j), light(i, j)
                if not (ul == dr and ur == dl and ul != ur):
                    hidden.add((i, j))
        object.__setattr__(self, "_hidden", frozenset(hidden))

    @property
    def centre(self) -> tuple[int, int]:
        return self.cols // 2, self.rows // 2

    def is_hidden(self, i: int, j: int) -> bool:
        return (i, j) in self._hidden

    def detectable_ids(self) -> np.ndarray:
        g = self.grid(np.arange(self.corner_count))
        keep = [not self.is_hidden(int(i), int(j)) for i, j in g]
        return np.arange(self.corner_count, dtype=np.int32)[np.asarray(keep)]

    def marker_grid_corners(self) -> np.ndarray:
        """The marker's corners in grid units, in ArUco order (TL, TR, BR, BL)."""
        ci, cj = self.centre
        h = self.marker_squares / 2.0
        return np.array(
            [[ci - h, cj - h], [ci + h, cj - h], [ci + h, cj + h], [ci - h, cj + h]],
            dtype=np.float64,
        )

    def dark_down_right(self, grid: np.ndarray) -> np.ndarray:
        """Whether the square down-right of each corner is dark (as printed)."""
        g = np.asarray(grid).reshape(-1, 2)
        return (g[:, 0] + g[:, 1]) % 2 == 0

    def aruco_dictionary(self):  # -> cv2.aruco.Dictionary
        """The target's one-marker 3×3-bit dictionary (``extendDictionary(1, 3)``)."""
        import cv2

        return cv2.aruco.extendDictionary(1, 3)


#: Board kind → class; see :func:`register_board`.
BOARD_TYPES: dict[str, type[Board]] = {}


def register_board(cls: type[Board]) -> type[Board]:
    """Add a board type to the registry (usable as a class decorator)."""
    BOARD_TYPES[cls.kind] = cls
    return cls


for _cls in (CheckerBoard, CharucoBoard, CodedBoard):
    register_board(_cls)


def parse_board(spec: str) -> Board:
    """A spec string → its :class:`Board`; :class:`BoardSpecError` if it does not parse."""
    if not isinstance(spec, str) or not spec.strip():
        raise _spec_error(str(spec), "it is empty")
    kind, *fields = spec.strip().split(":")
    cls = BOARD_TYPES.get(kind.strip().lower())
    if cls is None:
        raise _spec_error(spec, f"unknown board type '{kind}'")
    return cls.parse(spec.strip(), fields)
