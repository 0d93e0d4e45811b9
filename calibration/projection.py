"""Depth-aware transfer of labels (or any image) from one camera of the rig to another.

A label drawn or predicted in the RGB image is carried into the thermal image through
the depth camera: the depth frame is rendered into the thermal camera (a z-buffer,
:mod:`calibration.depth_render`), so every thermal pixel gets the 3-D point it sees;
that point is projected into the RGB camera and takes the label found there. Working
from the target's pixels backwards gives every thermal pixel its own sample at the
RGB image's resolution, so label borders are as sharp as the RGB labels, not as coarse
as the depth grid.

Honest where it cannot know. Each target pixel gets a reason code:

=====  ===========  ===================================================================
code   name         meaning
=====  ===========  ===================================================================
0      valid        labeled
1      edge         labeled, but within ``edge_radius_px`` of a depth discontinuity
                    (the point may belong to either surface): labeled, less sure
2      filled       labeled; its depth was filled from its neighbours (a small hole)
3      no_depth     unknown: no depth measurement reached this pixel (the depth camera
                    does not see what this camera sees there, or measured nothing)
4      occluded     unknown: a nearer surface hides the point from the source camera,
                    whose label there belongs to that nearer surface
5      outside      unknown: the point lies outside the source camera's image
6      unlabeled    unknown: the source label image has no label there (255)
=====  ===========  ===================================================================

Occlusion in the source view is tested with a second z-buffer: the depth frame
rendered into the source camera (coarser: it only has to tell surfaces centimetres
apart). A point farther than that buffer by more than the tolerance is hidden.

Confidence of a class (for reviewing worst first): the share of the class's area in
the target that is ``valid`` and not within 2 px of unknown ground — edge pixels,
filled pixels and unknown neighbours all lower it. NaN when the class is not
in the frame. A frame's confidence is the lowest over the non-background classes
present (background's when none is); auto-labeling scales it down further with how
far the labels moved over the frame's time gap (``app.labels.autolabel``), or with the gap
alone (:func:`time_gap_factor`).

Speed (``thermorig bench --only projection``): everything that depends only on the rig
and the image sizes is built once per :class:`Projector` (rays, lens tables, reachable
depth pixels in render order). Per frame, the per-pixel work runs in compiled kernels
(:mod:`calibration.depth_kernels`: flying pixels, the holes to fill and their fill;
:mod:`calibration.lens_kernels`: the depth pixels into each z-buffer;
:mod:`calibration.transfer_kernels`: each target pixel's code from its depth, the edge
test; every target pixel into the source with its occlusion test and reason code in one
pass; each one's label looked up and the labels and reasons settled in one pass (as
``cv2.remap`` looks up, exactly); the confidence counts). The results are the first
implementation's but on a few pixels per frame (the kernels evaluate the lens model
where it read a table; the tolerance is in :mod:`calibration.lens_kernels`,
tests/test_projection_fast.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from calibration.camera_math import DistortionTable
from calibration.depth_kernels import fill_from_neighbours, flat_holes, holes_to_fill
from calibration.depth_render import (
    MIN_Z_M,
    DepthRenderer,
    RayProjection,
    decimated_camera,
    inf_to_zero,
    rays_of,
    remove_flying_pixels,
    scaled_camera,
)
from calibration.lens_kernels import FLAT_INDEX_LIMIT, lens_model
from calibration.rig import Rig, RigError

# The reason codes live with the kernels that write them; named and explained here.
from calibration.transfer_kernels import (
    EDGE,
    FILLED,
    NO_DEPTH,  # noqa: F401 (a reason code, imported from here)
    OCCLUDED,  # noqa: F401
    OUTSIDE,  # noqa: F401
    UNLABELED,  # noqa: F401
    VALID,
    count_sure,
    depth_codes,
    look_up_labels,
    trace_targets,
)
from drivers.truth import UNKNOWN_LABEL

REASONS = ("valid", "edge", "filled", "no_depth", "occluded", "outside", "unlabeled")
#: Codes whose pixels carry a label.
LABELED_REASONS = (VALID, EDGE, FILLED)

_KERNEL5 = np.ones((5, 5), np.uint8)
#: Pixel counts below this are exact in cv2.calcHist's float32 bins.
_EXACT_BINS = 1 << 24
#: Up to this many classes, counting each class apart (count_sure) beats a histogram.
_FEW_CLASSES = 8


@dataclass(frozen=True)
class ProjectionParams:
    """Tolerances of the transfer, in metres and pixels; defaults suit ToF at 0.5–4 m."""

    #: A point is hidden in the source view when it is farther than the source's
    #: z-buffer by more than ``occlusion_tol_m + occlusion_tol_rel * depth``.
    occlusion_tol_m: float = 0.03
    occlusion_tol_rel: float = 0.01
    #: A target pixel is near a depth edge when its neighbourhood spans more than this.
    edge_jump_m: float = 0.05
    edge_radius_px: int = 1
    #: Depth pixels strictly inside a neighbourhood spanning more than this are
    #: time-of-flight mixed pixels and are dropped (0 disables).
    flying_jump_m: float = 0.05
    #: Holes in the target's depth are filled where at least this many of the 8
    #: neighbours have depth (larger holes stay unknown).
    fill_min_neighbours: int = 5
    #: Time gap (seconds) between target frame and depth/source frames at which the
    #: frame's confidence is halved (see :func:`time_gap_factor`).
    time_gap_half_s: float = 0.040


def time_gap_factor(gap_s: float, half_s: float) -> float:
    """Confidence factor for a time gap: 1 at 0, 0.5 at ``half_s``, Gaussian fall-off.

    The fallback when a frame's motion cannot be measured (see ``app.labels.autolabel``):
    moving limbs shift between exposures; the synthetic cycling scene loses about six
    points of calf IoU at 12 ms, which a half-value of 40 ms reproduces.
    """
    if not math.isfinite(gap_s):
        return 1.0
    return float(0.5 ** ((gap_s / half_s) ** 2)) if half_s > 0 else 1.0


@dataclass
class Geometry:
    """Per target pixel: its depth, its source pixel (u, v) and its reason code
    (u and v mean nothing where the reason is ``no_depth``)."""

    depth: np.ndarray
    u: np.ndarray
    v: np.ndarray
    reason: np.ndarray


@dataclass
class Transfer:
    """One target frame's labels and how far to trust them."""

    labels: np.ndarray  # (H, W) uint8 class ids, 255 unknown
    reason: np.ndarray  # (H, W) uint8 reason codes (module docstring)
    depth: np.ndarray  # (H, W) float32 metres along the target's axis, 0 = none
    class_confidence: np.ndarray  # (C,) float32, NaN where the class is absent
    confidence: float
    time_gap_s: float = math.nan
    extra: dict = field(default_factory=dict)

    @property
    def unknown_share(self) -> float:
        return float(np.count_nonzero(self.labels == UNKNOWN_LABEL) / self.labels.size)

    def reason_shares(self) -> dict[str, float]:
        counts = np.bincount(self.reason.ravel(), minlength=len(REASONS))
        return {n: float(c / self.reason.size) for n, c in zip(REASONS, counts, strict=False)}


class Projector:
    """Carries images of camera ``src`` into camera ``dst`` through the depth camera.

    Built once per rig (precomputes rays, lens tables and render orders, about a
    second); then :meth:`transfer_labels` per frame, or :meth:`transfer_values` for
    display (e.g. ``src="thermal", dst="color"`` paints temperatures onto the RGB
    image; ``dst_scale`` renders the target on a coarser grid). One frame at a time per
    instance: it keeps scratch buffers.
    """

    def __init__(
        self,
        rig: Rig,
        depth_scale: float,
        src: str = "color",
        dst: str = "thermal",
        params: ProjectionParams | None = None,
        dst_scale: float = 1.0,
    ):
        if not depth_scale or depth_scale <= 0:
            raise RigError(f"depth scale must be positive metres per unit, got {depth_scale}")
        self.rig, self.src, self.dst = rig, src, dst
        self.depth_name = rig.reference
        self.params = params or ProjectionParams()
        self.depth_scale = float(depth_scale)
        dcam, scam, tcam = rig[self.depth_name], rig[src], scaled_camera(rig[dst], dst_scale)
        self.depth_cam, self.src_cam, self.dst_cam = dcam, scam, tcam
        T_dst_depth = rig.T_dst_src(self.depth_name, dst)
        self.dst_render = DepthRenderer(dcam, tcam, T_dst_depth, depth_scale)
        # The source's occlusion buffer: a quarter as many depth points, rendered on a
        # grid coarse enough that they leave no pin-holes (spacing under a pixel).
        self._decimate = 2 if dcam.width * dcam.height >= 160_000 else 1
        dcam_d = decimated_camera(dcam, self._decimate)
        fx_ratio = scam.K[0, 0] / dcam_d.K[0, 0]
        self._occ_scale = min(1.0, 0.8 / fx_ratio)
        occ_cam = scaled_camera(scam, self._occ_scale)
        self.src_render = DepthRenderer(
            dcam_d, occ_cam, rig.T_dst_src(self.depth_name, src), depth_scale
        )
        # Target pixel with depth z (metres) → source table coordinates and depth.
        self._src_table = DistortionTable(scam.width, scam.height, scam.K, scam.dist)
        self._to_src = RayProjection(rays_of(tcam), rig.T_dst_src(dst, src), self._src_table)
        self._src_lens = lens_model(self._src_table)
        t = self._to_src
        self._rays = (t.az, t.gx_c, t.gx_inf, t.gy_c, t.gy_inf, t.forward)
        self._kernel3 = np.ones((3, 3), np.uint8)

    # -- checks ------------------------------------------------------------------------
    def check(self, depth: np.ndarray, image: np.ndarray) -> None:
        """One-line errors for frames that do not fit the rig."""
        for name, cam, arr in (
            (self.depth_name, self.depth_cam, depth),
            (self.src, self.src_cam, image),
        ):
            if arr.shape[:2] != (cam.height, cam.width):
                raise RigError(
                    f"{name} frames are {arr.shape[1]}x{arr.shape[0]} but the rig's {name} camera"
                    f" is {cam.width}x{cam.height}; use the rig calibrated for this session"
                )
        if depth.dtype != np.uint16:
            raise RigError(f"depth frames must be uint16 depth units, got {depth.dtype}")

    # -- per frame ---------------------------------------------------------------------
    def target_depth(self, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Depth seen by the target (metres, 0 = none) after small holes are filled,
        and the mask of filled pixels."""
        z_inf, filled, _ = self._target_depth(depth)
        return inf_to_zero(z_inf), filled.view(bool)

    def _target_depth(
        self, depth: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, int]]:
        """The target's depth, +inf where none (what minimum filters want; a view into
        the renderer's buffer), the filled pixels (uint8, 1 where filled), and that
        whole buffer with its padding (what the compiled kernels read quickest)."""
        p = self.params
        if p.flying_jump_m > 0:
            depth = remove_flying_pixels(depth, int(round(p.flying_jump_m / self.depth_scale)))
        self._clean_depth = depth
        grid, pad = self.dst_render.render_padded(depth)  # holes at +inf: never a minimum
        h, w = self.dst_cam.height, self.dst_cam.width
        z_inf = grid[pad : pad + h, pad : pad + w]
        if p.fill_min_neighbours > 8:
            return z_inf, np.zeros(z_inf.shape, np.uint8), (grid, pad)
        filled = np.empty(z_inf.shape, np.uint8)
        holes = holes_to_fill((grid, pad), p.fill_min_neighbours, filled)
        if holes.any():
            _fill_from_nearest_neighbour(z_inf, filled, holes, self._kernel3)
        return z_inf, filled, (grid, pad)

    def geometry(self, depth: np.ndarray) -> Geometry:
        """Where each target pixel finds its source pixel, and why it may not: the
        z-buffers, hole filling and the edge test here, every target pixel traced into the
        source in one compiled pass (:func:`~calibration.transfer_kernels.trace_targets`)."""
        p = self.params
        z_inf, filled, padded = self._target_depth(depth)
        occ = self.src_render.render_inf(self._clean_depth[:: self._decimate, :: self._decimate])
        occ_min = cv2.erode(occ, self._kernel3)
        np.copyto(occ, occ_min, where=np.isinf(occ))  # pin-holes: nearest neighbour
        # Hidden: farther than the surface the source sees there, or farther by a depth
        # jump than a surface right beside it. The second test covers the rim where the
        # source's labels of a nearer object reach beyond its depth silhouette (ToF
        # loses the grazing rim and mixed pixels); it needs a jump, not just a
        # difference, so that slanted floors seen at a grazing angle do not trip it.
        # Both thresholds are folded into one image in the coarse buffer's pixels.
        limit = np.minimum(occ + np.float32(p.occlusion_tol_m), occ_min + np.float32(p.edge_jump_m))
        shape = z_inf.shape
        codes = np.empty(shape, np.uint8)
        z = np.empty(shape, np.float32)
        depth_codes(padded, p.edge_radius_px, p.edge_jump_m, filled, (codes, z))
        reason = np.empty(shape, np.uint8)
        u = np.empty(shape, np.float32)
        v = np.empty(shape, np.float32)
        t = self._to_src
        lens = (self._rays, t.tz, t.zero_is_near, t.g_max, np.float32(MIN_Z_M), self._src_lens)
        occlusion = (
            limit,
            np.float32(self._occ_scale),
            np.float32(0.5 * self._occ_scale - 0.5),
            np.float32(1.0 - p.occlusion_tol_rel),
        )
        trace_targets(z, lens, occlusion, codes, (reason, u, v))
        return Geometry(z, u, v, reason)

    def transfer_labels(
        self, depth: np.ndarray, labels: np.ndarray, n_classes: int, time_gap_s: float = math.nan
    ) -> Transfer:
        """Labels of the source image (H, W uint8, 255 = unlabeled) → the target."""
        self.check(depth, labels)
        g = self.geometry(depth)
        reason = g.reason
        if labels.dtype == np.uint8 and labels.size < FLAT_INDEX_LIMIT:
            out = np.empty(reason.shape, np.uint8)
            look_up_labels(np.ascontiguousarray(labels), g.u, g.v, reason, out)
        else:  # other types, huge images: OpenCV's lookup, the same rule in numpy
            out = cv2.remap(
                labels, g.u, g.v, cv2.INTER_NEAREST, None, cv2.BORDER_CONSTANT, UNKNOWN_LABEL
            )
            reason[(out == UNKNOWN_LABEL) & (reason <= FILLED)] = UNLABELED
            out[reason > FILLED] = UNKNOWN_LABEL
        conf = class_confidence(out, reason, n_classes)
        factor = time_gap_factor(time_gap_s, self.params.time_gap_half_s)
        return Transfer(out, reason, g.depth, conf, frame_confidence(conf) * factor, time_gap_s)

    def transfer_values(
        self,
        depth: np.ndarray,
        image: np.ndarray,
        interpolation: int = cv2.INTER_LINEAR,
        fill: float = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Any source image (temperatures, colours) → the target, for display: the
        carried image (``fill`` where unknown) and the reason codes."""
        self.check(depth, image)
        g = self.geometry(depth)
        out = cv2.remap(image, g.u, g.v, interpolation, borderMode=cv2.BORDER_REPLICATE)
        out[g.reason > FILLED] = fill
        return out, g.reason


def _fill_from_nearest_neighbour(
    z_inf: np.ndarray, fill: np.ndarray, holes: np.ndarray, kernel: np.ndarray
) -> None:
    """Set ``z_inf`` at the ``fill`` pixels (uint8; ``holes`` of them per row) to the
    minimum of their 3×3 neighbourhood (edge pixels replicated), all read before any is
    written. A few pixels are done by gathering their neighbours, many by a
    whole-image ``cv2.erode``: same values."""
    if int(holes.sum()) * 9 > fill.size // 8:
        near = cv2.erode(z_inf, kernel, borderType=cv2.BORDER_REPLICATE)
        np.copyto(z_inf, near, where=fill.view(bool))
        return
    fill_from_neighbours(z_inf, flat_holes(fill, holes))


def class_confidence(labels: np.ndarray, reason: np.ndarray, n_classes: int) -> np.ndarray:
    """Per class: the share of its pixels that are ``valid`` and not within 2 px of an
    unknown pixel (where the class's true extent cannot be told); NaN if absent.

    A few classes (uint8 labels) are counted in one compiled pass
    (:func:`~calibration.transfer_kernels.count_sure`); many on uint8 images without
    boolean temporaries: the labels, and the labels with every pixel that is not sure
    set to 255 (a bitwise or with a 0/255 mask), by histogram.
    """
    if labels.dtype != np.uint8 or labels.size >= _EXACT_BINS:
        return _class_confidence_numpy(labels, reason, n_classes)
    labels = np.ascontiguousarray(labels)
    reason = np.ascontiguousarray(reason, np.uint8)
    if n_classes <= _FEW_CLASSES:
        counts, good = count_sure(labels, reason, n_classes)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, good / counts, np.nan).astype(np.float32)
    unknown = cv2.compare(labels, UNKNOWN_LABEL, cv2.CMP_EQ)
    not_sure = cv2.bitwise_or(cv2.dilate(unknown, _KERNEL5), cv2.compare(reason, VALID, cv2.CMP_NE))
    counts = _counts(labels, n_classes)
    good = _counts(cv2.bitwise_or(labels, not_sure), n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, good / counts, np.nan).astype(np.float32)


def _counts(image: np.ndarray, n: int) -> np.ndarray:
    """Pixels of each value 0..n-1 of a uint8 image, (n,) int64, by histogram."""
    hist = cv2.calcHist([image], [0], None, [256], [0, 256])  # float32 bins: exact < 2^24
    return hist.ravel()[:n].astype(np.int64)


def _class_confidence_numpy(labels: np.ndarray, reason: np.ndarray, n_classes: int) -> np.ndarray:
    """:func:`class_confidence` for any integer labels and any size (slower)."""
    unknown = (labels == UNKNOWN_LABEL).astype(np.uint8)
    sure = (reason == VALID) & ~cv2.dilate(unknown, _KERNEL5).view(bool)
    counts = np.bincount(labels.ravel(), minlength=256)[:n_classes]
    good = np.bincount(np.where(sure, labels, UNKNOWN_LABEL).ravel(), minlength=256)[:n_classes]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, good / counts, np.nan).astype(np.float32)


def frame_confidence(class_conf: np.ndarray) -> float:
    """Lowest confidence over the non-background classes present (class 0 otherwise)."""
    fg = class_conf[1:]
    fg = fg[np.isfinite(fg)]
    if len(fg):
        return float(fg.min())
    return float(class_conf[0]) if len(class_conf) and np.isfinite(class_conf[0]) else 0.0


def frame_confidences(conf: np.ndarray) -> np.ndarray:
    """:func:`frame_confidence` of each row of an ``(N, C)`` table, NaN for a row with
    no finite value (a frame never labeled): a long session's rows in a few array
    passes instead of a Python call per row (a 20-minute session has 36,000)."""
    conf = np.asarray(conf)
    finite = np.isfinite(conf)
    if conf.shape[1] == 0:
        return np.full(len(conf), np.nan)
    fg = finite[:, 1:]
    fg_min = np.where(fg, conf[:, 1:], np.inf).min(axis=1, initial=np.inf)
    background = np.where(finite[:, 0], conf[:, 0], 0.0)
    out = np.where(fg.any(axis=1), fg_min, background).astype(np.float64)
    out[~finite.any(axis=1)] = np.nan
    return out
