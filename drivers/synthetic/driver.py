"""The synthetic rig as a Driver: three free-running (or hardware-synced) cameras.

Each camera exposes on its own grid — its own rate, a constant offset and a little
trigger jitter — and the driver hands out frames of all streams merged in timestamp
order. Without ``realtime`` the host clock is virtual (starts at 0.0, frames come as
fast as they render); with it, frames are paced on ``time.monotonic()`` and a frame
later than ``max_lag_s`` is dropped, as a camera's full buffer would.

Every frame carries its ground truth (labels, keypoints, board pose) rendered from
the same state as its pixels. Periodic motion is quantized to ``phases_per_cycle``
phases per cycle (7.1 ms at 70 rpm, 5.4 ms per phase at 166 steps/min by default):
the image and its truth show the phase nearest the exposure instant.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from drivers.base import BaseDriver, SourceInfo
from drivers.errors import EndOfStream, SourceError
from drivers.synthetic.cache import CACHE
from drivers.synthetic.camera import CameraModel, invert, rig_dict
from drivers.synthetic.clock import DEVICE_EPOCH, CameraClock, hash_unit
from drivers.synthetic.config import SCENES, STREAM_ORDER, SyntheticConfig, camera_of
from drivers.synthetic.render import CameraRenderer, Layer
from drivers.synthetic.scenes import Scene, world_to_camera
from drivers.synthetic.sensor import DEPTH_SCALE
from drivers.synthetic.subjects import skin_change
from drivers.synthetic.world import build_world
from drivers.truth import DEFAULT_CLASSES, DEFAULT_KEYPOINTS
from drivers.types import Frame, StreamSpec

_UNITS = {
    "thermal": ("uint16", "centikelvin"),
    "depth": ("uint16", "depth_units"),
    "ir": ("uint16", "amplitude"),
    "color": ("uint8", "rgb"),
}
#: Per-stream number for noise offsets and the tie-break of frames exposed together
#: (thermal, depth, color keep the numbers they had before ``ir`` existed).
_STREAM_ID = {"thermal": 0, "depth": 1, "color": 2, "ir": 3}
_TIE_RANK = {"thermal": 0, "depth": 1, "ir": 2, "color": 3}


class SyntheticDriver(BaseDriver):
    """A rendered rig: ``thermal``, ``depth`` and ``color`` streams with ground truth,
    plus the depth camera's ``ir`` (amplitude) stream where enabled (calibration scene).

    ``ir`` frames come from the depth camera's exposures: same instants, same pixels.
    """

    def __init__(
        self,
        scene: str,
        config: SyntheticConfig | None = None,
        *,
        seed: int = 0,
        realtime: bool = True,
        duration: float | None = None,
        hw_sync: bool = False,
    ):
        super().__init__(f"synthetic:{scene}")
        if scene not in SCENES:
            raise SourceError(f"unknown synthetic scene '{scene}'; known: {', '.join(SCENES)}")
        if duration is not None and not duration > 0:
            raise SourceError(f"duration={duration} must be positive seconds (or None for endless)")
        self.scene_name = scene
        self.config = config or SyntheticConfig()
        self.seed = int(seed)
        self.realtime = bool(realtime)
        self.duration = None if duration is None else float(duration)
        self.hw_sync = bool(hw_sync)
        self.scene: Scene | None = None
        self.cameras: dict[str, CameraModel] = {}
        self._renderers: dict[str, CameraRenderer] = {}
        self._clocks: dict[str, CameraClock] = {}
        self.stream_names: tuple[str, ...] = ()
        self._next: dict[str, float] = {}
        self._last_offset: dict[str, int] = {}
        self._t0: float | None = None
        self._opened = False
        self.renders = 0
        self.render_s = 0.0
        self._stats_lock = threading.Lock()
        self._warm_stop = threading.Event()
        self._warm_thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------
    def open(self) -> None:
        if self._opened:
            return
        cfg = self.config
        CACHE.budget = cfg.cache_mb << 20
        self.cameras, self.scene, self._renderers = build_world(self.scene_name, self.seed, cfg)
        self.stream_names = cfg.streams(self.scene_name)
        rate = min(cfg.fps(s) for s in STREAM_ORDER)
        for name in self.stream_names:
            # A stream of another stream's camera shares its clock (same exposures).
            sid = STREAM_ORDER.index(camera_of(name))
            if self.hw_sync:
                clock = CameraClock(name, sid, rate, 0.0, 0.0, self.seed)
            else:
                clock = CameraClock(
                    name, sid, cfg.fps(name), cfg.offset_s(name), cfg.jitter_ms / 1000.0, self.seed
                )
            self._clocks[name] = clock
        self._streams = {name: self._stream_spec(name) for name in self.stream_names}
        board = self.scene.board.spec if self.scene.board is not None else None
        self._info = SourceInfo(
            spec=self._spec_str(),
            activity=self.scene_name,
            devices={n: s.device for n, s in self._streams.items()},
            rig=None,
            truth={
                "rig": rig_dict(self.cameras, board),
                "classes": list(DEFAULT_CLASSES),
                "keypoints": list(DEFAULT_KEYPOINTS),
                "board": board,
                "clock_error_ms": {n: 1000.0 * cfg.clock_error_s(n) for n in self.stream_names},
                **self._person_truth(),
            },
            hw_sync=self.hw_sync,
            extra={
                "seed": self.seed,
                "realtime": self.realtime,
                "duration": self.duration,
                "config": cfg.to_dict(),
                "time_resolution_s": self.time_resolution,
            },
        )
        self._reset_schedule()
        self._opened = True
        if self.realtime:
            self._start_prewarm()

    def _person_truth(self) -> dict[str, Any]:
        """A varied subject's parameters and the session's setup, for the truth."""
        scene = self.scene
        if scene is None or scene.subject is None or scene.setup is None:
            return {}
        return {
            "subject": scene.subject.to_dict(),
            "setup": scene.setup.to_dict(until=self.duration),
        }

    def _spec_str(self) -> str:
        return f"synthetic:{self.scene_name}"

    def _stream_spec(self, name: str) -> StreamSpec:
        cam = self.cameras[camera_of(name)]
        shape = (cam.height, cam.width, 3) if name == "color" else (cam.height, cam.width)
        dtype, units = _UNITS[name]
        return StreamSpec(
            name=name,
            kind=name,
            shape=shape,
            dtype=dtype,
            units=units,
            fps=self._clocks[name].fps,
            depth_scale=DEPTH_SCALE if name == "depth" else None,
            intrinsics=cam.intrinsics,
            device=f"synthetic-{name}",
        )

    def _reset_schedule(self) -> None:
        self._next = {}
        for name, clock in self._clocks.items():
            clock.index = 0
            self._queue(name)

    def _queue(self, name: str) -> None:
        clock = self._clocks[name]
        t = clock.at(clock.index)
        if self.duration is not None and t >= self.duration:
            self._next.pop(name, None)
        else:
            self._next[name] = t

    def start(self) -> None:
        if not self._opened:
            self.open()
        super().start()
        if self.realtime and self._t0 is None:
            self._t0 = time.monotonic()

    def close(self) -> None:
        super().close()
        self._warm_stop.set()
        if self._warm_thread is not None:
            self._warm_thread.join(timeout=5.0)
            self._warm_thread = None

    @property
    def time_resolution(self) -> float:
        """Seconds between rendered states of the motion (the phase step), 0 if exact."""
        assert self.scene is not None
        if self.scene_name == "calibration":
            return 0.01
        return float(self.scene.period) / self.config.phases_per_cycle

    # -- frames ---------------------------------------------------------------------
    def _next_frame(self, timeout: float | None) -> Frame | None:
        while True:
            if not self._next:
                raise EndOfStream(f"synthetic:{self.scene_name} ended after {self.duration} s")
            late = self.config.clock_error_s  # frames leave in host-timestamp order
            name = min(self._next, key=lambda n: (self._next[n] + late(n), _TIE_RANK[n]))
            t_scene = self._next[name]
            clock = self._clocks[name]
            if self.realtime:
                assert self._t0 is not None
                due = self._t0 + t_scene
                now = time.monotonic()
                if now - due > self.config.max_lag_s:
                    clock.index += 1
                    self._queue(name)
                    continue
                wait = due - now
                if wait > 0:
                    if timeout is not None and wait > timeout:
                        time.sleep(max(timeout, 0.0))
                        return None
                    time.sleep(wait)
            frame = self.render_frame(name, clock.index, t_scene)
            clock.index += 1
            self._queue(name)
            return frame

    def render_frame(self, name: str, index: int, t_scene: float) -> Frame:
        """Frame ``index`` of stream ``name``, exposed at scene time ``t_scene``."""
        assert self.scene is not None
        key, t_render = self.scene.key(t_scene)
        entry = self._entry(name, key, t_render)
        layer, keypoints = entry
        image, labels = self._compose(name, layer, t_scene, index)
        truth: dict[str, np.ndarray] = {"labels": labels, "keypoints": keypoints.copy()}
        board = self.scene.board_pose(t_render)
        if board is not None:
            cam = self.cameras[camera_of(name)]
            truth["board_pose"] = world_to_camera(self.scene, cam) @ board
        clock = self._clocks[name]
        host = t_scene + self.config.clock_error_s(name)
        host += self._t0 if self.realtime and self._t0 is not None else 0.0
        return Frame(
            stream=name,
            index=index,
            timestamp=host,
            array=image,
            device_timestamp=DEVICE_EPOCH[name]
            + self.seed % 97
            + index * clock.period
            + clock.offset,
            truth=truth,
        )

    def _entry(self, name: str, key, t_render: float) -> tuple[Layer, np.ndarray]:
        """The clean render (layer, keypoints) of one stream in one state, cached."""
        assert self.scene is not None
        scene = self.scene

        def make() -> tuple[tuple[Layer, np.ndarray], int]:
            t0 = time.perf_counter()
            layer = self._renderers[name].render(scene.dynamic_prims(t_render))
            keypoints = self._keypoints(name, t_render)
            with self._stats_lock:
                self.renders += 1
                self.render_s += time.perf_counter() - t0
            return (layer, keypoints), layer.nbytes + keypoints.nbytes

        if scene.transient(key):  # a state that never comes back: render, do not keep
            return make()[0]
        entry, _ = CACHE.get_or_make((self.scene_name, self.seed, self.config, name, key), make)
        return entry

    def prewarm(
        self,
        stop: threading.Event | None = None,
        start_at: float = 0.0,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Render every state the scene loops through (one cycle; every held board
        pose), all streams, starting at scene time ``start_at``; returns how many
        states were visited. Makes a later live run drop no frames to rendering.
        ``progress(done, total)`` is called after each state.
        """
        assert self.scene is not None
        states = self.scene.states()
        first = self.scene.key(start_at)[0]
        at = next((i for i, (k, _) in enumerate(states) if k == first), 0)
        done = 0
        for key, t_render in states[at:] + states[:at]:
            for name in self.stream_names:
                if stop is not None and stop.is_set():
                    return done
                self._entry(name, key, t_render)
            done += 1
            if progress is not None:
                progress(done, len(states))
        return done

    def _start_prewarm(self) -> None:
        """Realtime, if configured: fill the cache in the background from open() on."""
        if self._warm_thread is not None or not self.config.prewarm:
            return
        self._warm_stop.clear()

        def run() -> None:
            try:
                self.prewarm(self._warm_stop)
            except Exception:  # noqa: BLE001 - the reader renders on demand anyway
                pass

        self._warm_thread = threading.Thread(target=run, name="synthetic-prewarm", daemon=True)
        self._warm_thread.start()

    def _compose(
        self, name: str, layer: Layer, t_scene: float, index: int
    ) -> tuple[np.ndarray, np.ndarray]:
        r = self._renderers[name]
        image = r.final_static["image"].copy()
        labels = np.zeros(image.shape[:2], np.uint8)
        r0, r1, c0, c1 = layer.rect
        if r1 > r0:
            image[r0:r1, c0:c1] = layer.image
            labels[r0:r1, c0:c1] = layer.labels
            cents = int(round(self.warming(t_scene) * 100))
            if name == "thermal" and layer.skin is not None and cents != 0:
                add = (layer.skin.astype(np.uint32) * abs(cents) + 127) // 255
                if cents > 0:
                    image[r0:r1, c0:c1] += add.astype(np.uint16)
                else:  # sweat cooled the skin below where it started
                    image[r0:r1, c0:c1] -= add.astype(np.uint16)
        offset = int(hash_unit(self.seed, _STREAM_ID[name], index, 3) * (1 << 30))
        if offset == self._last_offset.get(name):
            offset += 1
        self._last_offset[name] = offset
        sensor = r.sensor
        if name == "thermal":
            image = sensor.thermal_frame(image, offset)
        elif name == "depth":
            image = sensor.depth_frame(image, offset)
        elif name == "ir":
            image = sensor.ir_frame(image, offset)
        else:
            image = sensor.color_frame(image, offset)
        return image, labels

    def warming(self, t_scene: float) -> float:
        """Skin warming (°C) after ``t_scene`` s: starts at the configured rate, saturates.
        A varied subject warms up on its own curve and sweat cools it (may be < 0)."""
        if self.scene is not None and self.scene.subject is not None:
            return skin_change(self.scene.subject, t_scene)
        rate = self.config.warming_c_per_min / 60.0
        top = self.config.warming_max_c
        if rate <= 0 or top <= 0:
            return 0.0
        return top * (1.0 - math.exp(-t_scene * rate / top))

    def _keypoints(self, name: str, t_render: float) -> np.ndarray:
        assert self.scene is not None
        pts = self.scene.points(t_render)
        out = np.full((len(DEFAULT_KEYPOINTS), 2), np.nan, np.float32)
        if not pts:
            return out
        cam = self.cameras[camera_of(name)]
        T = world_to_camera(self.scene, cam)
        P = np.array([pts[k] for k in DEFAULT_KEYPOINTS])
        uv = cam.project(P @ T[:3, :3].T + T[:3, 3])
        inside = cam.in_image(uv)
        out[inside] = uv[inside]
        return out

    # -- truth helpers --------------------------------------------------------------
    def scene_time(self, frame: Frame) -> float:
        """The instant (scene seconds) a frame's image and truth actually show."""
        assert self.scene is not None
        origin = (self._t0 or 0.0) if self.realtime else 0.0
        t = frame.timestamp - origin - self.config.clock_error_s(frame.stream)
        return self.scene.key(t)[1]

    def points_3d(self, frame: Frame) -> dict[str, np.ndarray]:
        """Named 3-D points (keypoints, ``*_calf_centre``) in the reference (depth) frame."""
        assert self.scene is not None
        T = invert(self.scene.T_world_ref)
        pts = self.scene.points(self.scene_time(frame))
        return {k: T[:3, :3] @ v + T[:3, 3] for k, v in pts.items()}

    def board_pose_ref(self, frame: Frame) -> np.ndarray | None:
        """T_ref_board at the frame's instant (calibration scene), else None."""
        assert self.scene is not None
        T = self.scene.board_pose(self.scene_time(frame))
        return None if T is None else invert(self.scene.T_world_ref) @ T

    def stats(self) -> dict[str, Any]:
        return {
            "renders": self.renders,
            "render_s": self.render_s,
            "cache_entries": len(CACHE),
            "cache_mb": CACHE.nbytes / 2**20,
        }


def open_synthetic(
    arg: str,
    *,
    seed: int = 0,
    realtime: bool = True,
    duration: float | None = None,
    hw_sync: bool = False,
    **config: Any,
) -> SyntheticDriver:
    """The factory behind ``synthetic:SCENE`` specs; returns the driver un-opened."""
    scene = (arg or "").strip().lower()
    if scene not in SCENES:
        shown = f"'{arg}'" if arg else "no scene"
        raise SourceError(
            f"unknown synthetic scene {shown}; use one of: "
            + ", ".join(f"synthetic:{s}" for s in SCENES)
        )
    return SyntheticDriver(
        scene,
        SyntheticConfig.from_options(config),
        seed=seed,
        realtime=realtime,
        duration=duration,
        hw_sync=hw_sync,
    )


def prepare_synthetic(
    arg: str,
    *,
    seed: int = 0,
    realtime: bool = True,
    duration: float | None = None,
    hw_sync: bool = False,
    **config: Any,
) -> None:
    """Build the world ``open_synthetic`` with the same arguments opens (kept per
    process): the head start of ``drivers.sources.head_start``."""
    del realtime, duration, hw_sync  # the schedule, not the world
    scene = (arg or "").strip().lower()
    if scene in SCENES:
        build_world(scene, int(seed), SyntheticConfig.from_options(config))
