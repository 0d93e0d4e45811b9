"""A CUTS-style label-free per-pixel encoder and the light decoder read on its latents.

The encoder (after *Latents-Guided Thermography* / CUTS) is four 5×5 convolutions,
16→32→64→128 channels, with no striding or pooling: every input pixel gets a
128-number latent describing its 17×17 neighbourhood. It is trained without labels:

- **patch reconstruction** — a linear head rebuilds the 7×7 input patch around an
  anchor pixel from that pixel's latent alone, so the latent must keep what the patch
  looks like (temperature level, edges, texture);
- **contrastive** (InfoNCE at temperature 0.5) — the latent of an anchor should be
  closer (cosine) to the latent of a *nearby, similar* patch (of a few random
  neighbours within ``radius`` px, the one whose pixels look most like the anchor's)
  than to the latents of all other sampled patches, so that one region's pixels
  cluster together in latent space.

The two are weighted 0.01 and 0.99, as the reference code does: reconstruction
carries the training, the contrastive term shapes the geometry of the latent space.

Training runs the convolutions *unpadded* on random crops, so every latent it learns
from saw real pixels only; at inference (:meth:`LatentEncoder.forward`) the input is
first padded by the receptive-field radius with its edge values, so the latent map has
the input's resolution.

The decoder (:class:`LatentDecoder`) is a light UNet read on *frozen* latents: one
1×1 reduction at full resolution, three strided levels for context (which leg is which,
and a calf under a sleeve, which a 1/4-resolution bottom saw too little of to tell),
and back to full resolution with skips — full resolution because the point of a
per-pixel latent is lost if the class map comes out at a quarter of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Log = Callable[[str], None]

#: The reference architecture: channels of the four 5×5 convolutions.
CHANNELS = (16, 32, 64, 128)
KERNEL = 5


class LatentEncoder(nn.Module):
    """Four unstrided 5×5 convolutions; ``forward`` keeps the input's resolution."""

    def __init__(self, in_channels: int, channels: tuple[int, ...] = CHANNELS):
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_channels
        for i, c in enumerate(channels):
            layers.append(nn.Conv2d(cin, c, KERNEL))
            if i < len(channels) - 1:
                layers.append(nn.LeakyReLU(0.1))
            cin = c
        self.convs = nn.Sequential(*layers)
        self.in_channels = in_channels
        self.latent_dim = channels[-1]
        #: Pixels each side a latent depends on (8 for four 5×5 convolutions).
        self.radius = len(channels) * (KERNEL // 2)

    def valid(self, x: torch.Tensor) -> torch.Tensor:
        """Latents of the pixels whose whole neighbourhood is inside ``x`` (output is
        ``2·radius`` smaller each way): what training sees."""
        return self.convs(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.radius
        return self.convs(F.pad(x, (r, r, r, r), mode="replicate"))


def _cbr(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (k // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class LatentDecoder(nn.Module):
    """Light UNet: full-resolution 1×1 reduction, three strided levels, back up with
    skips to full resolution (see the module docstring)."""

    def __init__(
        self,
        in_channels: int,
        classes: int,
        channels: tuple[int, int, int, int] = (12, 24, 40, 56),
    ):
        super().__init__()
        c0, c1, c2, c3 = channels
        self.reduce = _cbr(in_channels, c0, k=1)
        self.down1 = nn.Sequential(_cbr(c0, c1, stride=2), _cbr(c1, c1))
        self.down2 = nn.Sequential(_cbr(c1, c2, stride=2), _cbr(c2, c2))
        self.down3 = nn.Sequential(_cbr(c2, c3, stride=2), _cbr(c3, c3, dilation=2))
        self.up2 = _cbr(c3 + c2, c2)
        self.up1 = _cbr(c2 + c1, c1)
        self.up0 = _cbr(c1 + c0, c0)
        self.head = nn.Conv2d(c0, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f0 = self.reduce(x)
        f1 = self.down1(f0)
        f2 = self.down2(f1)
        y = self.down3(f2)
        for up, skip in ((self.up2, f2), (self.up1, f1), (self.up0, f0)):
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = up(torch.cat([y, skip], 1))
        return self.head(y)


class LatentSegmenter(nn.Module):
    """Encoder then decoder, as one network for export (frame in, class scores out at
    the input's resolution)."""

    def __init__(self, encoder: LatentEncoder, decoder: LatentDecoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def info_nce(anchor: torch.Tensor, positive: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE of (M, D) anchors against their (M, D) positives; each anchor's
    negatives are the other rows' positives. Cosine similarity over ``temperature``."""
    a = F.normalize(anchor, dim=1)
    p = F.normalize(positive, dim=1)
    logits = a @ p.T / temperature
    return F.cross_entropy(logits, torch.arange(len(a), device=a.device))


@dataclass(frozen=True)
class EncoderConfig:
    steps: int = 300
    crops: int = 8
    crop: int = 40  # input crop; latents of the inner (crop - 16)² pixels
    anchors: int = 24  # per crop
    patch: int = 7
    radius: int = 3  # a positive lies within this many pixels of its anchor
    candidates: int = 6  # neighbours looked at to find the most similar one
    temperature: float = 0.5
    contrastive_weight: float = 0.01
    reconstruction_weight: float = 0.99
    lr: float = 1e-3
    seed: int = 0


class PatchHead(nn.Module):
    """Linear map from a latent to the flattened input patch around its pixel."""

    def __init__(self, latent_dim: int, in_channels: int, patch: int):
        super().__init__()
        self.shape = (in_channels, patch, patch)
        self.linear = nn.Linear(latent_dim, in_channels * patch * patch)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear(z).view(-1, *self.shape)


def _patches(
    x: torch.Tensor, b: torch.Tensor, y: torch.Tensor, xx: torch.Tensor, k: int
) -> torch.Tensor:
    """(M, C, k, k) patches of ``x`` (B, C, H, W) centred at crop ``b``, pixel (y, xx)."""
    h = k // 2
    off = torch.arange(-h, h + 1, device=y.device)
    ys = (y[:, None] + off)[:, :, None].expand(-1, k, k)
    xs = (xx[:, None] + off)[:, None, :].expand(-1, k, k)
    return x[b[:, None, None], :, ys, xs].permute(0, 3, 1, 2)


def sample_pairs(
    x: torch.Tensor, cfg: EncoderConfig, margin: int, gen: torch.Generator
) -> tuple[torch.Tensor, ...]:
    """Anchors and their nearby most-similar neighbours in crops ``x`` (B, C, S, S), as
    latent-grid indices (b, ay, ax, py, px); latent (i, j) is input pixel (i + margin,
    j + margin)."""
    bsz, _, s, _ = x.shape
    g = s - 2 * margin  # latent grid side
    r = cfg.radius
    m = bsz * cfg.anchors
    b = torch.arange(bsz).repeat_interleave(cfg.anchors)
    ay = torch.randint(r, g - r, (m,), generator=gen)
    ax = torch.randint(r, g - r, (m,), generator=gen)
    dy = torch.randint(-r, r + 1, (m, cfg.candidates), generator=gen)
    dx = torch.randint(-r, r + 1, (m, cfg.candidates), generator=gen)
    zero = (dy == 0) & (dx == 0)
    dx = torch.where(zero, torch.ones_like(dx), dx)  # never the anchor itself
    # Drawn on the CPU (one sequence per seed on any device), used where ``x`` is: a
    # GPU run must never mix devices in one indexing.
    b, ay, ax, dy, dx = (t.to(x.device) for t in (b, ay, ax, dy, dx))
    anchor = _patches(x, b, ay + margin, ax + margin, cfg.patch)
    dist = torch.stack(
        [
            (_patches(x, b, ay + dy[:, c] + margin, ax + dx[:, c] + margin, cfg.patch) - anchor)
            .pow(2)
            .flatten(1)
            .mean(1)
            for c in range(cfg.candidates)
        ],
        1,
    )
    best, pick = dist.argmin(1), torch.arange(m, device=x.device)
    return b, ay, ax, ay + dy[pick, best], ax + dx[pick, best]


def encoder_losses(
    encoder: LatentEncoder,
    head: PatchHead,
    x: torch.Tensor,
    cfg: EncoderConfig,
    gen: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(weighted loss, contrastive, reconstruction) tensors on crops ``x``, all on
    ``x``'s device (a test runs this on the "meta" device to keep GPU runs whole)."""
    z = encoder.valid(x)  # (B, D, g, g)
    b, ay, ax, py, px = sample_pairs(x, cfg, encoder.radius, gen)
    za = z[b, :, ay, ax]
    zp = z[b, :, py, px]
    con = info_nce(za, zp, cfg.temperature)
    target = _patches(x, b, ay + encoder.radius, ax + encoder.radius, cfg.patch)
    rec = F.mse_loss(head(za), target)
    return cfg.contrastive_weight * con + cfg.reconstruction_weight * rec, con, rec


def encoder_loss(
    encoder: LatentEncoder,
    head: PatchHead,
    x: torch.Tensor,
    cfg: EncoderConfig,
    gen: torch.Generator,
) -> tuple[torch.Tensor, float, float]:
    """(weighted loss, contrastive, reconstruction) on crops ``x``."""
    loss, con, rec = encoder_losses(encoder, head, x, cfg, gen)
    return loss, con.item(), rec.item()


def random_crops(images: torch.Tensor, n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """``n`` random ``size``² crops of (N, C, H, W) ``images``."""
    _, _, h, w = images.shape
    i = torch.randint(0, len(images), (n,), generator=gen)
    y = torch.randint(0, h - size + 1, (n,), generator=gen)
    x = torch.randint(0, w - size + 1, (n,), generator=gen)
    return torch.stack([images[i[k], :, y[k] : y[k] + size, x[k] : x[k] + size] for k in range(n)])


def train_encoder(
    images: torch.Tensor, cfg: EncoderConfig, device: str = "cpu", log: Log = print
) -> tuple[LatentEncoder, dict]:
    """Train a :class:`LatentEncoder` on unlabeled ``images`` (N, C, H, W) in [0, 1]."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    dev = torch.device(device)
    encoder = LatentEncoder(images.shape[1]).to(dev)
    head = PatchHead(encoder.latent_dim, images.shape[1], cfg.patch).to(dev)
    opt = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    t0 = time.perf_counter()
    history: list[tuple[float, float, float]] = []
    for step in range(cfg.steps):
        x = random_crops(images, cfg.crops, cfg.crop, gen).to(dev)
        loss, con, rec = encoder_loss(encoder, head, x, cfg, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        history.append((loss.item(), con, rec))
        if (step + 1) % 50 == 0 or step + 1 == cfg.steps:
            last = np.mean(history[-50:], axis=0)
            log(
                f"  encoder step {step + 1}/{cfg.steps}  loss {last[0]:.4f}"
                f" (contrastive {last[1]:.3f}, reconstruction {last[2]:.5f})"
                f"  {time.perf_counter() - t0:.0f} s"
            )
    first = np.mean(history[: min(20, len(history))], axis=0)
    last = np.mean(history[-min(20, len(history)) :], axis=0)
    stats = {
        "steps": cfg.steps,
        "crops_per_step": cfg.crops,
        "crop_px": cfg.crop,
        "anchors_per_crop": cfg.anchors,
        "unlabeled_frames": int(len(images)),
        "loss_first_20_steps": round(float(first[0]), 5),
        "loss_last_20_steps": round(float(last[0]), 5),
        "contrastive_last": round(float(last[1]), 4),
        "reconstruction_last": round(float(last[2]), 6),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return encoder.cpu().eval(), stats


@torch.no_grad()
def encode(encoder: LatentEncoder, images: torch.Tensor, batch: int = 4) -> torch.Tensor:
    """Frozen latents (N, D, H, W) float16 of ``images`` (N, C, H, W)."""
    encoder.eval()
    out = [encoder(images[i : i + batch]).half() for i in range(0, len(images), batch)]
    return torch.cat(out)
