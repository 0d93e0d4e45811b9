"""The bundled networks: a tiny UNet for class scores or keypoint heatmaps.

Both outputs come at a quarter of the input resolution (80×64 for a 320×256 input):
the encoder goes to 1/16 for context (which leg is which, where the knee is) and the
decoder comes back to 1/4, where most of the compute of a full-resolution decoder
would go for little gain — class scores are resampled to frame size before the argmax
(:mod:`models.postprocess`), and keypoints are read with a soft-argmax, both
sub-pixel. About 145k parameters and 0.2 GMAC per 320×256 frame.

``soft_argmax`` here is the training twin of :func:`models.postprocess.soft_argmax`:
the same spatial softmax and expectation, differentiable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of :class:`TinyUNet`, stored in the model's JSON provenance."""

    in_channels: int = 1
    out_channels: int = 3
    channels: tuple[int, int, int, int] = (16, 24, 40, 64)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["name"] = "TinyUNet"
        d["channels"] = list(self.channels)
        d["output_stride"] = 4
        return d

    @classmethod
    def from_dict(cls, d: dict) -> UNetConfig:
        return cls(int(d["in_channels"]), int(d["out_channels"]), tuple(d["channels"]))


def _cbr(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def _up_cat(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    up = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
    return torch.cat([up, skip], dim=1)


class TinyUNet(nn.Module):
    """Encoder to 1/16 (strided 3×3 convolutions, a dilated one at the bottom), decoder
    back to 1/4 with skip connections, 1×1 head."""

    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = config
        c1, c2, c3, c4 = config.channels
        self.stem = _cbr(config.in_channels, c1, 2)
        self.down1 = nn.Sequential(_cbr(c1, c2, 2), _cbr(c2, c2))
        self.down2 = nn.Sequential(_cbr(c2, c3, 2), _cbr(c3, c3))
        self.down3 = nn.Sequential(_cbr(c3, c4, 2), _cbr(c4, c4, dilation=2))
        self.up3 = _cbr(c4 + c3, c3)
        self.up2 = _cbr(c3 + c2, c2)
        self.head = nn.Conv2d(c2, config.out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.stem(x)
        e2 = self.down1(e1)
        e3 = self.down2(e2)
        e4 = self.down3(e3)
        y = self.up3(_up_cat(e4, e3))
        y = self.up2(_up_cat(y, e2))
        return self.head(y)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def soft_argmax(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K, h, w) logits → (B, K, 2) expected (x, y) in map pixels and the (B, K, h, w)
    spatial softmax."""
    b, k, h, w = heatmaps.shape
    p = torch.softmax(heatmaps.reshape(b, k, h * w), dim=-1).reshape(b, k, h, w)
    xs = torch.arange(w, dtype=p.dtype, device=p.device)
    ys = torch.arange(h, dtype=p.dtype, device=p.device)
    x = (p.sum(dim=2) * xs).sum(dim=-1)
    y = (p.sum(dim=3) * ys).sum(dim=-1)
    return torch.stack([x, y], dim=-1), p
