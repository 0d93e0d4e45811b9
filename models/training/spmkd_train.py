"""Training the SPMKD network without keypoint labels: reconstruction (L2 + SSIM) and
CRWT's first stage (warm-foreground classification), plus the linear probe that reads
named joints off the learned keypoints.

- Reconstruction target: the augmented input itself, windowed to [0, 1] and
  area-averaged to half resolution (the decoder's output size). Half resolution keeps a
  2-core CPU fast enough and loses nothing the keypoints could encode.
- Loss ``MSE + SSIM_WEIGHT · (1 − SSIM)``: L2 alone rebuilds the blurry mean image;
  SSIM rewards structure (edges of legs against the room), which is what keypoints can
  explain. SSIM here is the standard one (Gaussian window 11, σ 1.5, C1 = 0.01²,
  C2 = 0.03² for a data range of 1), written out because no library in the lock has it.
- Foreground (CRWT stage 1): *warm* pixels, ``median + WARM_ABOVE_C`` ≤ T ≤
  ``WARM_MAX_C`` in each frame's °C. A frame is mostly room, so its median is the room;
  skin and warmed clothing are a few °C above it; radiators (≈ 50 °C) are excluded by
  the upper bound. This needs no label at all — the truth's masks only mark the calves,
  not the body, and using them would make the "self-supervised" claim false.
- Linear probe: ridge least squares from the K learned points' standardized (x, y) to
  the true joints' (x, y), fitted on a few labeled frames, the ridge chosen by
  leave-one-out error on those frames.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from models.training.dataset import Augment, Examples, batch
from models.training.spmkd_net import SPMKD

Log = Callable[[str], None]

SSIM_WEIGHT = 0.2
WARM_ABOVE_C = 2.5
WARM_MAX_C = 40.0
#: Mirror, scale/shift and temperature jitter as thermorig train; no rotation.
AUGMENT = Augment()


@dataclass(frozen=True)
class StageConfig:
    steps: int
    batch_size: int = 8
    lr: float = 3e-3
    weight_decay: float = 1e-4
    window_c: tuple[float, float] = (15.0, 40.0)
    device: str = "cpu"


def _gauss_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).view(1, 1, size, size)


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of two (B,1,H,W) images in [0, 1] (Wang et al. 2004; 'valid'
    windows only, so borders are not padded into the statistics)."""
    w = _gauss_window().to(a)
    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = F.conv2d(a, w), F.conv2d(b, w)
    var_a = F.conv2d(a * a, w) - mu_a**2
    var_b = F.conv2d(b * b, w) - mu_b**2
    cov = F.conv2d(a * b, w) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return (num / den).mean()


def reconstruction_loss(out: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
    """``out`` at half the input's resolution against the area-averaged input."""
    target = F.avg_pool2d(img, 2)
    return F.mse_loss(out, target) + SSIM_WEIGHT * (1.0 - ssim(out, target))


def warm_foreground(ex: Examples) -> Examples:
    """``ex`` with its labels replaced by the label-free warm mask (see the module
    docstring): class 1 ``warm``, 0 ``room``. Warped with the images by
    :func:`batch`."""
    t = ex.images.astype(np.float32)
    med = np.median(t.reshape(len(t), -1), axis=1)[:, None, None]
    fg = ((t >= med + WARM_ABOVE_C) & (t <= WARM_MAX_C)).astype(np.uint8)
    return replace(ex, labels=fg, classes=["room", "warm"])


def foreground_loss(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the 2-class decoder output against the warm mask, the mask
    area-averaged to the output's half resolution (majority)."""
    half = (F.avg_pool2d(labels[:, None].float(), 2)[:, 0] >= 0.5).long()
    return F.cross_entropy(out, half)


def train_stage(
    model: SPMKD, ex: Examples, cfg: StageConfig, task: str, seed: int, log: Log
) -> dict:
    """Train ``model`` in place for ``task`` (``reconstruct`` or ``foreground``);
    AdamW with a one-cycle schedule, as :mod:`models.training.train`."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    dev = torch.device(cfg.device)
    model.to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.15
    )
    t0 = time.perf_counter()
    running = None
    every = max(1, cfg.steps // 8)
    for step in range(cfg.steps):
        idx = rng.choice(len(ex), min(cfg.batch_size, len(ex)), replace=False)
        img, lab, _ = batch(ex, idx, cfg.window_c, AUGMENT, rng)
        img, lab = img.to(dev), lab.to(dev)
        out, _ = model(img)
        if task == "foreground":
            loss = foreground_loss(out, lab)
        else:
            loss = reconstruction_loss(out, img)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if (step + 1) % every == 0 or step + 1 == cfg.steps:
            el = time.perf_counter() - t0
            log(f"  {task} step {step + 1}/{cfg.steps}  loss {running:.4f}  {el:.0f} s")
    model.cpu().eval()
    return {
        "task": task,
        "steps": cfg.steps,
        "batch_size": cfg.batch_size,
        "final_loss": round(float(running or 0.0), 5),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def frames(ex: Examples, window_c: tuple[float, float]) -> torch.Tensor:
    """All of ``ex`` as network input (B,1,H,W), windowed, not augmented."""
    img, _, _ = batch(ex, np.arange(len(ex)), window_c, None, np.random.default_rng(0))
    return img


@torch.no_grad()
def learned_points(model: SPMKD, img: torch.Tensor, chunk: int = 32) -> np.ndarray:
    """(N, K, 2) learned keypoints in input pixels."""
    model.eval()
    parts = [model.keypoints(img[i : i + chunk]) for i in range(0, len(img), chunk)]
    return torch.cat(parts).numpy().astype(np.float64)


@torch.no_grad()
def mean_reconstruction_loss(model: SPMKD, img: torch.Tensor, chunk: int = 32) -> float:
    """The reconstruction loss on un-augmented frames (eval mode), frame-weighted."""
    model.eval()
    total = 0.0
    for i in range(0, len(img), chunk):
        x = img[i : i + chunk]
        total += float(reconstruction_loss(model(x)[0], x)) * len(x)
    return total / len(img)


def _design(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points.reshape(len(points), -1), np.ones((len(points), 1))], axis=1)


#: Ridge strengths (per frame, on standardized points) the probe chooses from.
RIDGE_GRID = tuple(10.0**e for e in range(-4, 2))


def fit_probe(
    points: np.ndarray, truth: np.ndarray, ridges: tuple[float, ...] = RIDGE_GRID
) -> tuple[np.ndarray, float]:
    """(2K+1, 2J) linear map from learned points (N,K,2) to true joints (N,J,2), and the
    ridge strength chosen. Least squares on standardized points over the frames where
    every joint is known, so that the map does not depend on how far the points move
    (an untrained network's barely move: standardized, they are judged on what they
    carry, not shrunk away for their scale). The ridge is the one of ``ridges`` with the
    least leave-one-out error on these same labeled frames — never on test frames."""
    ok = np.isfinite(truth).all(axis=(1, 2)) & np.isfinite(points).all(axis=(1, 2))
    n = int(ok.sum())
    if n < 3:
        raise ValueError("fewer than 3 frames with every joint known: no linear map")
    x, y = points[ok].reshape(n, -1), truth[ok].reshape(n, -1)
    mu, sd = x.mean(0), x.std(0) + 1e-12
    z, ym = (x - mu) / sd, y.mean(0)
    best = None
    for lam in ridges:
        inv = np.linalg.inv(z.T @ z + lam * n * np.eye(z.shape[1]))
        hat = np.einsum("ij,jk,ik->i", z, inv, z) + 1.0 / n  # + the mean's leverage
        loo = ((y - ym - z @ inv @ z.T @ (y - ym)) / (1.0 - hat)[:, None]) ** 2
        if best is None or loo.mean() < best[0]:
            best = (loo.mean(), lam, inv @ z.T @ (y - ym))
    _, lam, b = best
    w = b / sd[:, None]
    return np.concatenate([w, (ym - mu @ w)[None]], axis=0), lam


def apply_probe(points: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(N, J, 2) joints from (N, K, 2) learned points."""
    return (_design(points) @ weight).reshape(len(points), -1, 2)
