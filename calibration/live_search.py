"""The calibration wizard's live board search in one camera's frame, and its picture.

Live detection must be quick — the person watches the corners follow the board, and a
still board is captured only after :data:`~calibration.live.STILL_FRAMES` searched
frames — so it does less than a calibration view's :func:`~calibration.detect.detect`:

- frames wider than :data:`LIVE_WIDTH` are searched shrunk;
- each camera tries first the preprocessing that last found the board, then one other
  per frame, in turn (a thermal board may need inversion; trying every variant on
  every frame without a board would cost 80 ms a camera);
- a coded board is looked for by its marker first, the cheap test: only where the
  marker is seen are corners grown from it, and the noise level that sets the corner
  contrast needed (:func:`~calibration.detect.coded_min_contrast`) is estimated once
  every :data:`NOISE_EVERY` searches of a camera and preprocessing, not every frame;
- the detector's own corners are kept, without the sub-pixel fit and checks of a
  calibration view (2-3× faster; the corners are within ~0.2 px, plenty to draw and to
  tell stillness). A captured pose is searched again in full (:mod:`calibration.live`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from calibration.boards import Board
from calibration.coded import detect_coded, find_markers
from calibration.detect import DETECTORS, Detection, coded_min_contrast
from calibration.detector_input import VARIANTS_BY_KIND, noise_sigma, to_gray, variants
from drivers.types import Frame

#: Frames wider than this are searched shrunk to it while live.
LIVE_WIDTH = 640
#: The wizard's small views get images at most this wide (less to draw at 10+ Hz).
SHOWN_WIDTH = 400
#: Searches of one camera and preprocessing between two estimates of its noise: a
#: camera's noise does not change from frame to frame, and estimating it cost about as
#: much as finding the marker (~3 ms a 640×512 frame).
NOISE_EVERY = 15
#: Corner marks in the wizard's views: green where the board is still, amber moving.
STILL_RGB = (0x3E, 0xE0, 0x7A)
MOVING_RGB = (0xFF, 0xB0, 0x20)
#: Radius of a corner mark, shown-image pixels (the views show them about 1:1).
MARK_RADIUS = 2.5
_SHIFT = 2  # cv2 fixed-point bits: marks sit at sub-pixel positions


@dataclass
class LiveCamera:
    """One rig camera as the live search follows it from frame to frame."""

    name: str
    stream: str
    kind: str
    variant: str | None = None  # the preprocessing that last found the board
    turn: int = 0  # which other preprocessing to try next
    #: (frame, detection) of the last searched frames while the board stayed still.
    history: deque = field(default_factory=deque)
    #: preprocessing -> (noise σ, searches left before it is estimated again)
    noise: dict[str, tuple[float, int]] = field(default_factory=dict)

    def noise_of(self, variant: str, image: np.ndarray) -> float:
        sigma, left = self.noise.get(variant, (math.nan, 0))
        if left <= 0:
            sigma, left = noise_sigma(image), NOISE_EVERY
        self.noise[variant] = (sigma, left - 1)
        return sigma


def display_image(array: np.ndarray) -> np.ndarray:
    """A frame as uint8 for display and search: RGB kept, others stretched 1-99 %."""
    if array.ndim == 3:
        return np.ascontiguousarray(array[:, :, :3])
    if array.dtype == np.uint8:
        return array
    sample = array[::4, ::4]
    lo, hi = np.percentile(sample, (1.0, 99.0))
    scale = 255.0 / max(float(hi - lo), 1.0)
    return cv2.convertScaleAbs(array.astype(np.float32) - np.float32(lo), alpha=scale)


def mark_corners(image: np.ndarray, scale: float, det: Detection | None, still: bool) -> np.ndarray:
    """``image`` (uint8 gray or RGB, ``scale`` shown pixels per full-resolution pixel)
    as a new RGB image with the detected corners drawn as filled dots."""
    rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image.copy()
    if det is None or not len(det):
        return rgb
    # Pixel centres: full-resolution pixel x covers [x - 0.5, x + 0.5] (as in _scaled).
    pts = (det.image_points.astype(np.float64) + 0.5) * scale - 0.5
    fixed = np.round(pts * (1 << _SHIFT)).astype(np.int32)
    radius = int(round(MARK_RADIUS * (1 << _SHIFT)))
    colour = STILL_RGB if still else MOVING_RGB
    for x, y in fixed.tolist():
        cv2.circle(rgb, (x, y), radius, colour, -1, cv2.LINE_AA, _SHIFT)
    return rgb


def _find(img: np.ndarray, gray: np.ndarray, board: Board, name: str, camera: LiveCamera | None):
    """The detector's ``(ids, points)`` in one preprocessed image, or None."""
    if board.kind != "coded":
        return DETECTORS[board.kind](img, gray.astype(np.float32), board)
    markers = find_markers(img, board)
    if not markers:  # no marker, no board: nothing more to spend on this image
        return None
    noise = camera.noise_of(name, img) if camera is not None else noise_sigma(img)
    return detect_coded(img, gray.astype(np.float32), board, coded_min_contrast(noise), markers)


def live_detect(
    image: np.ndarray, board: Board, kind: str, variant: str, camera: LiveCamera | None = None
) -> Detection | None:
    """The board in one preprocessing of ``image``, for the live view (see the module's
    docstring); ``camera`` keeps the noise estimates between frames."""
    gray = to_gray(image)
    for name, img in variants(gray, kind, (variant,)):
        raw = _find(img, gray, board, name, camera)
        if raw is None:
            continue
        ids, pts = raw
        return Detection(
            board=board.spec,
            ids=np.asarray(ids, np.int32),
            image_points=np.asarray(pts, np.float32),
            object_points=board.object_points(ids),
            image_size=(gray.shape[1], gray.shape[0]),
            preprocessing=name,
            contrast=math.nan,
            blur=math.nan,
            noise=math.nan,
        )
    return None


def _scaled(det: Detection, scale: float, size: tuple[int, int]) -> Detection:
    """A detection in a shrunk image, in full-resolution pixel coordinates."""
    pts = (det.image_points.astype(np.float64) + 0.5) / scale - 0.5
    return replace(det, image_points=pts.astype(np.float32), image_size=size)


def search_camera(
    cam: LiveCamera, frame: Frame, board: Board
) -> tuple[np.ndarray, float, Detection | None]:
    """One live search of ``cam``'s frame: the image to show (at most
    :data:`SHOWN_WIDTH` wide), its scale (shown pixels per frame pixel) and the board
    in full-resolution coordinates (None if not found). Cameras are independent: the
    wizard may search them in parallel (OpenCV releases the GIL)."""
    image = display_image(frame.array)
    h, w = image.shape[:2]
    scale = min(1.0, LIVE_WIDTH / w)
    if scale < 1.0:
        size = (int(round(w * scale)), int(round(h * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    names = VARIANTS_BY_KIND.get(cam.kind, VARIANTS_BY_KIND["thermal"])
    tries = [cam.variant] if cam.variant else []
    other = names[cam.turn % len(names)]
    cam.turn += 1
    if other not in tries:
        tries.append(other)
    det = None
    for name in tries:
        det = live_detect(image, board, cam.kind, name, cam)
        if det is not None:
            cam.variant = name
            break
    if det is not None and scale < 1.0:
        det = _scaled(det, scale, (w, h))
    shown = min(1.0, SHOWN_WIDTH / w)
    if shown < scale:
        # Only to be seen, ~1.6× smaller: bilinear costs a tenth of INTER_AREA here.
        size = (int(round(w * shown)), int(round(h * shown)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    return image, min(shown, scale), det
