"""How export files are written: 16-bit and preview PNGs (OpenCV), indexed mask PNGs
(Pillow, since OpenCV cannot write a palette PNG), JSON, checksums."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from app.display import CLASS_RGB
from app.export.inputs import ExportError
from drivers.truth import UNKNOWN_LABEL

#: Colour of unlabeled pixels (255) in mask PNGs: mid grey, apart from every class.
UNLABELED_RGB = (128, 128, 128)


def imwrite(root: Path, relative: str, image: np.ndarray) -> str:
    """Write ``image`` to ``root/relative`` as PNG: uint16 stays 16-bit (exact values),
    RGB stays RGB. Returns ``relative``, the name the manifest records."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise ExportError(f"could not write {path}; check the disk and permissions")
    return relative


def preview(image: np.ndarray, lut: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """An 8-bit RGB view of a single-channel frame: ``window`` (raw units) spread over
    the colour map ``lut`` (256×3); colour frames are their own preview."""
    if image.ndim == 3:
        return image
    lo, hi = window
    idx = np.clip((image.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255)
    return lut[idx.astype(np.uint8)]


def mask_palette(n_classes: int) -> list[int]:
    """768 palette bytes: the review window's class colours, background black,
    unlabeled grey; ids past the classes black (they never occur: export checks)."""
    pal = np.zeros((256, 3), np.uint8)
    n = min(n_classes, UNKNOWN_LABEL)
    pal[1:n] = CLASS_RGB[1:n]
    pal[UNKNOWN_LABEL] = UNLABELED_RGB
    return pal.ravel().tolist()


def write_mask(root: Path, relative: str, mask: np.ndarray, n_classes: int) -> str:
    """An indexed (mode "P") PNG whose pixel values are the class ids themselves."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    img = Image.frombytes("P", (mask.shape[1], mask.shape[0]), mask.tobytes())
    img.putpalette(mask_palette(n_classes))
    img.save(path, format="PNG")
    return relative


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
