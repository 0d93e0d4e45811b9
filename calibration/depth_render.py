"""Render a depth image into another camera of the rig: a z-buffer without sorting.

Every depth pixel with a measurement is a 3-D point; seen from another camera X,
several points can land on one pixel and only the nearest is visible. The usual
z-buffer sorts the points by depth every frame (or uses ``np.minimum.at``, slower
still). Here no frame is ever sorted: points are written in an *occlusion-compatible
order* (McMillan & Bishop, 1995) and the last write to a pixel wins. Two points that
compete for a pixel of X lie on one ray from X's centre ``c``, hence in one epipolar
plane, and along that ray the nearer point is the one whose depth-camera ray makes the
smaller angle with ``c``. Writing the depth pixels in order of decreasing angle to
``c`` (a permutation computed once per rig) leaves the nearest point in every pixel,
for any baseline and with lens distortion, since the angle is taken between true rays.

Each point covers an ``n`` × ``n`` pixel footprint, ``n`` chosen from how far apart
neighbouring depth pixels land in X, so that a finer grid (thermal, RGB) has no
pin-holes a farther surface could show through.

Per frame the work is one compiled pass over the depth pixels in raster order (each
point's depth in X and its buffer pixel through X's lens model,
:func:`~calibration.lens_kernels.project_points`), one pass keeping per pixel the
point latest in the render order fixed when the rig was set up (what writing them in
that order leaves, :func:`~calibration.lens_kernels.splat_in_order`) and one
minimum filter over the footprint (:func:`~calibration.depth_kernels.spread_footprints`).
Every per-point constant is computed in raster order once; the
result is the first, plain implementation's (tests/projection_reference.py) but on the
few pixels where the lens model, evaluated rather than read from a table, moves a point
across a pixel's edge (the tolerance is in :mod:`calibration.lens_kernels`).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from calibration.camera_math import DistortionTable, pixel_grid_rays
from calibration.depth_kernels import drop_flying_pixels, spread_footprints
from calibration.lens_kernels import lens_model, project_points, splat_bands, splat_in_order
from calibration.rig import Camera, RigError

#: Points nearer than this to a camera's centre (metres) are treated as behind it.
MIN_Z_M = 0.05

#: Table coordinate that sends a point outside every image (beyond the table's edge).
_FAR = np.float32(-1e6)

#: Width of the 2-D layout of point lists handed to cv2.remap.
_ROW = 1024

#: Largest finite float32: thresholding above it picks exactly the infinities.
_FLOAT32_MAX = float(np.finfo(np.float32).max)

#: MIN_Z_M as the kernels compare it (numpy compares float32 arrays with it in float32).
_MIN_Z32 = np.float32(MIN_Z_M)


def scaled_camera(cam: Camera, scale: float) -> Camera:
    """The same camera sampled on a grid ``scale`` times as fine (image area kept)."""
    if scale == 1.0:
        return cam
    w, h = max(1, round(cam.width * scale)), max(1, round(cam.height * scale))
    sx, sy = w / cam.width, h / cam.height
    K = cam.K.copy()
    K[0, :2] *= sx
    K[1, :2] *= sy
    K[0, 2] = (cam.K[0, 2] + 0.5) * sx - 0.5
    K[1, 2] = (cam.K[1, 2] + 0.5) * sy - 0.5
    return Camera(w, h, K, cam.dist, cam.T_ref_cam)


def decimated_camera(cam: Camera, step: int) -> Camera:
    """The camera of ``image[::step, ::step]``: pixel (i, j) is pixel (step·i, step·j)."""
    if step == 1:
        return cam
    K = cam.K.copy()
    K[:2, :] /= step
    w, h = -(-cam.width // step), -(-cam.height // step)
    return Camera(w, h, K, cam.dist, cam.T_ref_cam)


def remove_flying_pixels(depth: np.ndarray, jump: int) -> np.ndarray:
    """A copy of ``depth`` with mixed pixels at depth edges set to 0 (no measurement).

    Time-of-flight pixels straddling an edge report a depth between the two surfaces:
    points floating in free space, which belong to neither. A pixel is dropped when its
    3×3 neighbourhood spans more than ``jump`` units and it lies clearly inside that
    span (more than an eighth of it from both ends); pixels on either side of a clean
    edge are kept.
    """
    return drop_flying_pixels(depth, jump)


class RayProjection:
    """Points ``z · ray`` (one ray per pixel of some grid) → table coordinates in X.

    ``rays`` (N, 3) with ray z = 1; ``T_x_rays`` takes the rays' frame to X. A point
    at scaled depth ``z = scale · d`` has, in X, depth ``az·d + tz`` and table
    coordinates ``g_inf + g_c / (az·d + tz)``: per frame a multiply-add, a reciprocal
    and two multiply-adds per point, whatever the rotation and lens.
    """

    def __init__(self, rays: np.ndarray, T_x_rays: np.ndarray, table: DistortionTable, scale=1.0):
        R, t = T_x_rays[:3, :3], T_x_rays[:3, 3]
        a = rays @ R.T
        az = a[:, 2]
        self.forward = az > 1e-6
        az_safe = np.where(self.forward, az, 1.0)
        xinf, yinf = a[:, 0] / az_safe, a[:, 1] / az_safe
        tx, ty, tz = t
        self.tx, self.ty = float(tx), float(ty)
        inv = 1.0 / table.step
        self.g_max = (np.float32(table.u.shape[1] - 1), np.float32(table.u.shape[0] - 1))
        self.tz = np.float32(tz)
        self.az = (az * scale).astype(np.float32)
        self.gx_inf = ((xinf - table.x0) * inv).astype(np.float32)
        self.gx_c = ((tx - xinf * tz) * inv).astype(np.float32)
        self.gy_inf = ((yinf - table.y0) * inv).astype(np.float32)
        self.gy_c = ((ty - yinf * tz) * inv).astype(np.float32)
        self.all_forward = bool(self.forward.all())
        # No measurement (d = 0) puts a point at X's depth tz: when that is nearer than
        # MIN_Z_M, the depth test alone already rejects it.
        self.zero_is_near = bool(self.tz <= np.float32(MIN_Z_M))

    def raw_coords(
        self, d: np.ndarray, shape: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Depths (N values, any shape) → table columns and rows, depth in X and
        validity, all as ``shape``; the per-frame hot path.

        Coordinates are clamped to the table, which keeps ``cv2.remap`` on its fast
        path (it leaves it for whole runs of pixels when one maps outside the table).
        Where a point is invalid (``d`` = 0, behind X or nearer than ``MIN_Z_M``) its
        coordinates are finite but meaningless: the caller masks such points with the
        validity. That spares two masked writes over every point: the reciprocal is
        taken of the depth held at ``MIN_Z_M`` or more (so it is finite everywhere and
        unchanged where valid).
        """
        d = d.reshape(-1)
        zx = self.az * d
        zx += self.tz
        ok = zx > MIN_Z_M
        if not self.zero_is_near:
            ok &= d > 0
        if not self.all_forward:
            ok &= self.forward
        w = np.maximum(zx, np.float32(MIN_Z_M))
        np.reciprocal(w, out=w)
        gx = self.gx_c * w
        gx += self.gx_inf
        gy = self.gy_c * w
        gy += self.gy_inf
        for g, hi in ((gx, self.g_max[0]), (gy, self.g_max[1])):
            np.clip(g, np.float32(0.0), hi, out=g)
        return gx.reshape(shape), gy.reshape(shape), zx.reshape(shape), ok.reshape(shape)

    def coords(
        self, d: np.ndarray, shape: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Depths (N,) → table coordinates (as ``shape``), depth in X (N,) and validity
        (N,); invalid points look up table cell (0, 0), whose value lies outside X's
        image, so they stay outside."""
        gx, gy, zx, ok = self.raw_coords(d, shape)
        bad = ~ok
        gx[bad] = 0.0
        gy[bad] = 0.0
        return gx, gy, zx.reshape(-1), ok.reshape(-1)


def rays_of(cam: Camera) -> np.ndarray:
    """(H·W, 3) rays with z = 1 through every pixel centre of ``cam``."""
    xy = pixel_grid_rays(cam.width, cam.height, cam.K, cam.dist)
    return np.concatenate([xy, np.ones(xy.shape[:2] + (1,))], axis=2).reshape(-1, 3)


class DepthRenderer:
    """Renders depth images of the rig's depth camera into camera ``cam`` (z-buffer).

    Only depth pixels whose points can land in ``cam``'s image at some depth beyond
    ``min_depth_m`` are processed: a narrower camera (thermal) sees half of a ToF
    camera's field, so half the work is skipped.

    Everything that depends only on the rig and the image sizes is computed here, once:
    the depth pixels to process and their render order, their rays' constants in
    raster order (the others marked as never reaching the camera), and the lens model
    in the kernels' form, shifted to the splat's top-left corner and held in the padded
    buffer.
    """

    def __init__(
        self,
        depth_cam: Camera,
        cam: Camera,
        T_cam_depth: np.ndarray,
        depth_scale: float,
        min_depth_m: float = 0.2,
    ):
        self.cam = cam
        self.depth_cam = depth_cam
        self.T_cam_depth = np.asarray(T_cam_depth, np.float64)
        self.depth_scale = depth_scale
        self.depth_shape = (depth_cam.height, depth_cam.width)
        self.table = DistortionTable(cam.width, cam.height, cam.K, cam.dist)
        r = rays_of(depth_cam)
        proj = RayProjection(r, T_cam_depth, self.table, depth_scale)
        #: Raster indices of the depth pixels processed (ascending).
        self.subset = self._reachable(proj, depth_scale, min_depth_m)
        n_sub = len(self.subset)
        self._n_real = n_sub
        self._rows = max(1, -(-n_sub // _ROW))
        # Processed in chunks of _ROW so that cv2.remap gets a 2-D map; the padding
        # entries read pixel 0 and are then marked as having no measurement.
        padded = np.zeros(self._rows * _ROW, np.intp)
        padded[:n_sub] = self.subset
        self.proj = RayProjection(r[padded], T_cam_depth, self.table, depth_scale)
        # Occlusion-compatible order: decreasing angle between the ray and the centre of
        # X as seen from the depth camera (ascending cosine); the nearest is written last.
        R, t = T_cam_depth[:3, :3], T_cam_depth[:3, 3]
        centre = -R.T @ t
        norm = float(np.linalg.norm(centre))
        rs = r[self.subset]
        if norm > 1e-9:
            cos = (rs @ (centre / norm)) / np.linalg.norm(rs, axis=1)
            #: The render order, as positions in ``subset``.
            self.order = np.argsort(cos, kind="stable").astype(np.intp)
        else:
            self.order = np.arange(n_sub, dtype=np.intp)
        self.n = self._footprint(depth_scale)
        self.pad = self.n + 1
        self.padded_width = cam.width + 2 * self.pad
        self.padded_height = cam.height + 2 * self.pad
        # A point at pixel u covers the n pixels from floor(u + 1 - n/2). The lens gives
        # per frame u shifted by that and by the padding, held in the padded buffer, so
        # a truncation to int is all that is left per point.
        shift = 1.0 - self.n / 2.0 + self.pad
        bounds = (0.0, self.padded_width - self.n, 0.0, self.padded_height - self.n)
        self.lens = lens_model(self.table, shift, bounds)
        self._buf = np.empty(self.padded_height * self.padded_width, np.float32)
        # The z-buffer after the footprints spread: its padding stays +inf.
        self._grid = np.full((self.padded_height, self.padded_width), np.inf, np.float32)
        # Per frame (calibration.lens_kernels) every depth pixel is projected in
        # raster order (the ray constants read in sequence), and the processed
        # ones are then written in render order: their per-ray constants laid out over
        # the whole depth image (the same floats; the other pixels never forward),
        # and the buffers of each point's index and depth.
        n_depth = depth_cam.width * depth_cam.height
        raster = []
        for name in ("az", "gx_c", "gx_inf", "gy_c", "gy_inf", "forward"):
            values = getattr(self.proj, name)
            moved = np.zeros(n_depth, values.dtype)
            moved[self.subset] = values[:n_sub]
            raster.append(moved)
        self._raster = tuple(raster)
        #: Each depth pixel's place in the render order, from 1 (0: not processed).
        self._rank = np.zeros(n_depth, np.int32)
        self._rank[self.subset[self.order]] = np.arange(1, n_sub + 1, dtype=np.int32)
        self._ranks = np.empty(self.padded_height * self.padded_width, np.int32)
        self._at = np.empty(n_depth, np.int32)
        self._at_z = np.empty(n_depth, np.float32)
        self._bands = splat_bands(n_depth, self.padded_height, self.padded_width)
        self._deferred = np.empty(n_depth, np.int32)

    def _reachable(self, proj: RayProjection, depth_scale: float, min_depth_m: float) -> np.ndarray:
        """Raster indices of depth pixels whose ray meets the image (plus a margin)
        somewhere between ``min_depth_m`` and infinity. Depths are sampled evenly in
        inverse depth, finely enough that the projection moves less than the margin
        between samples (it moves monotonically along the epipolar line)."""
        margin = 16.0
        w, h = self.cam.width, self.cam.height
        n = proj.az.shape[0]
        hd, wd = self.depth_shape
        reach = np.zeros(n, bool)
        # Projection at depth z moves ~ f * baseline * (1/z) pixels: sample 1/z so that
        # consecutive samples are under margin/2 apart.
        f = float(max(self.cam.K[0, 0], self.cam.K[1, 1]))
        baseline = float(np.linalg.norm(proj_baseline(proj)))
        count = int(min(512, max(8, math.ceil(f * baseline / min_depth_m / (margin / 2)))))
        for inv_z in np.linspace(1.0 / min_depth_m, 1e-3, count):
            d = np.full(n, 1.0 / inv_z / depth_scale, np.float32)
            gx, gy, _, ok = proj.coords(d, (hd, wd))
            u, v = self.table.lookup(gx, gy)
            u, v = u.reshape(-1), v.reshape(-1)
            reach |= ok & (u > -margin) & (u < w + margin) & (v > -margin) & (v < h + margin)
        return np.nonzero(reach)[0].astype(np.intp)

    def _footprint(self, depth_scale: float) -> int:
        """Splat size: neighbouring depth pixels' spacing in X at 1.5 m (99th pct)."""
        hd, wd = self.depth_shape
        d = np.full(self._rows * _ROW, 1.5 / depth_scale, np.float32)
        d[self._n_real :] = 0
        gx, gy, _, _ = self.proj.coords(d, (self._rows, _ROW))
        u, v = self.table.lookup(gx, gy)
        uv = np.full((hd * wd, 2), np.nan, np.float32)
        uv[self.subset] = np.stack([u.reshape(-1), v.reshape(-1)], -1)[: self._n_real]
        uv = uv.reshape(hd, wd, 2)
        u, v = uv[..., 0], uv[..., 1]
        with np.errstate(invalid="ignore"):
            inside = (u > 0) & (u < self.cam.width) & (v > 0) & (v < self.cam.height)
        spans = []
        for axis in (0, 1):
            step = np.abs(np.diff(uv, axis=axis)).max(axis=-1)
            ok = inside[1:, :] & inside[:-1, :] if axis == 0 else inside[:, 1:] & inside[:, :-1]
            if ok.any():
                spans.append(np.percentile(step[ok], 99))
        spacing = max(spans) if spans else 1.0
        return max(1, math.ceil(spacing - 0.02))

    def render_inf(self, depth: np.ndarray) -> np.ndarray:
        """Z-buffer (H, W) float32 metres of ``depth`` (raw units, 0 = none) in X, with
        +inf where nothing landed: the form the hole filling and edge tests want; a view
        into this renderer's buffers, valid until the next render (see
        :meth:`render_padded`)."""
        grid, p = self.render_padded(depth)
        return grid[p : p + self.cam.height, p : p + self.cam.width]

    def render_padded(self, depth: np.ndarray) -> tuple[np.ndarray, int]:
        """:meth:`render_inf`'s z-buffer uncropped: (the padded buffer, its padding each
        side); for compiled kernels, which are quicker on a whole contiguous image.

        Each point is written once, at the top-left pixel of its footprint, into a
        buffer where the last write wins; an ``n``×``n`` minimum filter
        (:func:`~calibration.depth_kernels.spread_footprints`) then spreads it over the
        footprint, which equals splatting every point over ``n``² pixels with a
        per-pixel minimum. Points outside X (and pixels without a measurement) fall
        into the buffer's padding, which is cropped away; what the padding holds is
        not the z-buffer's (+inf, or points not spread). The result is a view into
        this renderer's buffers, valid until the next render.
        """
        if depth.dtype != np.uint16:
            raise RigError(f"depth frames must be uint16 depth units, got {depth.dtype}")
        if depth.shape != self.depth_shape:
            # The compiled pass reads and writes by the rig's image size, unchecked.
            raise RigError(
                f"depth frames are {depth.shape[1]}x{depth.shape[0]} but the rig's depth"
                f" camera is {self.depth_shape[1]}x{self.depth_shape[0]}; use the rig"
                " calibrated for this session"
            )
        # A strided view (the occlusion buffer's decimated depth) would get a kernel
        # that reads pixel by pixel, several times slower than the copy it saves.
        depth = np.ascontiguousarray(depth)
        p = self.proj
        lens = (self._raster, p.tz, p.zero_is_near, p.g_max, _MIN_Z32, self.lens)
        project_points(depth, lens, np.int32(self.padded_width), self._at, self._at_z)
        points = (self._at, self._at_z, self._rank)
        splat_in_order(points, self._ranks, self._buf, self._bands, self._deferred)
        raw = self._buf.reshape(self.padded_height, self.padded_width)
        if self.n == 1:
            return raw, self.pad
        spread_footprints(raw, self.n, self.pad, (self.cam.height, self.cam.width), self._grid)
        return self._grid, self.pad

    def render(self, depth: np.ndarray) -> np.ndarray:
        """Z-buffer (H, W) float32 metres of ``depth`` (raw units, 0 = none) in X, 0 = none
        (a new array; see :meth:`render_inf`)."""
        return inf_to_zero(self.render_inf(depth))


def inf_to_zero(z_inf: np.ndarray) -> np.ndarray:
    """A new contiguous array: ``z_inf`` with +inf set to 0 (one threaded pass)."""
    return cv2.threshold(z_inf, _FLOAT32_MAX, 0.0, cv2.THRESH_TOZERO_INV)[1]


def proj_baseline(proj: RayProjection) -> np.ndarray:
    """Translation part of a RayProjection (metres), for sizing searches."""
    return np.array([proj.tx, proj.ty, float(proj.tz)])
