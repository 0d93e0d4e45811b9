"""The calibration board's pixels shaded in compiled loops instead of numpy passes.

A held or moving board covers a third of the colour camera's 1280×720 frame, and the
calibration scene's board never holds a state twice while it moves, so each of its
frames is a fresh render. Shaded through the general path (a gather of the hit rays,
a dict of per-pixel arrays, a dozen full-length temporaries per camera) that cost
~30 ms of numpy per colour frame (57 ms for the four cameras), much of it holding the
interpreter: the wizard's board search and the window's paints waited for it. Here
the four cost ~21 ms. The same arithmetic runs per pixel, in float32 as numpy did
it, without temporaries and without the interpreter lock: the frames agree with the
general path's to float32 rounding — a final 8- or 16-bit value one step apart in
under 0.02 % of the board's pixels (``tests/test_synthetic_board_shading.py``).

Only a flat :class:`~drivers.synthetic.raycast.Rect` printed with a
:class:`~drivers.synthetic.materials.Checker` takes this path; the print's marks (the
coded marker, the white area around it) are still sampled by their own mip-mapped
texture, only over the box they cover.
"""

from __future__ import annotations

import numba
import numpy as np

from drivers.kernel_target import prefer_wide_vectors
from drivers.synthetic.materials import Checker
from drivers.synthetic.raycast import Rect

prefer_wide_vectors()

_F = np.float32
#: Camera kinds, as the kernels know them.
THERMAL, DEPTH, IR, COLOR = 0, 1, 2, 3
KIND_CODE = {"thermal": THERMAL, "depth": DEPTH, "ir": IR, "color": COLOR}
#: Stand-ins for the second outputs of the kinds that have none.
_NO_SKIN = np.zeros(0, _F)
_NO_DROP = np.zeros(0, np.bool_)


@numba.njit(nogil=True, cache=True)
def board_geometry(
    pix: np.ndarray,
    rays: np.ndarray,
    tflat: np.ndarray,
    region: np.ndarray,
    frame: np.ndarray,
    focal: np.float32,
    u: np.ndarray,
    v: np.ndarray,
    width: np.ndarray,
    cos_view: np.ndarray,
    printed: np.ndarray,
) -> None:
    """Surface coordinates of the board's hit pixels ``pix`` (flat indices into the
    region ``region = (r0, c0, w)`` of the full-frame ``rays``).

    ``frame`` rows: origin, normal, ex, ey (float32). Out, per hit: ``u``, ``v``
    (metres on the plate), ``width`` (the pixel's footprint on it, at least 1 µm),
    ``cos_view`` (clipped to [0, 1]) and ``printed`` (the printed face is seen).
    """
    r0, c0, w = region[0], region[1], region[2]
    o0, o1, o2 = frame[0, 0], frame[0, 1], frame[0, 2]
    n0, n1, n2 = frame[1, 0], frame[1, 1], frame[1, 2]
    for k in range(pix.size):
        p = pix[k]
        r = r0 + p // w
        c = c0 + p % w
        d0, d1, d2 = rays[r, c, 0], rays[r, c, 1], rays[r, c, 2]
        t = tflat[p]
        x0, x1, x2 = d0 * t, d1 * t, d2 * t
        # Face the camera: both sides of a plate are visible; the print looks along -n.
        face = _F(-1.0) if (x0 * n0 + x1 * n1 + x2 * n2) > _F(0.0) else _F(1.0)
        m0, m1, m2 = face * n0, face * n1, face * n2
        e0, e1, e2 = x0 - o0, x1 - o1, x2 - o2
        u[k] = e0 * frame[2, 0] + e1 * frame[2, 1] + e2 * frame[2, 2]
        v[k] = e0 * frame[3, 0] + e1 * frame[3, 1] + e2 * frame[3, 2]
        cv = -(m0 * d0 + m1 * d1 + m2 * d2)
        cv = min(max(cv, _F(0.0)), _F(1.0))
        cos_view[k] = cv
        fp = t / (focal * max(cv, _F(0.05)))
        width[k] = max(fp, _F(1e-6))
        printed[k] = face <= _F(0.0)


@numba.njit(inline="always")
def _square_wave_integral(z: np.float32, half_inv: np.float32, two_s: np.float32) -> np.float32:
    """∫ of the square wave (+1 on [0, S), -1 on [S, 2S)) from 0 to ``z``."""
    q = z * half_inv
    q = q - np.floor(q)
    q = abs(q - _F(0.5))
    return (_F(0.5) - q) * two_s


@numba.njit(inline="always")
def _box(x, w, s, hi, half_inv, two_s):
    """Box filters over [x - w/2, x + w/2] of the indicator of [-S, hi] and of the
    square wave times it (see :meth:`Checker._box`)."""
    half = w / _F(2.0)
    a = min(max(x - half, -s), hi)
    b = min(max(x + half, -s), hi)
    return (b - a) / w, (
        _square_wave_integral(b, half_inv, two_s) - _square_wave_integral(a, half_inv, two_s)
    ) / w


@numba.njit(nogil=True, cache=True)
def board_shade(
    kind: int,
    pix: np.ndarray,
    rays: np.ndarray,
    tflat: np.ndarray,
    region: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    width: np.ndarray,
    cos_view: np.ndarray,
    printed: np.ndarray,
    marks: np.ndarray,
    pattern: np.ndarray,
    out: np.ndarray,
    skin: np.ndarray,
    drop: np.ndarray,
) -> None:
    """What the camera ``kind`` measures on the board's hit pixels, into the region's
    flat output arrays.

    ``pattern`` (float32): square S, cols × S, rows × S, 0.5 / S, 2 S, the bare metal's
    temperature (°C), the heated print's rise over it, the back's temperature, room
    temperature, the depth limit (m), the plate normal · the light. ``marks``: the print's blackness differences per hit
    (zeros where it has none). ``out`` is the kind's main array, a column per channel
    (°C, metres, amplitude, or RGB); ``skin`` (thermal) and ``drop`` (depth) the
    second ones, of any length for the other kinds. Labels are the caller's (the board
    is background).
    """
    s, hi_u, hi_v, half_inv, two_s = pattern[0], pattern[1], pattern[2], pattern[3], pattern[4]
    cool, rise, back, room = pattern[5], pattern[6], pattern[7], pattern[8]
    depth_max, n_light = pattern[9], pattern[10]
    r0, c0, w = region[0], region[1], region[2]
    for k in range(pix.size):
        p = pix[k]
        t = tflat[p]
        cv = cos_view[k]
        if kind == DEPTH:
            z = t * rays[r0 + p // w, c0 + p % w, 2]
            out[p, 0] = z
            drop[p] = (cv < _F(0.12)) or (z > depth_max)
            continue
        black = _F(0.0)
        if printed[k]:
            wk = width[k]
            iu, su = _box(u[k], wk, s, hi_u, half_inv, two_s)
            iv, sv = _box(v[k], wk, s, hi_v, half_inv, two_s)
            black = _F(0.5) * (iu * iv + su * sv) + marks[k]
            black = min(max(black, _F(0.0)), _F(1.0))
        if kind == THERMAL:
            temp = cool + rise * black if printed[k] else back
            grazing = (_F(1.0) - cv) ** _F(5.0)
            out[p, 0] = temp - (temp - room) * _F(0.9) * grazing
            skin[p] = _F(0.0)
            continue
        grey = _F(0.92) - _F(0.87) * black if printed[k] else _F(0.45)
        if kind == IR:  # the ToF camera's own light: cosine over the squared range
            out[p, 0] = grey * cv / (t * t)
            continue
        # Lambert under the scene's light; the normal faces the camera (-n on the print).
        diffuse = -n_light if printed[k] else n_light
        val = grey * (_F(255.0) * (_F(0.36) + _F(0.70) * max(diffuse, _F(0.0))))
        out[p, 0] = val
        out[p, 1] = val
        out[p, 2] = val


def shade_board(
    kind: str,
    prim: Rect,
    material: Checker,
    pix: np.ndarray,
    rays: np.ndarray,
    tflat: np.ndarray,
    ext: tuple[int, int, int, int],
    focal: float,
    light: np.ndarray,
    flat: dict[str, np.ndarray],
    room_c: float,
    depth_max: float,
) -> None:
    """Shade the hits ``pix`` (flat indices into the region ``ext`` of the frame) of a
    board ``prim`` (a Rect) printed with ``material`` (a Checker) into ``flat``, the
    region's flat output arrays, as the general path would."""
    n = pix.size
    region = np.array([ext[0], ext[2], ext[3] - ext[2]], np.int64)
    normal = prim.normal
    frame = np.array([prim.origin, normal, prim.ex, prim.ey], np.float32)
    u, v, width, cos_view = (np.empty(n, _F) for _ in range(4))
    printed = np.empty(n, np.bool_)
    board_geometry(pix, rays, tflat, region, frame, _F(focal), u, v, width, cos_view, printed)
    marks = np.zeros(n, _F)
    if material.marks is not None and kind != "depth":
        marks = material.marks.sample(u, v, width)
    square = _F(material.square)
    n32 = normal.astype(_F)
    pattern = np.array(
        [
            square,
            material.cols * material.square,
            material.rows * material.square,
            _F(0.5) / square,
            _F(2.0) * square,
            material.temp_c,
            material.warm_c - material.temp_c,
            material.temp_c - 1.0,
            room_c,
            depth_max,
            n32[0] * light[0] + n32[1] * light[1] + n32[2] * light[2],
        ],
        _F,
    )
    flat["labels"][pix] = 0
    main = flat[{"thermal": "temp", "depth": "z", "ir": "amp", "color": "rgb"}[kind]]
    skin = flat.get("skin", _NO_SKIN)
    drop = flat.get("drop", _NO_DROP)
    board_shade(
        KIND_CODE[kind],
        pix,
        rays,
        tflat,
        region,
        u,
        v,
        width,
        cos_view,
        printed,
        marks,
        pattern,
        main.reshape(len(main), -1),
        skin,
        drop,
    )


def warm_up() -> None:
    """Compile both kernels for the arrays a render hands them (the camera's rays
    read-only) into numba's cache: :func:`calibration.kernel_cache.warm_up` calls it at
    install, so that the demo's first board frame does not compile them (~2 s holding
    the interpreter) on the capture thread."""
    rays = np.zeros((2, 2, 3), _F)
    rays[..., 2] = 1.0
    rays.setflags(write=False)
    plate = Rect(1, np.array([0.0, 0.0, 2.0]), np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))
    flat = {"labels": np.zeros(4, np.uint8), "temp": np.zeros(4, _F), "skin": np.zeros(4, _F)}
    pix, tflat = np.arange(4, dtype=np.int64), np.full(4, 2.0, _F)
    board = Checker("board", 3, 3, 0.04, 30.0, 22.0)
    shade_board(
        "thermal", plate, board, pix, rays, tflat, (0, 2, 0, 2), 500.0, rays[0, 0], flat, 22.0, 5.0
    )


__all__ = [
    "COLOR",
    "DEPTH",
    "IR",
    "KIND_CODE",
    "THERMAL",
    "board_geometry",
    "board_shade",
    "shade_board",
]
