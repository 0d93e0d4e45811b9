"""Knobs of the synthetic rig, with defaults that mimic a real lab setup.

Everything a person might want to vary in a simulated session (rates, clock offsets,
cadence, running speed, skin warming, image sizes) lives here so that a scene, a
driver and a benchmark built from the same config render the same pixels.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from drivers.errors import SourceError

#: Scenes the synthetic source knows, in the order the help text lists them.
SCENES = ("cycling", "treadmill", "calibration")

#: Stream order: also the tie-break when frames of several streams share an instant.
STREAM_ORDER = ("thermal", "depth", "color")
#: Streams that are images of another stream's camera: the ToF camera's IR (amplitude)
#: image comes from the depth camera's sensor, same pixels, same exposure.
SAME_CAMERA = {"ir": "depth"}


def camera_of(stream: str) -> str:
    """The rig camera that delivers ``stream`` (``ir`` comes from the depth camera)."""
    return SAME_CAMERA.get(stream, stream)


#: Board types the synthetic rig can print. ``coded`` and ``charuco`` fix the board's
#: orientation (a plain checkerboard's labelling can turn 180° between cameras).
BOARD_FORMS = (
    "checker:COLSxROWS:SQUARE_MM, coded:COLSxROWS:SQUARE_MM (odd corner counts >= 7) "
    "or charuco:SQUARESXxSQUARESY:SQUARE_MM:MARKER_MM:DICT"
)
_NUM = r"(\d+(?:\.\d+)?)"
_GRID_RE = re.compile(rf"^(checker|coded):(\d+)x(\d+):{_NUM}$")
_CHARUCO_RE = re.compile(rf"^charuco:(\d+)x(\d+):{_NUM}:{_NUM}:(?:dict_)?(\w+)$")


def _mm(metres: float) -> str:
    mm = metres * 1000.0
    return f"{mm:.0f}" if abs(mm - round(mm)) < 1e-9 else f"{mm:g}"


@dataclass(frozen=True)
class BoardSpec:
    """A planar calibration board: ``cols`` x ``rows`` *inner* corners, squares of
    ``square`` m; corner (i, j) sits at (i, j) * square on the board, the square
    down-right of corner (0, 0) is dark.

    ``kind`` is ``checker`` (plain), ``coded`` (one ArUco marker at the centre, the MRT
    thermal target) or ``charuco`` (markers in the light squares; ``marker`` metres,
    ``dictionary`` an OpenCV ArUco dictionary name). The geometry is the one
    ``calibration.boards`` reads from the same spec string.
    """

    cols: int
    rows: int
    square: float
    kind: str = "checker"
    marker: float = 0.0
    dictionary: str = ""

    @property
    def spec(self) -> str:
        if self.kind == "charuco":
            return (
                f"charuco:{self.cols + 1}x{self.rows + 1}:{_mm(self.square)}:"
                f"{_mm(self.marker)}:{self.dictionary}"
            )
        return f"{self.kind}:{self.cols}x{self.rows}:{_mm(self.square)}"


def _board_error(spec: str, why: str = "") -> SourceError:
    detail = f" ({why})" if why else ""
    return SourceError(
        f"bad board spec '{spec}'{detail}; expected {BOARD_FORMS}, e.g. coded:11x9:40"
    )


def parse_board(spec: str) -> BoardSpec:
    """A board spec string (see :data:`BOARD_FORMS`) to a :class:`BoardSpec`."""
    text = str(spec).strip().lower()
    m = _GRID_RE.match(text)
    if m:
        kind, cols, rows, mm = m.group(1), int(m.group(2)), int(m.group(3)), float(m.group(4))
        if cols < 2 or rows < 2 or not 5.0 <= mm <= 200.0:
            raise _board_error(spec, "need at least 2x2 inner corners and squares of 5-200 mm")
        if kind == "coded" and (cols % 2 == 0 or rows % 2 == 0 or min(cols, rows) < 7):
            raise _board_error(spec, "a coded board has odd corner counts of at least 7x7")
        return BoardSpec(cols, rows, mm / 1000.0, kind)
    m = _CHARUCO_RE.match(text)
    if m:
        sx, sy = int(m.group(1)), int(m.group(2))
        mm, marker_mm = float(m.group(3)), float(m.group(4))
        name = "DICT_" + m.group(5).upper()
        if min(sx, sy) < 3 or not 5.0 <= mm <= 200.0 or not 0 < marker_mm < mm:
            raise _board_error(spec, "need at least 3x3 squares and markers smaller than squares")
        import cv2

        if not isinstance(getattr(cv2.aruco, name, None), int):
            raise _board_error(spec, f"unknown ArUco dictionary {name}")
        return BoardSpec(sx - 1, sy - 1, mm / 1000.0, "charuco", marker_mm / 1000.0, name)
    raise _board_error(spec)


@dataclass(frozen=True)
class SyntheticConfig:
    """How the synthetic rig behaves. Times in seconds unless the name says otherwise.

    Free-running cameras expose on their own grids: ``*_offset_ms`` shifts a stream's
    grid against the depth camera's and ``jitter_ms`` adds a small non-negative delay
    per exposure (trigger latency), so streams never share an instant exactly — as on a
    real rig without hardware sync.
    """

    thermal_fps: float = 30.0
    depth_fps: float = 30.0
    color_fps: float = 30.0
    thermal_offset_ms: float = 12.0
    depth_offset_ms: float = 0.0
    color_offset_ms: float = 4.0
    jitter_ms: float = 1.0
    #: Error of a camera's *host* timestamps (``simulate --clock-error``): frames carry
    #: their exposure instant plus this; what they show stays at the exposure.
    thermal_clock_error_ms: float = 0.0
    depth_clock_error_ms: float = 0.0
    color_clock_error_ms: float = 0.0
    #: Crank revolutions per minute (cycling).
    cadence_rpm: float = 70.0
    #: Belt speed (treadmill) and steps per minute; stride length follows from both.
    speed_kmh: float = 10.0
    step_rate_spm: float = 166.0
    #: Initial rate of skin warming; warming saturates at ``warming_max_c``.
    warming_c_per_min: float = 0.3
    warming_max_c: float = 2.0
    #: A varied subject: the subject seed (the same seed, the same person in every
    #: session; ``drivers.synthetic.subjects``), whose cadence, speed and step rate
    #: replace the three above, with a setup (rig placement, room) drawn from the
    #: session seed. -1: the reference mannequin in the reference setup.
    subject: int = -1
    #: Periodic motion is rendered at this many phases per cycle and looped.
    phases_per_cycle: int = 120
    thermal_size: tuple[int, int] = (640, 512)
    depth_size: tuple[int, int] = (640, 480)
    color_size: tuple[int, int] = (1280, 720)
    #: Calibration target (calibration scene; also recorded as the truth's board). The
    #: coded target's marker fixes the board's orientation in every camera, which a
    #: stereo calibration needs; ``checker:9x6:40`` and ``charuco:...`` work too.
    board: str = "coded:11x9:40"
    #: Seconds the board is held still at each pose, and seconds to move between poses.
    board_hold_s: float = 1.5
    board_move_s: float = 0.8
    #: In-plane roll (degrees) added to every other board pose (the odd-numbered ones),
    #: as a person turns the board to cover the view; on a 180°-symmetric checkerboard
    #: this is what makes cameras number its corners differently (``simulate-stills``).
    board_roll_deg: float = 0.0
    #: The depth camera's IR (amplitude) stream: ``auto`` renders it in the calibration
    #: scene only (it is what the depth camera is calibrated from), ``on``/``off`` force it.
    ir_stream: str = "auto"
    #: Cap on memory for cached phase renders (shared by all synthetic drivers).
    cache_mb: int = 1024
    #: Realtime mode: frames later than this are skipped, as a camera drops them.
    max_lag_s: float = 0.1
    #: Realtime mode: render the whole cycle in a background thread from open() on
    #: (worth it when a source is opened a while before frames are read; while frames
    #: are read too it competes with them for the interpreter).
    prewarm: bool = False

    def __post_init__(self) -> None:
        for name in ("thermal_fps", "depth_fps", "color_fps"):
            v = getattr(self, name)
            if not 0.5 <= v <= 240.0:
                raise SourceError(f"{name}={v} is out of range; use 0.5-240 frames per second")
        for name in ("thermal_size", "depth_size", "color_size"):
            w, h = getattr(self, name)
            if not (16 <= int(w) <= 4096 and 16 <= int(h) <= 4096):
                raise SourceError(f"{name}={(w, h)} is out of range; use (WIDTH, HEIGHT) 16-4096")
        if not 10.0 <= self.cadence_rpm <= 200.0:
            raise SourceError(f"cadence_rpm={self.cadence_rpm} is out of range; use 10-200")
        if not 1.0 <= self.speed_kmh <= 25.0:
            raise SourceError(f"speed_kmh={self.speed_kmh} is out of range; use 1-25")
        if not 60.0 <= self.step_rate_spm <= 240.0:
            raise SourceError(f"step_rate_spm={self.step_rate_spm} is out of range; use 60-240")
        if not -1 <= int(self.subject) < 10**9:
            raise SourceError(f"subject={self.subject}; use a subject seed 0-999999999 (-1: none)")
        if not 8 <= int(self.phases_per_cycle) <= 1024:
            raise SourceError(f"phases_per_cycle={self.phases_per_cycle}; use 8-1024")
        for name in ("thermal", "depth", "color"):
            v = getattr(self, f"{name}_clock_error_ms")
            if not -1000.0 <= v <= 1000.0:
                raise SourceError(f"{name}_clock_error_ms={v} is out of range; use -1000-1000")
        if self.jitter_ms < 0 or self.jitter_ms > 5:
            raise SourceError(f"jitter_ms={self.jitter_ms} is out of range; use 0-5")
        if self.board_hold_s <= 0 or self.board_move_s <= 0:
            raise SourceError("board_hold_s and board_move_s must be positive")
        parse_board(self.board)
        if self.ir_stream not in ("auto", "on", "off"):
            raise SourceError(f"ir_stream={self.ir_stream!r}; use auto, on or off")

    @property
    def board_spec(self) -> BoardSpec:
        return parse_board(self.board)

    def streams(self, scene: str) -> tuple[str, ...]:
        """The streams a scene delivers: the three cameras, plus ``ir`` where enabled."""
        ir = self.ir_stream == "on" or (self.ir_stream == "auto" and scene == "calibration")
        return ("thermal", "depth", "ir", "color") if ir else STREAM_ORDER

    def fps(self, stream: str) -> float:
        return float(getattr(self, f"{camera_of(stream)}_fps"))

    def offset_s(self, stream: str) -> float:
        return float(getattr(self, f"{camera_of(stream)}_offset_ms")) / 1000.0

    def clock_error_s(self, stream: str) -> float:
        """How late ``stream``'s host timestamps are against its exposures (seconds)."""
        return float(getattr(self, f"{camera_of(stream)}_clock_error_ms")) / 1000.0

    def size(self, stream: str) -> tuple[int, int]:
        w, h = getattr(self, f"{camera_of(stream)}_size")
        return int(w), int(h)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> SyntheticConfig:
        """A config from keyword options; unknown names are an error, not ignored."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise SourceError(
                f"unknown synthetic option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        defaults = {f.name: f.default for f in fields(cls)}
        clean: dict[str, Any] = {}
        for key, value in options.items():
            default = defaults[key]
            try:
                if key.endswith("_size"):
                    if isinstance(value, str):
                        value = value.lower().replace("x", ",").split(",")
                    w, h = value
                    value = (int(w), int(h))
                elif isinstance(default, bool):
                    if isinstance(value, str):
                        if value.strip().lower() not in (
                            "1",
                            "0",
                            "true",
                            "false",
                            "yes",
                            "no",
                            "on",
                            "off",
                        ):
                            raise ValueError(value)
                        value = value.strip().lower() in ("1", "true", "yes", "on")
                    value = bool(value)
                elif isinstance(default, (int, float)):
                    value = type(default)(value)
            except (TypeError, ValueError):
                raise SourceError(f"bad value for synthetic option {key}: {value!r}") from None
            clean[key] = value
        try:
            return cls(**clean)
        except TypeError as exc:
            raise SourceError(f"bad synthetic option: {exc}") from None
