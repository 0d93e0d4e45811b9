"""Training examples from session files: thermal frames at the network's input size
with their class masks and keypoints, plus the augmentation applied per batch.

Frames are resized with the app's own preprocessing (:mod:`models.preprocess`), so a
network sees in training exactly the geometry it sees in ``thermorig infer``; they are
kept in °C (float16) and the temperature window is applied per batch, after the
temperature augmentation. Masks are resized by majority (area-averaged one-hot, then
argmax), which keeps a class boundary where it is instead of shifting it by half a
frame pixel as nearest-neighbour resizing would.

Augmentation, and why:

- mirror (left↔right): a mirrored rear view is a plausible rear view with the legs'
  sides swapped, so classes and keypoints named ``left_*``/``right_*`` are swapped;
- scale and shift: real rigs stand at other distances and heights than the synthetic
  one;
- rotation (off unless a recipe asks): a rig levelled by hand is a few degrees off;
- temperature offset, gain and noise: rooms, skin and sensors differ. An offset and a
  gain of the °C values about the window's middle are the same as jittering the °C
  window (its centre and width) the network reads; there is no colour jitter —
  the pixels are radiometric temperatures, not colours.

Pixels labeled 255 (not labeled) stay 255 through the mirror and the affine warp.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from drivers.session import SessionReader
from models.preprocess import celsius, fit, resize_content


@dataclass
class Examples:
    """Frames at input size: images (N, H, W) float16 °C, labels (N, H, W) uint8,
    keypoints (N, K, 2) float32 input pixels (NaN absent); which session and frame."""

    images: np.ndarray
    labels: np.ndarray
    keypoints: np.ndarray
    sources: list[tuple[str, int]]
    classes: list[str]
    keypoint_names: list[str]

    def __len__(self) -> int:
        return len(self.images)

    def take(self, idx: Sequence[int] | np.ndarray) -> Examples:
        """The examples at ``idx``, in that order."""
        idx = np.asarray(idx, dtype=np.int64)
        return Examples(
            self.images[idx],
            self.labels[idx],
            self.keypoints[idx],
            [self.sources[i] for i in idx],
            self.classes,
            self.keypoint_names,
        )

    @staticmethod
    def concat(parts: Sequence[Examples]) -> Examples:
        return Examples(
            np.concatenate([p.images for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.concatenate([p.keypoints for p in parts]),
            [s for p in parts for s in p.sources],
            parts[0].classes,
            parts[0].keypoint_names,
        )


def resize_labels(labels: np.ndarray, size: tuple[int, int], n_classes: int) -> np.ndarray:
    """Class mask to ``size`` (w, h) by area majority."""
    if (labels.shape[1], labels.shape[0]) == size:
        return labels
    onehot = (labels[..., None] == np.arange(n_classes, dtype=labels.dtype)).astype(np.float32)
    area = cv2.resize(onehot, size, interpolation=cv2.INTER_AREA)
    return area.reshape(size[1], size[0], n_classes).argmax(axis=-1).astype(np.uint8)


def load_session(
    path: str | os.PathLike, input_size: tuple[int, int], stream: str = "thermal", every: int = 1
) -> Examples:
    """Every ``every``-th frame of ``stream`` with its ground truth. The frames must
    have the input's aspect ratio (letterbox padding is not trained)."""
    w, h = input_size
    with SessionReader(path) as s:
        truth = s.truth or {}
        classes = list(truth.get("classes") or [])
        names = list(truth.get("keypoints") or [])
        idx = list(range(0, s.count(stream), every))
        images = np.empty((len(idx), h, w), np.float16)
        labels = np.empty((len(idx), h, w), np.uint8)
        kps = np.full((len(idx), len(names), 2), np.nan, np.float32)
        for j, i in enumerate(idx):
            f = s.frame(stream, i)
            g = fit(f.array.shape[1], f.array.shape[0], w, h, "letterbox")
            if g.content_size != (w, h):
                raise ValueError(f"{path}: {stream} frames are not of the {w}x{h} aspect ratio")
            images[j] = celsius(resize_content(f.array, g))
            if f.truth is None or "labels" not in f.truth:
                raise ValueError(f"{path} frame {i} has no ground truth labels")
            labels[j] = resize_labels(f.truth["labels"], (w, h), len(classes))
            kp = f.truth.get("keypoints")
            if kp is not None and len(kp):
                kps[j] = g.frame_to_input(kp)
    return Examples(images, labels, kps, [(str(path), i) for i in idx], classes, names)


def mirror_permutation(names: Sequence[str]) -> list[int]:
    """Index permutation that swaps ``left_X`` with ``right_X`` (others stay)."""
    perm = list(range(len(names)))
    for i, n in enumerate(names):
        for a, b in (("left", "right"), ("right", "left")):
            if n.startswith(a):
                other = b + n[len(a) :]
                if other in names:
                    perm[i] = list(names).index(other)
    return perm


@dataclass(frozen=True)
class Augment:
    """Random batch augmentation (see the module docstring)."""

    mirror: bool = True
    scale: tuple[float, float] = (0.85, 1.15)
    shift: float = 0.08
    offset_c: float = 2.0
    gain: tuple[float, float] = (0.9, 1.1)
    noise_c: float = 0.12
    rotate_deg: float = 0.0


def batch(
    ex: Examples,
    idx: np.ndarray,
    window_c: tuple[float, float],
    aug: Augment | None,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(images (B,1,H,W) windowed to [0,1], labels (B,H,W) long, keypoints (B,K,2))."""
    img = torch.from_numpy(ex.images[idx].astype(np.float32))[:, None]
    lab = torch.from_numpy(ex.labels[idx].astype(np.int64))
    kp = torch.from_numpy(ex.keypoints[idx].copy())
    b, _, h, w = img.shape
    if aug is not None:
        if aug.mirror:
            flip = torch.from_numpy(rng.random(b) < 0.5)
            perm = mirror_permutation(ex.classes)
            cls_perm = torch.tensor(perm + list(range(len(perm), 256)))  # 255 stays 255
            kp_perm = mirror_permutation(ex.keypoint_names)
            img[flip] = img[flip].flip(-1)
            lab[flip] = cls_perm[lab[flip].flip(-1)]
            kf = kp[flip][:, kp_perm]
            kf[..., 0] = (w - 1) - kf[..., 0]
            kp[flip] = kf
        s = torch.from_numpy(rng.uniform(*aug.scale, b)).float()
        tx = torch.from_numpy(rng.uniform(-aug.shift, aug.shift, b)).float()
        ty = torch.from_numpy(rng.uniform(-aug.shift, aug.shift, b)).float()
        # Drawn only when asked, so that the bundled models' seeded runs draw as before.
        turn = rng.uniform(-1, 1, b) * aug.rotate_deg if aug.rotate_deg else np.zeros(b)
        rad = torch.from_numpy(np.deg2rad(turn)).float()
        # Output pixel p (normalized, align_corners=False) samples input at A p - t,
        # A = D⁻¹ R(θ) D / s with D = diag(w, h): a rotation in pixels, not in the
        # non-square normalized coordinates.
        cos, sin, r = torch.cos(rad), torch.sin(rad), h / w
        a = torch.stack(
            [torch.stack([cos, -sin * r], -1), torch.stack([sin / r, cos], -1)], -2
        ) / s.view(b, 1, 1)
        theta = torch.zeros(b, 2, 3)
        theta[:, :, :2] = a
        theta[:, 0, 2] = -tx
        theta[:, 1, 2] = -ty
        grid = F.affine_grid(theta, (b, 1, h, w), align_corners=False)
        background = img.flatten(1).median(dim=1).values.view(b, 1, 1, 1)
        img = F.grid_sample(img - background, grid, "bilinear", "zeros", False) + background
        lab = F.grid_sample(lab[:, None].float(), grid, "nearest", "border", False)[:, 0].long()
        # input -> output: normalized u_out = (u_in + t) * s
        norm = torch.tensor([w, h], dtype=torch.float32)
        u = (kp + 0.5) / norm * 2 - 1
        u = torch.einsum(
            "bij,bkj->bki", torch.linalg.inv(a), u + torch.stack([tx, ty], -1)[:, None]
        )
        kp = (u + 1) / 2 * norm - 0.5
        offset = torch.from_numpy(rng.uniform(-aug.offset_c, aug.offset_c, b)).float()
        gain = torch.from_numpy(rng.uniform(*aug.gain, b)).float()
        mid = 0.5 * (window_c[0] + window_c[1])
        img = (img - mid) * gain.view(b, 1, 1, 1) + mid + offset.view(b, 1, 1, 1)
        sigma = torch.from_numpy(rng.uniform(0, aug.noise_c, b)).float().view(b, 1, 1, 1)
        img = img + torch.randn_like(img) * sigma
    lo, hi = window_c
    img = ((img - lo) / (hi - lo)).clamp_(0.0, 1.0)
    return img, lab, kp
