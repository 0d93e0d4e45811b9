"""Training loops for the segmenter and the keypoint model (CPU, minutes).

- Segmenter: cross-entropy plus soft Dice over the labeled classes, on class scores
  resampled to the input size — the same bilinear resampling the app does before its
  argmax, so training optimizes the boundaries the app will draw. Dice keeps the
  small calf classes from drowning in background pixels.
- Keypoints: integral regression — the L1 distance between the soft-argmax of each
  heatmap and the true point, in input pixels — plus a cross-entropy of the spatial
  softmax against a small Gaussian at the true point, which gives the heatmaps a
  peak to start from (SPMKD and integral-regression practice). Points outside the
  input after augmentation, or absent, are left out.

AdamW with a one-cycle schedule; BatchNorm, so batches of 8 or more.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from drivers.truth import UNKNOWN_LABEL
from models.training.dataset import Augment, Examples, batch
from models.training.nets import TinyUNet, UNetConfig, soft_argmax

OUTPUT_STRIDE = 4


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 600
    batch_size: int = 12
    lr: float = 4e-3
    weight_decay: float = 1e-4
    seed: int = 0
    device: str = "cpu"
    window_c: tuple[float, float] = (15.0, 40.0)
    augment: Augment = Augment()
    heatmap_sigma: float = 1.0
    heatmap_weight: float = 0.5


Log = Callable[[str], None]


def _optimizer(model: TinyUNet, cfg: TrainConfig):
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.15
    )
    return opt, sched


def segmentation_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus soft Dice; pixels labeled 255 (not labeled: autolabel's
    unknown pixels, a reviewer's unpainted ones) count in neither."""
    up = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
    known = labels != UNKNOWN_LABEL
    if not known.any():
        return up.sum() * 0.0
    ce = F.cross_entropy(up, labels, ignore_index=UNKNOWN_LABEL)
    prob = up.softmax(dim=1)[:, 1:] * known[:, None]
    safe = torch.where(known, labels, torch.zeros_like(labels))
    onehot = F.one_hot(safe, up.shape[1]).permute(0, 3, 1, 2)[:, 1:].float() * known[:, None]
    inter = (prob * onehot).sum(dim=(0, 2, 3))
    denom = prob.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    dice = 1.0 - (2 * inter + 1.0) / (denom + 1.0)
    return ce + dice.mean()


def keypoint_loss(
    heatmaps: torch.Tensor, keypoints: torch.Tensor, size: tuple[int, int], cfg: TrainConfig
) -> torch.Tensor:
    w, h = size
    xy_map, prob = soft_argmax(heatmaps)
    xy_in = (xy_map + 0.5) * OUTPUT_STRIDE - 0.5
    valid = torch.isfinite(keypoints).all(-1)
    valid &= (keypoints[..., 0] >= 0) & (keypoints[..., 0] <= w - 1)
    valid &= (keypoints[..., 1] >= 0) & (keypoints[..., 1] <= h - 1)
    if not valid.any():
        return heatmaps.sum() * 0.0
    target = torch.where(valid[..., None], keypoints, torch.zeros_like(keypoints))
    l1 = (xy_in - target).abs().sum(-1)[valid].mean()
    # Gaussian target in map pixels
    mh, mw = heatmaps.shape[-2:]
    t_map = (target + 0.5) / OUTPUT_STRIDE - 0.5
    xs = torch.arange(mw, dtype=torch.float32, device=heatmaps.device)
    ys = torch.arange(mh, dtype=torch.float32, device=heatmaps.device)
    d2 = (xs.view(1, 1, 1, mw) - t_map[..., 0, None, None]) ** 2 + (
        ys.view(1, 1, mh, 1) - t_map[..., 1, None, None]
    ) ** 2
    g = torch.exp(-d2 / (2 * cfg.heatmap_sigma**2))
    g = g / g.sum(dim=(-2, -1), keepdim=True)
    ce = -(g * torch.log(prob.clamp_min(1e-12))).sum(dim=(-2, -1))[valid].mean()
    return l1 + cfg.heatmap_weight * ce


def train(
    ex: Examples,
    arch: UNetConfig,
    cfg: TrainConfig,
    task: str,
    log: Log = print,
    init: dict[str, torch.Tensor] | None = None,
) -> tuple[TinyUNet, dict]:
    """Train a :class:`TinyUNet` for ``task`` (``segmentation`` or ``keypoints``);
    ``init`` (a state dict of the same architecture) starts it from trained weights
    instead of random ones: fine-tuning."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    dev = torch.device(cfg.device)
    model = TinyUNet(arch)
    if init is not None:
        model.load_state_dict(init)
    model = model.to(dev)
    opt, sched = _optimizer(model, cfg)
    h, w = ex.images.shape[1:]
    t0 = time.perf_counter()
    running = None
    model.train()
    for step in range(cfg.steps):
        idx = rng.choice(len(ex), cfg.batch_size, replace=False)
        img, lab, kp = batch(ex, idx, cfg.window_c, cfg.augment, rng)
        img, lab, kp = img.to(dev), lab.to(dev), kp.to(dev)
        out = model(img)
        if task == "segmentation":
            loss = segmentation_loss(out, lab)
        else:
            loss = keypoint_loss(out, kp, (w, h), cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if (step + 1) % 50 == 0 or step + 1 == cfg.steps:
            el = time.perf_counter() - t0
            log(f"  {task} step {step + 1}/{cfg.steps}  loss {running:.4f}  {el:.0f} s")
    model = model.cpu().eval()  # exported and checked on the CPU, as the app runs it
    stats = {
        "device": cfg.device,
        "steps": cfg.steps,
        "batch_size": cfg.batch_size,
        "examples": len(ex),
        "final_loss": round(float(running or 0.0), 5),
        "seconds": round(time.perf_counter() - t0, 1),
        "initialized": "from trained weights" if init is not None else "random",
        "optimizer": f"AdamW lr {cfg.lr} one-cycle, weight decay {cfg.weight_decay}",
    }
    return model, stats
