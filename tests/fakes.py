"""A tiny deterministic rig for tests: thermal, depth and colour frames with truth.

Pixels and truth depend only on (seed, stream, frame index), so a test can check any
recorded frame against :func:`fake_pixels` / :func:`fake_truth` without keeping the
source around — even in another process (the SIGKILL test records from
``python -m tests.fakes live-record PATH``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np

from drivers.base import BaseDriver, SourceInfo
from drivers.errors import EndOfStream
from drivers.truth import DEFAULT_CLASSES, DEFAULT_KEYPOINTS
from drivers.types import Frame, Intrinsics, StreamSpec

STREAM_IDS = {"thermal": 1, "depth": 2, "color": 3}
#: Device frame counters need not start at 0; thermal's starts at 100.
INDEX_OFFSET = {"thermal": 100, "depth": 0, "color": 0}
BOARD = "charuco:5x7:0.04:0.03:DICT_5X5_100"


def fake_specs(scale: int = 1, fps: dict[str, float] | None = None) -> dict[str, StreamSpec]:
    """Small streams of distinct shapes; ``scale`` multiplies every side."""
    fps = {"thermal": 9.0, "depth": 15.0, "color": 15.0, **(fps or {})}
    th_h, th_w = 12 * scale, 16 * scale
    k = ((20.0 * scale, 0.0, th_w / 2), (0.0, 20.0 * scale, th_h / 2), (0.0, 0.0, 1.0))
    return {
        "thermal": StreamSpec(
            "thermal",
            "thermal",
            (th_h, th_w),
            "uint16",
            "centikelvin",
            fps["thermal"],
            intrinsics=Intrinsics(th_w, th_h, k, (0.1, -0.05, 0.0, 0.0, 0.0)),
            device="fake-thermal-001",
        ),
        "depth": StreamSpec(
            "depth",
            "depth",
            (10 * scale, 14 * scale),
            "uint16",
            "depth_units",
            fps["depth"],
            depth_scale=0.001,
            device="fake-tof-002",
        ),
        "color": StreamSpec(
            "color", "color", (18 * scale, 24 * scale, 3), "uint8", "rgb", fps["color"]
        ),
    }


def fake_pixels(spec: StreamSpec, index: int, seed: int = 0) -> np.ndarray:
    """The frame ``index`` of ``spec``'s stream, the same in every process."""
    rng = np.random.default_rng([seed, STREAM_IDS[spec.name], index])
    hi = {"uint16": 65535, "uint8": 255}[spec.dtype]
    return rng.integers(0, hi + 1, size=spec.shape, dtype=spec.dtype)


def fake_truth(spec: StreamSpec, index: int, seed: int = 0, board: bool = True) -> dict:
    rng = np.random.default_rng([seed, STREAM_IDS[spec.name], index, 7])
    keypoints = rng.uniform(0, spec.width, (len(DEFAULT_KEYPOINTS), 2)).astype(np.float32)
    keypoints[index % len(DEFAULT_KEYPOINTS)] = np.nan  # one point hidden per frame
    truth = {
        "labels": rng.integers(0, len(DEFAULT_CLASSES), spec.shape[:2], dtype=np.uint8),
        "keypoints": keypoints,
    }
    if board:
        pose = np.eye(4)
        pose[:3, 3] = rng.uniform(-1, 1, 3)
        truth["board_pose"] = pose
    return truth


def fake_meta(stream: str, index: int) -> dict | None:
    """Telemetry like a thermal camera's (numpy values included); others send none."""
    if stream != "thermal":
        return None
    return {"ffc": index % 5 == 0, "fpa_temp_c": 30.5 + index / 64, "counter": np.uint32(index)}


#: Widths of the fake streams at scale 1 (fake_specs): the focal length grows with the
#: scale as the image does (20 px at scale 1), so that every scale is a plausible camera.
_BASE_WIDTH = {"thermal": 16, "depth": 14, "color": 24}


def fake_rig(specs: dict[str, StreamSpec]) -> dict:
    cams = {}
    for n, s in specs.items():
        t = np.eye(4)
        t[0, 3] = 0.05 * STREAM_IDS[n]
        f = 20.0 * s.width / _BASE_WIDTH[n]
        cams[n] = {
            "width": s.width,
            "height": s.height,
            "K": [[f, 0, s.width / 2], [0, f, s.height / 2], [0, 0, 1]],
            "dist": [0.0] * 5,
            "T_ref_cam": t.tolist(),
        }
    return {"reference": "depth", "cameras": cams, "created": "2024-01-01T00:00:00+00:00"}


class FakeRig(BaseDriver):
    """Three streams at their own rates, merged in timestamp order.

    Offline (default): timestamps start at ``t0`` and follow the nominal rates exactly,
    and the source ends after ``duration`` seconds. ``live=True``: frames are paced on
    the monotonic clock and stamped with it, like a camera; ``duration=None`` never ends.
    ``on_end`` is called once when the source runs out.
    """

    def __init__(
        self,
        arg: str = "rig",
        *,
        duration: float | None = 1.0,
        live: bool = False,
        scale: int = 1,
        fps: dict[str, float] | None = None,
        truth: bool = True,
        board: bool = True,
        seed: int = 0,
        t0: float = 1000.0,
        on_end: Callable[[], None] | None = None,
    ):
        super().__init__(f"fake:{arg}")
        self.realtime = live
        self.duration = duration
        self.seed = seed
        self.board = board
        self.with_truth = truth
        self.on_end = on_end
        self._t0 = t0
        self._specs = fake_specs(scale, fps)
        self._n = {n: 0 for n in self._specs}
        self._phase = {n: 0.001 * k for k, n in enumerate(self._specs)}

    def open(self) -> None:
        self._streams = dict(self._specs)
        rig = fake_rig(self._specs)
        truth = None
        if self.with_truth:
            truth = {
                "rig": rig,
                "classes": list(DEFAULT_CLASSES),
                "keypoints": list(DEFAULT_KEYPOINTS),
                "board": BOARD if self.board else None,
            }
        self._info = SourceInfo(
            spec=self._spec,
            activity="cycling",
            devices={n: s.device for n, s in self._specs.items()},
            rig=rig,
            truth=truth,
        )

    def start(self) -> None:
        if self.realtime and not self._running:
            self._t0 = time.monotonic()
        super().start()

    def _due(self, name: str) -> float:
        return self._t0 + self._phase[name] + self._n[name] / self._streams[name].fps

    def _next_frame(self, timeout: float | None) -> Frame | None:
        name = min(self._streams, key=self._due)
        due = self._due(name)
        if self.duration is not None and due >= self._t0 + self.duration:
            if self.on_end is not None:
                self.on_end()
                self.on_end = None
            raise EndOfStream(self._spec)
        timestamp = due
        if self.realtime:
            wait = due - time.monotonic()
            if timeout is not None and wait > timeout:
                time.sleep(timeout)
                return None
            if wait > 0:
                time.sleep(wait)
            timestamp = time.monotonic()
        spec = self._streams[name]
        index = self._n[name] + INDEX_OFFSET[name]
        self._n[name] += 1
        return Frame(
            stream=name,
            index=index,
            timestamp=timestamp,
            array=fake_pixels(spec, index, self.seed),
            device_timestamp=index * 1000.0 / spec.fps if name == "depth" else None,
            truth=fake_truth(spec, index, self.seed, self.board) if self.with_truth else None,
            meta=fake_meta(name, index),
        )


def write_fake_session(
    path, rig: FakeRig | None = None, *, codec: str = "blosc2-lz4", marks=(), **kwargs
) -> list[Frame]:
    """Write every frame of ``rig`` (default: 1 s of FakeRig) with SessionWriter;
    returns the frames written, in order."""
    from drivers.recorder import SessionWriter

    rig = rig or FakeRig(duration=1.0)
    rig.open()
    frames = []
    kwargs = {"subject": "S01", "notes": "fake session", "min_free_bytes": 0, **kwargs}
    with SessionWriter(path, rig.streams, rig.info, codec=codec, **kwargs) as writer:
        for frame in rig.frames():
            writer.write(frame)
            frames.append(frame)
        for t, text in marks:
            writer.mark(t, text)
    return frames


def _live_record(path: str) -> None:
    """Record a live 30 fps fake rig until killed; prints one line once recording."""
    from drivers.recorder import record

    told = []

    def progress(_value: float, stats: dict) -> None:
        if not told and sum(stats["written"].values()) > 0:
            told.append(True)
            print("recording", flush=True)

    rig = FakeRig(live=True, duration=None, scale=4, fps=dict.fromkeys(STREAM_IDS, 30.0))
    rig.open()
    record(rig, path, progress=progress, flush_interval=0.25, min_free_bytes=0)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "live-record":
        _live_record(sys.argv[2])
    else:
        sys.exit("usage: python -m tests.fakes live-record PATH")
