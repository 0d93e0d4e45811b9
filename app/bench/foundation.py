"""Benchmarks of the capture path: synthetic rendering, recording, replay, sync."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from app.bench import Result, benchmark
from drivers.errors import EndOfStream
from drivers.types import Frame


def _drain(driver) -> tuple[list[Frame], float]:
    """Every frame of an opened finite driver, and the seconds it took; closes it."""
    frames: list[Frame] = []
    t0 = time.perf_counter()
    while True:
        try:
            f = driver.read(timeout=None)
        except EndOfStream:
            break
        if f is not None:
            frames.append(f)
    elapsed = time.perf_counter() - t0
    driver.close()
    return frames, elapsed


def _render(scene: str, seconds: float, **kw) -> tuple[list[Frame], float, object]:
    from drivers.synthetic import open_synthetic

    driver = open_synthetic(scene, seed=0, realtime=False, duration=seconds, **kw)
    driver.open()
    frames, elapsed = _drain(driver)
    return frames, elapsed, driver


def _sets(frames: list[Frame]) -> float:
    """FrameSets in a list of frames of 3 streams: the pivot stream's frame count."""
    counts: dict[str, int] = {}
    for f in frames:
        counts[f.stream] = counts.get(f.stream, 0) + 1
    return float(min(counts.values())) if counts else 0.0


@benchmark("synthetic")
def bench_synthetic(quick: bool) -> list[Result]:
    """Render rate per scene: the first pass fills the per-phase cache, later passes reuse it."""
    seconds = 1.0 if quick else 3.0
    out = []
    for scene in ("cycling", "treadmill", "calibration"):
        frames, elapsed, _ = _render(scene, seconds)
        n = _sets(frames)
        out.append(
            Result(
                "synthetic",
                f"{scene} render, {seconds:g} s from cold",
                1e3 * elapsed / n,
                "ms/FrameSet",
                note=f"{n / elapsed:.1f} FrameSets/s",
            )
        )
    frames, elapsed, _ = _render("cycling", 10.0 if not quick else 2.0)
    n = _sets(frames)
    out.append(
        Result(
            "synthetic",
            f"cycling render, {10.0 if not quick else 2.0:g} s (cycle cached after 1st)",
            1e3 * elapsed / n,
            "ms/FrameSet",
            note=f"{n / elapsed:.1f} FrameSets/s (live needs 30)",
        )
    )
    return out


def _write_session(path: Path, frames: list[Frame], driver, codec: str) -> float:
    from drivers.recorder import SessionWriter

    t0 = time.perf_counter()
    with SessionWriter(path, driver.streams, driver.info, codec=codec) as w:
        for f in frames:
            w.write(f)
    return time.perf_counter() - t0


@benchmark("recorder")
def bench_recorder(quick: bool) -> list[Result]:
    """Write speed and size per codec on rendered frames (noisy, like real sensors).

    The peer is plain h5py with no compression (codec ``none``) in the same writer.
    """
    from drivers.recorder import CODECS

    frames, _, driver = _render("cycling", 1.0 if quick else 2.0)
    n = _sets(frames)
    # Synthetic sessions also store truth (labels, keypoints): count it as raw data too.
    raw = sum(f.array.nbytes + sum(v.nbytes for v in (f.truth or {}).values()) for f in frames)
    times: dict[str, float] = {}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for codec in CODECS:
            path = Path(tmp) / f"{codec}.h5"
            times[codec] = _write_session(path, frames, driver, codec)
            sizes[codec] = path.stat().st_size
    out = []
    base = times.get("none")
    for codec in CODECS:
        out.append(
            Result(
                "recorder",
                f"write {codec}",
                1e3 * times[codec] / n,
                "ms/FrameSet",
                peer="h5py uncompressed" if codec != "none" else "",
                peer_value=None if codec == "none" or base is None else 1e3 * base / n,
                note=f"{raw / times[codec] / 1e6:.0f} MB/s raw, size {sizes[codec] / raw:.2f} of raw",
            )
        )
    return out


@benchmark("replay")
def bench_replay(quick: bool) -> list[Result]:
    """Reading a recorded session back as fast as possible (seek-free sequential replay)."""
    from drivers.replay import ReplayDriver

    frames, _, driver = _render("cycling", 1.0 if quick else 3.0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.h5"
        _write_session(path, frames, driver, "blosc2-lz4")
        replay = ReplayDriver(str(path), realtime=False)
        replay.open()
        got, elapsed = _drain(replay)
    n = _sets(got)
    return [
        Result(
            "replay",
            "read blosc2-lz4 session",
            1e3 * elapsed / n,
            "ms/FrameSet",
            note=f"{n / elapsed:.0f} FrameSets/s",
        )
    ]


@benchmark("sync")
def bench_sync(quick: bool) -> list[Result]:
    """Cost of grouping free-running streams, per frame pushed."""
    from drivers.sync import Synchronizer
    from drivers.types import StreamSpec

    rng = np.random.default_rng(0)
    seconds = 20 if quick else 120
    specs = {
        n: StreamSpec(name=n, kind=n, shape=(1, 1), dtype="uint8", units="", fps=r)
        for n, r in (("thermal", 9.0), ("depth", 30.0), ("color", 30.0))
    }
    tiny = np.zeros((1, 1), np.uint8)
    frames = []
    for name, spec in specs.items():
        n = int(seconds * spec.fps)
        ts = np.sort(np.arange(n) / spec.fps + rng.uniform(-0.002, 0.002, n))
        frames += [Frame(name, i, float(t), tiny) for i, t in enumerate(ts)]
    frames.sort(key=lambda f: f.timestamp)
    sync = Synchronizer(specs)
    t0 = time.perf_counter()
    for f in frames:
        sync.push(f)
    sync.flush()
    elapsed = time.perf_counter() - t0
    return [
        Result(
            "sync",
            "push (thermal 9 Hz pivot, depth+color 30 Hz)",
            1e6 * elapsed / len(frames),
            "us/frame",
            note=f"{sync.stats.complete}/{sync.stats.sets} complete sets",
        )
    ]
