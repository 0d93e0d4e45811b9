"""Benchmark of label transfer against librealsense's ``rs.align`` on the same frames.

``rs.align`` registers a depth frame into another camera (a z-buffered depth image in
that camera's pixels) and nothing more. :class:`calibration.projection.Projector`
does that (the "render" figure) and then the rest of a label transfer: flying-pixel
removal, hole filling, a second z-buffer in the label camera for occlusion tests, the
lookup of every target pixel's label, reason codes and confidences (the "transfer"
figure). Both run on the same depth frames, sizes, intrinsics (with distortion) and
extrinsics; librealsense gets them through a ``rs.software_device``, no camera needed.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator

import cv2
import numpy as np

from app.bench import Result, benchmark
from calibration.projection import Projector
from calibration.rig import Camera, Rig

DEPTH_SCALE = 0.001

#: (name, depth size, target size, target focal length per image width)
CASES = (
    ("640x480 depth -> 640x512 thermal", (640, 480), (640, 512), 1.2),
    ("848x480 depth -> 1280x720", (848, 480), (1280, 720), 0.72),
)
DEPTH_DIST = (-0.06, 0.03, 0.0004, -0.0002, 0.0)
TARGET_DIST = (-0.2, 0.06, 0.0006, -0.0004, 0.0)
COLOR_DIST = (0.05, 0.01, 0.0003, 0.0002, 0.0)


def _rotation_y(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])


def _camera(size: tuple[int, int], f_per_w: float, dist, x: float, yaw: float) -> Camera:
    w, h = size
    f = f_per_w * w
    T = np.eye(4)
    T[:3, :3] = _rotation_y(yaw)
    T[:3, 3] = (x, 0.01, -0.004)
    return Camera(w, h, [[f, 0, w / 2 - 0.5], [0, f, h / 2 - 0.5], [0, 0, 1]], dist, T)


def _rig(depth_size, target_size, f_per_w) -> Rig:
    return Rig(
        cameras={
            "depth": _camera(depth_size, 0.82, DEPTH_DIST, 0, 0),
            "thermal": _camera(target_size, f_per_w, TARGET_DIST, 0.082, -2.6),
            "color": _camera((1280, 720), 0.72, COLOR_DIST, -0.061, 1.8),
        }
    )


def _depth_frames(cam: Camera, n: int) -> list[np.ndarray]:
    """A wall at 2.8 m, a floor, and two legs at 1.1-1.5 m moving sideways; ToF noise."""
    w, h = cam.width, cam.height
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    x = (u - cam.K[0, 2]) / cam.K[0, 0]
    y = (v - cam.K[1, 2]) / cam.K[1, 1]
    rng = np.random.default_rng(0)
    frames = []
    for k in range(n):
        z = np.full((h, w), 2.8)
        floor = y > 0.05
        z[floor] = np.minimum(2.8, 0.7 / y[floor])
        for cx, cz, r in ((-0.08 + 0.01 * k, 1.1, 0.06), (0.12 - 0.01 * k, 1.5, 0.065)):
            # Ray/cylinder (vertical axis) intersection, nearest root.
            a = x * x + 1
            b = -2 * (cx * x + cz)
            c = cx * cx + cz * cz - r * r
            disc = b * b - 4 * a * c
            hit = (disc > 0) & (np.abs(y) < 0.35)
            zc = np.where(hit, (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a), np.inf)
            z = np.minimum(z, zc)
        z += rng.normal(0, 0.0015, z.shape) * (z / 1.5) ** 2
        d = np.rint(z / DEPTH_SCALE).astype(np.uint16)
        d[rng.random(d.shape) < 0.002] = 0
        frames.append(d)
    return frames


def _labels(cam: Camera, n_classes: int = 3) -> np.ndarray:
    lab = np.zeros((cam.height, cam.width), np.uint8)
    lab[:, cam.width // 3 : cam.width // 2] = 1
    lab[:, cam.width // 2 : 2 * cam.width // 3] = 2
    return lab


@contextlib.contextmanager
def _rs_aligner(rig: Rig, frames: list[np.ndarray]) -> Iterator[Callable[[], None] | None]:
    """A no-argument call of ``rs.align.process`` on the next of the framesets made
    from ``frames`` (round robin); None without pyrealsense2."""
    try:
        import pyrealsense2 as rs
    except ImportError:
        yield None
        return

    def intrinsics(cam: Camera):
        i = rs.intrinsics()
        i.width, i.height = cam.width, cam.height
        i.fx, i.fy, i.ppx, i.ppy = cam.K[0, 0], cam.K[1, 1], cam.K[0, 2], cam.K[1, 2]
        i.model = rs.distortion.brown_conrady
        i.coeffs = [float(c) for c in cam.dist[:5]]
        return i

    def stream(kind, uid, cam, bpp, fmt):
        s = rs.video_stream()
        s.type, s.index, s.uid = kind, 0, uid
        s.width, s.height, s.fps, s.bpp, s.fmt = cam.width, cam.height, 30, bpp, fmt
        s.intrinsics = intrinsics(cam)
        return s

    dcam, tcam = rig["depth"], rig["thermal"]
    dev = rs.software_device()
    ds, cs = dev.add_sensor("Depth"), dev.add_sensor("Color")
    dp = ds.add_video_stream(stream(rs.stream.depth, 0, dcam, 2, rs.format.z16))
    cp = cs.add_video_stream(stream(rs.stream.color, 1, tcam, 3, rs.format.rgb8))
    ds.add_read_only_option(rs.option.depth_units, DEPTH_SCALE)
    T = rig.T_dst_src("depth", "thermal")
    ex = rs.extrinsics()
    ex.rotation = [float(v) for v in T[:3, :3].T.reshape(-1)]  # column-major
    ex.translation = [float(v) for v in T[:3, 3]]
    dp.register_extrinsics_to(cp, ex)
    sync = rs.syncer(len(frames) + 2)
    ds.open(dp)
    cs.open(cp)
    ds.start(sync)
    cs.start(sync)
    color = np.zeros((tcam.height, tcam.width, 3), np.uint8)

    def push(sensor, profile, array, bpp, number):
        f = rs.software_video_frame()
        f.pixels, f.bpp, f.stride = array, bpp, array.shape[1] * bpp
        f.timestamp, f.frame_number = number * 33.0, number
        f.domain = rs.timestamp_domain.hardware_clock
        f.profile = profile.as_video_stream_profile()
        sensor.on_video_frame(f)

    sets = []
    try:
        for k, depth in enumerate(frames):
            push(ds, dp, depth, 2, k)
            push(cs, cp, color, 3, k)
            for _ in range(20):
                ok, fs = sync.try_wait_for_frames(200)
                if ok and fs.size() == 2:
                    fs.keep()
                    sets.append(fs)
                    break
        if not sets:
            yield None
            return
        align = rs.align(rs.stream.color)
        cycle = iter(range(10**9))

        def one() -> None:
            out = align.process(sets[next(cycle) % len(sets)])
            np.asanyarray(out.get_depth_frame().get_data())

        yield one
    finally:
        for s in (ds, cs):
            s.stop()
            s.close()


def _interleaved(calls: dict[str, Callable[[], None]], repeat: int) -> dict[str, float]:
    """Median seconds per call of each of ``calls``, timed in turns (one call of each
    per round, after two untimed rounds): on a machine other work loads unevenly, each
    figure then sees the same load, so their ratio holds even when the figures move."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for k in range(repeat + 2):
        for name, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            if k >= 2:
                times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(t)) for name, t in times.items()}


def _cycling(fn, items: list) -> object:
    """A no-argument call of ``fn`` on the next of ``items`` each time (round robin)."""
    state = {"k": 0}

    def call() -> None:
        fn(items[state["k"] % len(items)])
        state["k"] += 1

    return call


def _case(name: str, dsize, tsize, f_per_w: float, repeat: int) -> list[Result]:
    rig = _rig(dsize, tsize, f_per_w)
    frames = _depth_frames(rig["depth"], 6)
    labels = _labels(rig["color"])
    proj = Projector(rig, DEPTH_SCALE)
    calls = {
        "render": _cycling(proj.dst_render.render, frames),
        "transfer": _cycling(lambda d: proj.transfer_labels(d, labels, 3), frames),
    }
    with _rs_aligner(rig, frames) as align:
        if align is not None:
            calls["rs.align"] = align
        t = _interleaved(calls, repeat)
    t_rs = 1e3 * t["rs.align"] if "rs.align" in t else None
    peer = "rs.align" if t_rs is not None else ""
    threads = f"OpenCV threads {cv2.getNumThreads()}; timed in turns with the peer"
    note = threads if t_rs is not None else f"{threads}; no pyrealsense2, no peer"
    labeled = 1.0 - proj.transfer_labels(frames[0], labels, 3).unknown_share
    return [
        Result(
            "projection",
            f"{name}: depth z-buffer only",
            1e3 * t["render"],
            "ms/frame",
            peer,
            t_rs,
            note,
        ),
        Result(
            "projection",
            f"{name}: full label transfer",
            1e3 * t["transfer"],
            "ms/frame",
            peer,
            t_rs,
            f"+flying pixels, holes, occlusion, reasons, confidence; {100 * labeled:.0f}% labeled",
        ),
    ]


@benchmark("projection")
def bench_projection(quick: bool) -> list[Result]:
    """Per frame, median of repeated calls on six distinct depth frames."""
    repeat = 10 if quick else 60
    out: list[Result] = []
    for name, dsize, tsize, f_per_w in CASES:
        out += _case(name, dsize, tsize, f_per_w, repeat)
    return out
