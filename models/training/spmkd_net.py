"""The SPMKD network: self-supervised keypoints from a reconstruction bottleneck.

An image goes through a small MobileNetV3-like encoder (inverted residual blocks with
depthwise convolutions, hard-swish, squeeze-and-excitation in the last ones) to K
keypoint channels and a few feature channels at a quarter of the input resolution.
Each keypoint channel becomes a spatial softmax whose expectation is the keypoint
(soft-argmax, :func:`models.training.nets.soft_argmax`); the same softmax pools the
feature channels into that keypoint's feature vector (the *fuser*). The decoder sees
*only* these K points and K small vectors, rendered as Gaussian maps, and must rebuild
the input from them — so the cheapest way to lower the reconstruction loss is to put
the points on what moves and matters (legs, joints). No keypoint label is ever used.

The decoder's last layer has ``out_channels`` outputs: 1 for the reconstruction
(regression) and 2 for CRWT's first stage, where the same network is trained to
classify warm foreground pixels; :func:`transfer_matching` then copies every tensor of
the same name and shape into the regression network (all but that last layer).

:class:`KeypointProbe` is the deployable part: encoder, soft-argmax and the linear map
(fitted on a few labeled frames) to named joints, in input pixels — the ``coordinates``
output kind of a model package.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.training.nets import soft_argmax

#: Input pixels per map pixel (two stride-2 stages).
STRIDE = 4


@dataclass(frozen=True)
class SPMKDConfig:
    """Architecture, stored in the report and the package's provenance."""

    keypoints: int = 12
    features: int = 4
    width: tuple[int, int, int] = (8, 16, 24)
    #: Gaussian radius of a rendered keypoint, map pixels.
    sigma: float = 1.5
    out_channels: int = 1

    def to_dict(self) -> dict:
        d = asdict(self)
        d["name"] = "SPMKD"
        d["width"] = list(self.width)
        d["stride"] = STRIDE
        return d


def _cba(cin: int, cout: int, k: int = 1, s: int = 1, groups: int = 1, dil: int = 1, act=True):
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, s, dil * (k // 2), dil, groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.Hardswish())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """Channel gates from the pooled map (MobileNetV3: hard-sigmoid)."""

    def __init__(self, c: int, r: int = 4):
        super().__init__()
        self.fc1 = nn.Conv2d(c, max(c // r, 4), 1)
        self.fc2 = nn.Conv2d(max(c // r, 4), c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = F.hardsigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True)))))
        return x * g


class InvertedResidual(nn.Module):
    """1×1 expand, depthwise 3×3 (strided or dilated), optional SE, 1×1 project; a
    residual connection where the shape allows."""

    def __init__(self, cin: int, cout: int, expand: int, stride: int = 1, dil: int = 1, se=False):
        super().__init__()
        mid = cin * expand
        self.block = nn.Sequential(
            _cba(cin, mid),
            _cba(mid, mid, 3, stride, groups=mid, dil=dil),
            SqueezeExcite(mid) if se else nn.Identity(),
            _cba(mid, cout, act=False),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class Encoder(nn.Module):
    """Image (B,1,H,W) → keypoint logits (B,K,H/4,W/4) and features (B,F,H/4,W/4).
    Dilated blocks at 1/4 give the context (which leg, which joint) without a deeper
    downsampling that would coarsen the maps."""

    def __init__(self, cfg: SPMKDConfig):
        super().__init__()
        c1, c2, c3 = cfg.width
        self.body = nn.Sequential(
            _cba(1, c1, 3, 2),
            InvertedResidual(c1, c2, 2, stride=2),
            InvertedResidual(c2, c2, 2),
            InvertedResidual(c2, c3, 2, dil=2, se=True),
            InvertedResidual(c3, c3, 2, dil=4, se=True),
            InvertedResidual(c3, c3, 2, dil=8, se=True),
        )
        self.heat = nn.Conv2d(c3, cfg.keypoints, 1)
        self.feat = nn.Conv2d(c3, cfg.features, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.body(x)
        return self.heat(y), self.feat(y)


def fuse(heat: torch.Tensor, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The fuser: (B,K,2) soft-argmax keypoints in map pixels and (B,K,F) features
    pooled by each keypoint's spatial softmax."""
    xy, prob = soft_argmax(heat)
    return xy, torch.einsum("bkhw,bfhw->bkf", prob, feat)


def render(xy: torch.Tensor, vec: torch.Tensor, size: tuple[int, int], sigma: float):
    """Keypoints back to maps: K Gaussians (B,K,h,w) and the features painted at them
    (B,F,h,w), concatenated — all the decoder ever sees of the image."""
    h, w = size
    xs = torch.arange(w, dtype=xy.dtype, device=xy.device).view(1, 1, 1, w)
    ys = torch.arange(h, dtype=xy.dtype, device=xy.device).view(1, 1, h, 1)
    d2 = (xs - xy[..., 0, None, None]) ** 2 + (ys - xy[..., 1, None, None]) ** 2
    g = torch.exp(-d2 / (2 * sigma**2))
    return torch.cat([g, torch.einsum("bkhw,bkf->bfhw", g, vec)], dim=1)


class Decoder(nn.Module):
    """Rendered keypoints (1/4 resolution) → full-resolution image or class logits.
    Dilated convolutions spread a point's Gaussian to the limb around it."""

    def __init__(self, cfg: SPMKDConfig):
        super().__init__()
        c1, c2, c3 = cfg.width
        cin = cfg.keypoints + cfg.features
        self.body = nn.Sequential(
            _cba(cin, c3, 3),
            _cba(c3, c3, 3, dil=2),
            _cba(c3, c3, 3, dil=4),
            _cba(c3, c3, 3, dil=8),
        )
        self.up = _cba(c3, c2, 3)
        self.head = nn.Conv2d(c2, cfg.out_channels, 3, padding=1)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        y = self.body(maps)
        y = self.up(F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False))
        return self.head(y)


class SPMKD(nn.Module):
    """Encoder → fuser → decoder. ``forward`` returns the decoder's output (the
    reconstruction, or class logits in CRWT's first stage) and the keypoints in input
    pixels."""

    def __init__(self, cfg: SPMKDConfig):
        super().__init__()
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heat, feat = self.encoder(x)
        xy, vec = fuse(heat, feat)
        maps = render(xy, vec, heat.shape[-2:], self.config.sigma)
        out = self.decoder(maps)
        return out, to_input_pixels(xy)

    @torch.no_grad()
    def keypoints(self, x: torch.Tensor) -> torch.Tensor:
        """(B,K,2) keypoints in input pixels (no decoder: what the probe reads)."""
        heat, _ = self.encoder(x)
        return to_input_pixels(soft_argmax(heat)[0])


def to_input_pixels(xy_map: torch.Tensor) -> torch.Tensor:
    """Map pixel centres to input pixel centres."""
    return (xy_map + 0.5) * STRIDE - 0.5


def transfer_matching(src: nn.Module, dst: nn.Module) -> tuple[list[str], list[str]]:
    """CRWT's transfer: copy every tensor of ``src`` into ``dst`` whose name and shape
    match (weights and BatchNorm statistics); returns (copied, left) names of ``dst``."""
    theirs = src.state_dict()
    mine = dst.state_dict()
    copied = [k for k, v in mine.items() if k in theirs and theirs[k].shape == v.shape]
    dst.load_state_dict({**mine, **{k: theirs[k].clone() for k in copied}})
    return copied, [k for k in mine if k not in copied]


class KeypointProbe(nn.Module):
    """Encoder + soft-argmax + linear map: image → (B, J, 2) named joints in input
    pixels. ``weight`` is (2K+1, 2J): [x1 y1 … xK yK 1] @ weight = [x1 y1 … xJ yJ].
    It is applied about ``center`` (the points' mean on the probe frames, (K, 2)) —
    the same map, but float32 then multiplies small offsets instead of cancelling
    large products (a map from points that move little has large weights)."""

    def __init__(
        self,
        encoder: Encoder,
        weight: torch.Tensor,
        center: torch.Tensor,
        normalize: tuple[int, int] | None = None,
    ):
        super().__init__()
        self.encoder = encoder
        #: (w, h): output the joints as the packages' ``normalized`` coordinates
        #: ((x + 0.5) / w, (y + 0.5) / h), the form exported (models.postprocess).
        self.normalize = normalize
        w64, c64 = weight.double(), center.double().reshape(1, -1)
        self.register_buffer("center", c64.float())
        self.register_buffer("weight", w64[:-1].float())
        self.register_buffer("offset", (c64 @ w64[:-1] + w64[-1]).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        heat, _ = self.encoder(x)
        xy = to_input_pixels(soft_argmax(heat)[0]).flatten(1)
        out = ((xy - self.center) @ self.weight + self.offset).view(x.shape[0], -1, 2)
        if self.normalize is not None:
            w, h = self.normalize
            out = (out + 0.5) / torch.tensor([float(w), float(h)])
        return out


def count_macs(model: nn.Module, shape: tuple[int, int, int, int]) -> int:
    """Multiply-accumulates of one forward pass, counted by hooks on every Conv2d and
    Linear (output elements × input channels per group × kernel area); the softmax,
    rendering and activations are left out (a few % at most)."""
    total = 0

    def conv(m: nn.Conv2d, _inp, out) -> None:
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1]
        total += out.numel() * (m.in_channels // m.groups) * k

    def lin(m: nn.Linear, _inp, out) -> None:
        nonlocal total
        total += out.numel() * m.in_features

    hooks = [
        m.register_forward_hook(conv if isinstance(m, nn.Conv2d) else lin)
        for m in model.modules()
        if isinstance(m, nn.Conv2d | nn.Linear)
    ]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(shape))
    finally:
        for h in hooks:
            h.remove()
    return total
