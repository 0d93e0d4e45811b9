"""COCO annotations of class masks: run-length encoded masks, areas and boxes.

One annotation per class present in a frame (a semantic region, ``iscrowd`` 0): the
classes of a thermorig mask are body parts of one person (left calf, right calf), so
the class *is* the instance. Masks are COCO's compressed RLE — the counts of
alternating 0/1 runs over the mask in column-major order, starting with a run of 0s,
then each count stored as the difference to the count two places before (from the
third on) in 5-bit groups, 6 bits per character offset by 48 — the form
``pycocotools.mask.decode`` reads. Unlabeled pixels (255) are in no annotation; the
indexed mask PNGs keep them.
"""

from __future__ import annotations

import numpy as np

from drivers.truth import UNKNOWN_LABEL

BACKGROUND = "background"


def rle_counts(binary: np.ndarray) -> list[int]:
    """Uncompressed COCO counts of a boolean (H, W) mask: column-major runs, 0s first."""
    flat = np.asarray(binary, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return []
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(bounds).tolist()
    return [0, *runs] if flat[0] else runs


def rle_string(counts: list[int]) -> str:
    """COCO's compressed text form of uncompressed ``counts``."""
    out = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        while True:
            c = x & 0x1F
            x >>= 5  # Python's >> is arithmetic: negative deltas sign-extend.
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            out.append(chr(c + 48))
            if not more:
                break
    return "".join(out)


def encode(binary: np.ndarray) -> dict:
    """``{"size": [h, w], "counts": "..."}``, as pycocotools.mask.encode gives it."""
    h, w = binary.shape
    return {"size": [int(h), int(w)], "counts": rle_string(rle_counts(binary))}


def bbox(binary: np.ndarray) -> list[int]:
    """``[x, y, width, height]`` in whole pixels of a non-empty mask."""
    rows = np.flatnonzero(binary.any(axis=1))
    cols = np.flatnonzero(binary.any(axis=0))
    x0, y0 = int(cols[0]), int(rows[0])
    return [x0, y0, int(cols[-1]) - x0 + 1, int(rows[-1]) - y0 + 1]


def categories(classes: list[str]) -> list[dict]:
    """COCO categories: the classes but background, ids = class ids (not contiguous if
    background is not class 0, which COCO allows)."""
    return [
        {"id": cid, "name": name, "supercategory": "body"}
        for cid, name in enumerate(classes)
        if name != BACKGROUND
    ]


def annotate(
    classes: list[str], mask: np.ndarray, hist: np.ndarray, file_name: str, extra: dict
) -> dict:
    """One frame's COCO image entry and annotations, not numbered yet (the costly part:
    run-length encoding, done where the frame is read)."""
    h, w = mask.shape
    image = {
        "file_name": file_name,
        "width": int(w),
        "height": int(h),
        "unlabeled_pixels": int(hist[UNKNOWN_LABEL]),
        **extra,
    }
    labeled = {c["id"] for c in categories(classes)}
    annotations = []
    for cid in np.flatnonzero(hist[: len(classes)]):
        if int(cid) not in labeled:
            continue
        binary = mask == cid
        annotations.append(
            {
                "category_id": int(cid),
                "segmentation": encode(binary),
                "area": int(hist[cid]),
                "bbox": bbox(binary),
                "iscrowd": 0,
            }
        )
    return {"image": image, "annotations": annotations}


class CocoSplit:
    """The images and annotations of one split, gathered frame by frame."""

    def __init__(self, classes: list[str], info: dict):
        self.classes = list(classes)
        self.info = info
        self.images: list[dict] = []
        self.annotations: list[dict] = []

    def add(self, mask: np.ndarray, hist: np.ndarray, file_name: str, extra: dict) -> int:
        """Add one frame; ``hist`` is the mask's 256-bin id histogram. Returns the
        image id (1-based within the split)."""
        return self.add_annotated(annotate(self.classes, mask, hist, file_name, extra))

    def add_annotated(self, frame: dict) -> int:
        """Add a frame :func:`annotate` described (perhaps in another process),
        numbering its image and annotations; returns the image id."""
        image_id = len(self.images) + 1
        self.images.append({"id": image_id, **frame["image"]})
        for a in frame["annotations"]:
            self.annotations.append({"id": len(self.annotations) + 1, "image_id": image_id, **a})
        return image_id

    def to_dict(self) -> dict:
        return {
            "info": self.info,
            "licenses": [],
            "images": self.images,
            "annotations": self.annotations,
            "categories": categories(self.classes),
        }
