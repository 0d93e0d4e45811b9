"""Deferred ray casting of one camera: geometry pass, shading pass, sensor optics.

Static solids (walls, floor, the ergometer) are cast once over the whole image; each
state then casts only the moving solids inside the pixel rectangles their bounding
boxes project to, z-tests them against the static depth buffer, shades the pixels they
won and runs the optics (blur, flying pixels) over that region plus a margin. The
result is a :class:`Layer` — the region's final clean pixels and labels — which the
driver pastes over the static frame. Labels come from the same depth buffer as the
pixels, so occlusion in the truth is exactly occlusion in the image. A calibration
board's plate is shaded by compiled loops (:mod:`drivers.synthetic.board_shading`),
every other solid by numpy over its hit pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivers.synthetic.board_shading import shade_board
from drivers.synthetic.camera import CameraModel, pixel_roi
from drivers.synthetic.materials import ROOM_C, Checker, Texture
from drivers.synthetic.raycast import Prim, Rect
from drivers.synthetic.scenes import Scene, world_to_camera
from drivers.synthetic.sensor import DEPTH_MAX_M, Sensor

#: Pixels of context the optics need around a region (blur and flying-pixel radius + 1).
MARGIN = 3
#: Light direction (towards the light) in the world: above and behind the rig.
LIGHT_WORLD = np.array([-0.3, -1.0, 1.4]) / np.linalg.norm([-0.3, -1.0, 1.4])

Rect4 = tuple[int, int, int, int]


@dataclass
class Layer:
    """Clean pixels, labels and (thermal) warming weights of a region of one frame."""

    rect: Rect4
    image: np.ndarray
    labels: np.ndarray
    skin: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        extra = self.skin.nbytes if self.skin is not None else 0
        return self.image.nbytes + self.labels.nbytes + extra


def _expand(rect: Rect4, m: int, h: int, w: int) -> Rect4:
    r0, r1, c0, c1 = rect
    return max(0, r0 - m), min(h, r1 + m), max(0, c0 - m), min(w, c1 + m)


class CameraRenderer:
    """Renders one camera of the rig in one scene; holds the static frame."""

    def __init__(self, scene: Scene, cam: CameraModel, kind: str, sensor: Sensor, texture: Texture):
        self.scene, self.cam, self.kind, self.sensor, self.texture = (
            scene,
            cam,
            kind,
            sensor,
            texture,
        )
        self.T_cam_world = world_to_camera(scene, cam)
        R = self.T_cam_world[:3, :3]
        self.up = (R @ np.array([0.0, 0.0, 1.0])).astype(np.float32)
        self.light = (R @ LIGHT_WORLD).astype(np.float32)
        self.rays = cam.rays()
        self.focal = float(cam.K[0][0])
        self.materials = scene.materials
        self.static = [p.moved(self.T_cam_world) for p in scene.static_prims()]
        if len(self.static) + 64 > 255:
            raise ValueError("too many static primitives for 8-bit ids")
        h, w = cam.height, cam.width
        full = (0, h, 0, w)
        self.t_static = np.full((h, w), np.inf, np.float32)
        self.id_static = np.zeros((h, w), np.uint8)
        for i, prim in enumerate(self.static, start=1):
            roi = self._roi(prim)
            if roi is not None:
                self._cast(prim, i, roi, self.t_static, self.id_static, full)
        self.pre_static = self._shade(
            full, self.t_static, self.id_static, self.static, first=1, base=None
        )
        self.final_static = self._post(full, self.pre_static)

    # -- geometry -------------------------------------------------------------------
    def _cast(
        self, prim: Prim, pid: int, roi: Rect4, tbuf: np.ndarray, ibuf: np.ndarray, ext: Rect4
    ) -> None:
        """Z-test ``prim`` into the buffers (which cover ``ext``) over pixel rectangle ``roi``."""
        r0, r1, c0, c1 = roi
        t = prim.intersect(self.rays[r0:r1, c0:c1])
        e0, c_0 = ext[0], ext[2]
        tb = tbuf[r0 - e0 : r1 - e0, c0 - c_0 : c1 - c_0]
        ib = ibuf[r0 - e0 : r1 - e0, c0 - c_0 : c1 - c_0]
        closer = t < tb
        tb[closer] = t[closer]
        ib[closer] = pid

    def _roi(self, prim: Prim) -> Rect4 | None:
        lo, hi = prim.bounds()
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            return 0, self.cam.height, 0, self.cam.width
        return pixel_roi(self.cam, lo, hi)

    # -- shading --------------------------------------------------------------------
    def _shade(
        self, ext: Rect4, tbuf, ibuf, prims: list[Prim], first: int, base: dict | None
    ) -> dict:
        """Shade the pixels of ``ext`` whose id is >= ``first``; others come from ``base``."""
        r0, r1, c0, c1 = ext
        h, w = r1 - r0, c1 - c0
        kind = self.kind
        if base is None:
            out = {"labels": np.zeros((h, w), np.uint8)}
            if kind == "thermal":
                out["temp"] = np.full((h, w), ROOM_C, np.float32)
                out["skin"] = np.zeros((h, w), np.float32)
            elif kind == "depth":
                out["z"] = np.zeros((h, w), np.float32)
                out["drop"] = np.ones((h, w), bool)
            elif kind == "ir":
                out["amp"] = np.zeros((h, w), np.float32)
            else:
                out["rgb"] = np.zeros((h, w, 3), np.float32)
        else:
            out = {k: v[r0:r1, c0:c1].copy() for k, v in base.items()}
        flat_ids = ibuf.ravel()
        sel = np.flatnonzero(flat_ids >= first)
        if sel.size == 0:
            return out
        ids = flat_ids[sel]
        order = np.argsort(ids, kind="stable")
        sel, ids = sel[order], ids[order]
        bounds = np.searchsorted(ids, np.arange(first, first + len(prims) + 1))
        rays = None  # the region's rays, flat: a copy, made for the first general prim
        tflat = tbuf.ravel()
        flat = {
            k: v.reshape(len(tflat), -1) if v.ndim == 3 else v.reshape(-1) for k, v in out.items()
        }
        rand = self.sensor.rand_a[r0:r1, c0:c1].ravel() if kind == "depth" else None
        for k, prim in enumerate(prims):
            pix = sel[bounds[k] : bounds[k + 1]]
            if pix.size == 0:
                continue
            material = self.materials[prim.material - 1]
            if isinstance(prim, Rect) and isinstance(material, Checker):
                shade_board(
                    kind,
                    prim,
                    material,
                    pix,
                    self.rays,
                    tflat,
                    ext,
                    self.focal,
                    self.light,
                    flat,
                    ROOM_C,
                    DEPTH_MAX_M,
                )
                continue
            if rays is None:
                rays = self.rays[r0:r1, c0:c1].reshape(-1, 3)
            d = rays[pix]
            t = tflat[pix]
            attrs = prim.surface(d * t[:, None])
            n = attrs["normal"]
            cos_view = np.clip(-np.einsum("ij,ij->i", n, d), 0.0, 1.0)
            attrs.update(t=t, d=d, up=self.up, cos_view=cos_view, kind=kind)
            attrs["footprint"] = t / (self.focal * np.maximum(cos_view, 0.05))
            surf = material.shade(attrs, self.texture)
            flat["labels"][pix] = surf.label
            if kind == "thermal":
                temp = surf.temperature
                grazing = (1.0 - cos_view) ** 5
                flat["temp"][pix] = temp - (temp - ROOM_C) * 0.9 * grazing
                flat["skin"][pix] = surf.skin
            elif kind == "depth":
                z = t * d[:, 2]
                drop = (cos_view < 0.12) | (z > DEPTH_MAX_M)
                if np.any(surf.dropout):
                    drop |= rand[pix] < surf.dropout
                flat["z"][pix] = z
                flat["drop"][pix] = drop
            elif kind == "ir":
                refl = surf.albedo
                if refl.ndim == 2:
                    refl = refl.mean(axis=1)
                # The ToF camera lights the scene itself: a Lambertian return falls
                # with the cosine of incidence over the squared range.
                flat["amp"][pix] = refl * cos_view / (t * t)
            else:
                diffuse = np.maximum(n @ self.light, 0.0)
                shade = 0.36 + 0.70 * diffuse
                rgb = surf.albedo * (255.0 * shade)[:, None]
                if surf.shiny:
                    half = self.light[None, :] - d
                    half /= np.sqrt(np.einsum("ij,ij->i", half, half))[:, None]
                    spec = np.maximum(np.einsum("ij,ij->i", n, half), 0.0) ** 40
                    rgb += (127.5 * surf.shiny * spec)[:, None]
                flat["rgb"][pix] = rgb
        return out

    def _post(self, ext: Rect4, pre: dict) -> dict:
        s = self.sensor
        if self.kind == "thermal":
            image, skin = s.thermal_post(pre["temp"], pre["skin"], ext)
            return {"image": image, "labels": pre["labels"], "skin": skin}
        if self.kind == "depth":
            return {"image": s.depth_post(pre["z"], pre["drop"], ext), "labels": pre["labels"]}
        if self.kind == "ir":
            return {"image": s.ir_post(pre["amp"], ext), "labels": pre["labels"]}
        return {"image": s.color_post(pre["rgb"], ext), "labels": pre["labels"]}

    # -- one state --------------------------------------------------------------------
    def render(self, dynamic_world: list[Prim]) -> Layer:
        """The region that the moving solids change, rendered and post-processed."""
        h, w = self.cam.height, self.cam.width
        prims = [p.moved(self.T_cam_world) for p in dynamic_world]
        rois = [self._roi(p) for p in prims]
        boxes = [r for r in rois if r is not None]
        if not boxes:
            return self._empty()
        union = (
            min(b[0] for b in boxes),
            max(b[1] for b in boxes),
            min(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
        region = _expand(union, MARGIN, h, w)
        ext = _expand(region, MARGIN, h, w)
        r0, r1, c0, c1 = ext
        tbuf = self.t_static[r0:r1, c0:c1].copy()
        ibuf = self.id_static[r0:r1, c0:c1].copy()
        first = len(self.static) + 1
        for k, (prim, roi) in enumerate(zip(prims, rois, strict=True)):
            if roi is not None:
                self._cast(prim, first + k, roi, tbuf, ibuf, ext)
        pre = self._shade(ext, tbuf, ibuf, prims, first=first, base=self.pre_static)
        post = self._post(ext, pre)
        a0, a1 = region[0] - r0, region[1] - r0
        b0, b1 = region[2] - c0, region[3] - c0
        crop = {k: np.ascontiguousarray(v[a0:a1, b0:b1]) for k, v in post.items()}
        return Layer(region, crop["image"], crop["labels"], crop.get("skin"))

    def _empty(self) -> Layer:
        shape = (0, 0, 3) if self.kind == "color" else (0, 0)
        dtype = np.uint8 if self.kind == "color" else np.uint16
        skin = np.zeros((0, 0), np.uint8) if self.kind == "thermal" else None
        return Layer((0, 0, 0, 0), np.zeros(shape, dtype), np.zeros((0, 0), np.uint8), skin)
