"""One camera's intrinsics from a folder of board images (``thermorig calibrate-images``).

Images are PNG, JPEG or TIFF, 8 or 16 bit; a thermal camera's colour-mapped 8-bit
stills are read back to intensity through their colour map. The board is found in each (thermal-aware,
:func:`calibration.detect.detect`), the camera model fitted with outlier views dropped
and checked on held-out views (:func:`calibration.intrinsics.calibrate_intrinsics`). A
folder may hold images of another size (a print file, another camera mode): the size
most views share is calibrated and the others are named, not silently mixed in.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from calibration.boards import Board
from calibration.detect import Detection, detect
from calibration.intrinsics import IntrinsicsResult, calibrate_intrinsics
from calibration.rig import Rig
from drivers.colormaps import invert_colormap
from drivers.errors import ThermorigError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")

#: Largest image decoded (pixels): any camera of a rig (thermal ≤ 1.3 MP, RGB 4K 8 MP,
#: a 45 MP still camera) fits; a file claiming more (a print file, a forged header of
#: 60000×60000) would take gigabytes to decode, so only its header is read.
MAX_IMAGE_PIXELS = 64_000_000


class CalibrateImagesError(ThermorigError):
    """A folder, image set or output path that cannot be calibrated from or written."""


@dataclass
class FolderCalibration:
    """What calibrating a folder gave: the fit, its views, and what was left out."""

    camera: str
    result: IntrinsicsResult
    detections: list[Detection]
    images: int
    #: Views of another image size than the calibrated one (file names).
    other_size: list[str] = field(default_factory=list)
    #: Files OpenCV could not read.
    unreadable: list[str] = field(default_factory=list)

    @property
    def quality(self) -> dict:
        found = len(self.detections) + len(self.other_size)
        return self.result.quality() | {"images": self.images, "board_found": found}

    def to_rig(self, board: Board) -> Rig:
        """A one-camera rig of this camera (its reference)."""
        return Rig(
            cameras={self.camera: self.result.to_camera()},
            reference=self.camera,
            board=board.spec,
            quality={"intrinsics": {self.camera: self.quality}},
        )


def board_images(folder: Path) -> list[Path]:
    """The image files of ``folder`` in name order; a one-line error if there are none."""
    if not folder.is_dir():
        raise CalibrateImagesError(f"folder not found: {folder}; give a folder of board images")
    files = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    if not files:
        raise CalibrateImagesError(
            f"no images in {folder} (looked for {', '.join(IMAGE_SUFFIXES)}); "
            "point DIR at the folder that holds the board images"
        )
    return files


def header_problem(path: Path) -> str | None:
    """Why ``path`` is not decoded (too large, not an image), from its header alone
    (Pillow reads headers lazily), or None."""
    try:
        with warnings.catch_warnings():  # Pillow warns above 89 MP; the limit here is lower
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
    except Image.DecompressionBombError:  # Pillow's own, higher limit: no size given
        return f"over {MAX_IMAGE_PIXELS // 1_000_000} megapixels: larger than any camera frame"
    except (OSError, ValueError, SyntaxError):  # Pillow's "cannot identify" and friends
        return "not an image"
    if w * h > MAX_IMAGE_PIXELS:
        return f"{w}x{h}: larger than any camera frame"
    return None


def read_board_image(path: Path, kind: str) -> tuple[np.ndarray | None, str | None]:
    """An image as the detector reads it, or (None, why not).

    Colour images come back RGB. A thermal still saved in colour by a vendor's tool
    (iron, rainbow, inferno ...) comes back as its intensity, read along the colour
    map that fits it (:func:`drivers.colormaps.invert_colormap`): a grey conversion
    would not be monotonic in temperature. A colour image that fits no map is refused.
    """
    problem = header_problem(path)
    image = None if problem else cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        return None, problem
    if image.ndim == 3:  # OpenCV reads BGR(A); the detector expects RGB
        image = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2RGB)
        grey = (image[:, :, 0] == image[:, :, 1]).all() and (image[:, :, 1] == image[:, :, 2]).all()
        if kind == "thermal" and image.dtype == np.uint8 and not grey:
            try:
                image = invert_colormap(image).as_uint8()
            except ValueError:
                return None, "a colour image that matches no thermal colour map"
    return image, None


def calibrate_folder(
    folder: str | Path,
    board: Board,
    camera: str,
    kind: str,
    progress: Callable[[int, int], None] | None = None,
) -> FolderCalibration:
    """Detect ``board`` in every image of ``folder`` (read as ``kind``) and fit
    ``camera``'s intrinsics; ``progress(done, total)`` after each image."""
    folder = Path(folder)
    files = board_images(folder)
    detections: list[Detection] = []
    unreadable: list[str] = []
    for i, path in enumerate(files):
        image, problem = read_board_image(path, kind)
        if image is None:
            unreadable.append(f"{path.name} ({problem})" if problem else path.name)
        else:
            det = detect(image, board, kind=kind, source=str(path))
            if det is not None:
                detections.append(det)
        if progress is not None:
            progress(i + 1, len(files))
    if len(unreadable) == len(files):
        raise CalibrateImagesError(
            f"none of the {len(files)} images in {folder} can be read: "
            + ", ".join(unreadable[:5])
            + "; give images a camera took (PNG, JPEG or TIFF)"
        )
    if not detections:
        raise CalibrateImagesError(
            f"board {board.spec} not found in any of {len(files)} images in {folder}; "
            "check --board (checker and coded count inner corners, charuco counts squares)"
        )
    size, _ = Counter(d.image_size for d in detections).most_common(1)[0]
    other = [Path(d.source).name for d in detections if d.image_size != size]
    detections = [d for d in detections if d.image_size == size]
    return FolderCalibration(
        camera, calibrate_intrinsics(detections), detections, len(files), other, unreadable
    )
